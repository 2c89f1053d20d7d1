"""Help: what each key does, and how the screen is laid out."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# migtui — keys

| Key | What it does |
|---|---|
| `↑` `↓` / `j` `k` | move in the focused list |
| `Tab` / `Shift+Tab` | next / previous pane |
| `Space` / `Enter` | tick or untick the checklist item (journaled with you and the time) |
| `r` | run the highlighted checklist item's action (steps, check, command, baseline) |
| `x` | run the next pending step of this phase (or of the plan, on *Steps*) |
| `a` | run the whole phase: every bound item not yet ticked, in order |
| `p` | pause / resume the running step (at the next safe point) |
| `s` | skip the next pending step, with a reason (journaled) |
| `c` | cancel the running statement (`pg_cancel_backend`) |
| `R` | **roll back**: right away when a trigger tripped; otherwise asks first |
| `n` | add a timestamped note to the run log or the communication log |
| `e` | export the report: the filled-in plan (Markdown) next to the plan file |
| `h` | rehearse on staging: apply, verify, roll back, compare, re-apply (never production) |
| `g` | show / hide the gauges |
| `l` | show / hide the log |
| `Esc` | dismiss the trip banner |
| `Ctrl+P` | command palette: every action by name |
| `?` | this help |
| `q` | quit (asks first while a step runs); in the demo, `Ctrl+C` too |

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
