"""The run log and the communication log."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import RichLog

from migtui.secrets import scrub


class LogPane(Horizontal):
    DEFAULT_CSS = """
    LogPane { height: 10; }
    LogPane RichLog { border: round $primary-darken-3; width: 3fr; }
    LogPane #comm-log { width: 2fr; }
    """
    MAX = {"run-log": 2000, "comm-log": 500}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # every line, kept to wrap again at the new width: a RichLog wraps a line once, at
        # the width it has when written (a note written while the pane was hidden, or in a
        # narrow one, lost its letters: "16:15:44 Backfil")
        self._lines: dict[str, list[Text]] = {k: [] for k in self.MAX}
        self._widths: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        run = RichLog(wrap=True, markup=False, max_lines=2000, min_width=12, id="run-log")
        run.border_title = "Run log"
        comm = RichLog(wrap=True, markup=False, max_lines=500, min_width=12, id="comm-log")
        comm.border_title = "Communication"
        yield run
        yield comm

    def write(self, when: str, text: str, style: str = "", channel: str = "run") -> None:
        line = Text(f"{when} ", style="dim")
        line.append(scrub(text), style=style)
        key = "comm-log" if channel == "communication" else "run-log"
        kept = self._lines[key]
        kept.append(line)
        del kept[:-self.MAX[key]]
        self.query_one(f"#{key}", RichLog).write(line)

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        """Write every kept line again where the log's width changed."""
        for key, kept in self._lines.items():
            log = self.query_one(f"#{key}", RichLog)
            width = log.scrollable_content_region.width
            if width <= 0 or self._widths.get(key) == width:
                continue
            self._widths[key] = width
            log.clear()
            for line in kept:
                log.write(line)
