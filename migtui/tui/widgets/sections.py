"""The sections navigator: every template section, with its completion like 3/5."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from migtui.tui.model import Section


class SectionsNav(OptionList):
    DEFAULT_CSS = """
    SectionsNav { width: 30; border: round $primary-darken-2; padding: 0; }
    SectionsNav:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class SectionChosen(Message):
        def __init__(self, section: Section) -> None:
            super().__init__()
            self.section = section

    def __init__(self, sections: list[Section], *, id: str | None = None) -> None:
        self.sections = sections
        self._completion: dict[str, tuple[int, int] | None] = {}
        super().__init__(*[Option(s.title, id=s.key) for s in sections], id=id)
        self.border_title = "Sections"

    def set_completion(self, completion: dict[str, tuple[int, int] | None]) -> None:
        self._completion = completion
        width = max(12, (self.scrollable_content_region.width or 24) - 1)
        for s in self.sections:
            c = completion.get(s.key)
            label = Text(s.title, overflow="ellipsis", no_wrap=True)
            if c is not None:
                done, total = c
                mark = f" {done}/{total}"
                style = "bold green" if total and done == total else (
                    "yellow" if done else "dim")
                label.truncate(width - len(mark), overflow="ellipsis")
                label.pad_right(width - len(mark) - label.cell_len)
                label.append(mark, style=style)
            else:
                label.truncate(width, overflow="ellipsis")
            self.replace_option_prompt(s.key, label)

    def on_resize(self) -> None:
        if self._completion:
            self.set_completion(self._completion)

    @property
    def current(self) -> Section | None:
        if self.highlighted is None:
            return None
        return self.sections[self.highlighted]

    def select_key(self, key: str) -> None:
        for i, s in enumerate(self.sections):
            if s.key == key:
                self.highlighted = i
                return

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.SectionChosen(self.sections[event.option_index]))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.SectionChosen(self.sections[event.option_index]))
