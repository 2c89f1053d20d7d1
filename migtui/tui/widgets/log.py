"""The run log and the communication log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import RichLog

from migtui.secrets import scrub


class LogPane(Horizontal):
    DEFAULT_CSS = """
    LogPane { height: 10; }
    LogPane RichLog { border: round $primary-darken-3; width: 2fr; }
    LogPane #comm-log { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        run = RichLog(wrap=True, markup=False, max_lines=2000, min_width=20, id="run-log")
        run.border_title = "Run log"
        comm = RichLog(wrap=True, markup=False, max_lines=500, min_width=20, id="comm-log")
        comm.border_title = "Communication"
        yield run
        yield comm

    def write(self, when: str, text: str, style: str = "", channel: str = "run") -> None:
        line = Text(f"{when} ", style="dim")
        line.append(scrub(text), style=style)
        self.query_one("#comm-log" if channel == "communication" else "#run-log",
                       RichLog).write(line)
