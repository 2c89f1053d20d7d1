"""Help: what each key does, and how the screen is laid out."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from migtui.tui.keys import help_rows


def key_table() -> str:
    """The keys as a Markdown table, from the one key table."""
    rows = "".join(f"| {shown} | {text} |\n" for shown, text in help_rows())
    return f"| Key | What it does |\n|---|---|\n{rows}"


HELP = f"""\
# migtui — keys

{key_table()}
## Panes
* **Sections**: every section of the plan template, with its completion (`3/5`).
* **Content**: the section's tables and checklists; on *Steps* and on phases, the steps
  with their state, transaction mode, elapsed time, retries and rows, and the highlighted
  step's SQL and rollback.
* **Gauges**: one per metric: value, baseline, alert (warn) and trigger (trip),
  a sparkline of recent minutes; the lock-wait list names the blockers.
* **Log**: the run log and the communication log.

Under 120 columns the gauges and the log are hidden: a one-line gauge strip stays at the
top; `g` and `l` show them in place of the content.

A production target asks you to type the database name once before the first change.
The database password is never shown.
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("help.tcss")
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
