"""Modals: a yes/no confirmation, a typed confirmation (the database name), a text prompt."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static

CSS = Path(__file__).with_name("modals.tcss")


class ConfirmModal(ModalScreen[bool]):
    """Enter or y confirms; Esc or n declines."""

    CSS_PATH = CSS
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, body: str, yes: str = "Yes", danger: bool = False) -> None:
        super().__init__(classes="-danger" if danger else "")
        # a dangerous question starts on "No"; focused by the screen when it is shown
        self.AUTO_FOCUS = "#no" if danger else "#yes"
        self.title_text = title
        self.body = body
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes",
                             variant="error" if self.has_class("-danger") else "primary")
                yield Button("No (n)", id="no")
            # the red button is not the default: say what Enter does (seen by hand: a DBA
            # pressed Enter meaning "roll back", and the banner stayed up)
            yield Label(self.hint(), classes="dialog-hint")

    def hint(self) -> str:
        if self.has_class("-danger"):
            return f"Enter answers No · y: {self.yes} · n or Esc: No"
        return f"Enter: {self.yes} · n or Esc: No"


    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class TypedConfirmModal(ModalScreen[bool]):
    """Production: type the database name to go on."""

    CSS_PATH = CSS
    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, expected: str) -> None:
        super().__init__(classes="-danger")
        self.title_text = title
        self.body = body
        self.expected = expected

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            yield Input(placeholder=f"type {self.expected} and press Enter", id="typed")
            yield Label("", id="typed-error", classes="dialog-error")


    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)
        else:
            self.query_one("#typed-error", Label).update(
                f"That is not {self.expected!r}. Type it exactly, or Esc to cancel.")
            event.input.value = ""

    def action_cancel(self) -> None:
        self.dismiss(False)


CHANNELS = (("run", "run log"), ("communication", "communication log (for stakeholders)"))


class ChannelChoice(Static, can_focus=False):
    """Where a note goes, both choices written out and the chosen one marked: no checkbox
    whose look can be misread. Tab (or a click) switches."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.channel = "run"

    def on_mount(self) -> None:
        self.show()

    def switch(self) -> None:
        self.channel = "communication" if self.channel == "run" else "run"
        self.show()

    def show(self) -> None:
        t = Text("To: ")
        for i, (key, label) in enumerate(CHANNELS):
            if i:
                t.append("   ")
            chosen = key == self.channel
            t.append(f"{'(•)' if chosen else '( )'} {label}",
                     style="bold reverse" if chosen else "dim")
        self.update(t)

    def on_click(self) -> None:
        self.switch()
        self.screen.query_one("#prompt-hint", Label).update(self.hint())

    def hint(self) -> str:
        label = dict(CHANNELS)[self.channel].split(" (")[0]
        return f"Enter saves to the {label} · Tab switches · Esc cancels"


class PromptModal(ModalScreen[tuple[str, str] | None]):
    """A line of text (a note, a reason). Optionally: the run log or the communication log,
    switched with Tab; Enter always saves."""

    CSS_PATH = CSS
    AUTO_FOCUS = "Input"
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("tab,shift+tab", "switch_channel", "Switch log", priority=True)]

    def __init__(self, title: str, placeholder: str, channel_choice: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.channel_choice = channel_choice

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="prompt")
            if self.channel_choice:
                choice = ChannelChoice(id="channel")
                yield choice
                yield Label(choice.hint(), id="prompt-hint", classes="dialog-hint")
            else:
                yield Label("Enter saves · Esc cancels", id="prompt-hint",
                            classes="dialog-hint")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "switch_channel":
            return self.channel_choice  # without a choice, Tab keeps its meaning
        return True

    def action_switch_channel(self) -> None:
        choice = self.query_one(ChannelChoice)
        choice.switch()
        self.query_one("#prompt-hint", Label).update(choice.hint())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        channel = self.query_one(ChannelChoice).channel if self.channel_choice else "run"
        self.dismiss((text, channel))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[int | None]):
    """Pick one of a few options: Enter picks the highlighted one, Esc cancels."""

    CSS_PATH = CSS
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, options: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            yield OptionList(*self.options, id="choices")
            yield Label("Enter picks · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReportModal(ModalScreen[None]):
    """A long text (a rehearsal report), scrollable; Esc, q or Enter closes it."""

    CSS_PATH = CSS
    AUTO_FOCUS = "VerticalScroll"
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, title: str, text: str, ok: bool = True) -> None:
        super().__init__(classes="" if ok else "-danger")
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog report"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="report-body"):
                yield Static(Text(self.text))
            yield Label("↑↓ scroll · Esc closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
