"""``migtui serve``: the real app in a browser through textual-serve (see cmd_serve)."""
