"""A checklist of the template: Space or Enter ticks an item; r runs a bound item."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from migtui.plan.model import ChecklistItem
from migtui.tui.model import action_text, short

IsDone = Callable[[str, ChecklistItem], bool]
LastResult = Callable[[str], tuple[str, str] | None]


class ChecklistView(OptionList):
    DEFAULT_CSS = """
    ChecklistView { height: auto; max-height: 20; border: round $primary-darken-2;
                    padding: 0; margin: 0 0 1 0; }
    ChecklistView:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("space", "toggle", "Tick", show=True),
        Binding("enter", "toggle", "Tick", show=False),
        Binding("r", "run_item", "Run item", show=True),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class ItemToggled(Message):
        """The operator ticked (or unticked) an item."""

        def __init__(self, checklist: str, item: ChecklistItem, done: bool) -> None:
            super().__init__()
            self.checklist = checklist
            self.item = item
            self.done = done

    class ItemRunRequested(Message):
        """The operator asked to run a bound item's action."""

        def __init__(self, checklist: str, item: ChecklistItem) -> None:
            super().__init__()
            self.checklist = checklist
            self.item = item

    def __init__(self, key: str, heading: str, items: list[ChecklistItem], is_done: IsDone,
                 last: LastResult) -> None:
        self.key = key
        self.items = items
        self._is_done = is_done
        self._last = last
        super().__init__(*[Option(self._prompt(i), id=i.key) for i in items],
                         id=f"cl-{key.replace('.', '-')}")
        self.border_title = heading

    def _prompt(self, item: ChecklistItem) -> Text:
        done = self._is_done(self.key, item)
        t = Text()
        t.append("[x] " if done else "[ ] ", style="bold green" if done else "bold")
        t.append(item.text, style="dim" if done else "")
        if item.run is not None:
            t.append(f"\n    ▸ {action_text(item)}", style="cyan")
            last = self._last(f"{self.key}/{item.key}")
            if last is not None:
                status, text = last
                style = {"ok": "green", "failed": "bold red"}.get(status, "yellow")
                t.append(f"\n    last: {status} — {short(text, 70)}", style=style)
        if item.note:
            t.append(f"\n    note: {short(item.note, 70)}", style="italic dim")
        return t

    def refresh_items(self) -> None:
        for item in self.items:
            self.replace_option_prompt(item.key, self._prompt(item))

    @property
    def current(self) -> ChecklistItem | None:
        return None if self.highlighted is None else self.items[self.highlighted]

    def action_toggle(self) -> None:
        item = self.current
        if item is not None:
            self.post_message(self.ItemToggled(self.key, item, not self._is_done(self.key, item)))

    def action_run_item(self) -> None:
        item = self.current
        if item is None:
            return
        if item.run is None:
            self.notify("This item has no action: tick it with Space when it is done.",
                        severity="warning")
            return
        self.post_message(self.ItemRunRequested(self.key, item))
