"""The phase view: each step with status, transaction mode, elapsed, retries and rows;
the highlighted step's SQL (highlighted) and rollback; a backfill progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, ProgressBar, Static

from migtui.events import StepProgress
from migtui.execution.describe import limit_text
from migtui.execution.step_traces import StepTraces
from migtui.lint import Finding
from migtui.plan.model import Step
from migtui.tui.model import STATE_ICON, StepRow, secs, short, transaction_mode
from migtui.tui.widgets.findings import findings_renderable, lint_cell, traces_renderable

STATE_STYLE = {"applied": "green", "failed": "bold red", "running": "bold yellow",
               "rolling_back": "bold magenta", "rolled_back": "magenta", "skipped": "dim",
               "pending": "", "unknown": "dim"}
# the step's kind shows in Mode (batches, read only, shell, operator) and in the detail
COLUMNS = (("st", "State"), ("id", "Step"), ("mode", "Mode"), ("elapsed", "Elapsed"),
           ("rows", "Rows"), ("retries", "Retries"), ("lint", "Lint"))


FindingsOf = Callable[[str], Sequence[Finding]]
TracesOf = Callable[[str], StepTraces | None]


def sql_view(code: str) -> Syntax:
    return Syntax(code.strip(), "sql", theme="ansi_dark", word_wrap=True,
                  background_color="default")


class StepsTable(DataTable):
    DEFAULT_CSS = """
    StepsTable { height: auto; max-height: 14; border: round $primary-darken-2; }
    StepsTable:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    class StepHighlighted(Message):
        def __init__(self, step: Step) -> None:
            super().__init__()
            self.step = step

    def __init__(self, steps: list[Step], rows: dict[str, StepRow],
                 clock: Callable[[], float] = time.monotonic,
                 findings: FindingsOf = lambda _step_id: [], **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)  # type: ignore[arg-type]
        self.findings = findings
        self.steps = steps
        self.step_rows = rows
        self.clock = clock
        self.border_title = "Steps"

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        for s in self.steps:
            self.add_row(*self._cells(s), key=s.id)

    def _cells(self, s: Step) -> list[RenderableType]:
        r = self.step_rows.get(s.id, StepRow())
        state = r.state
        icon = STATE_ICON.get(state, "?")
        elapsed = r.elapsed
        if state in ("running", "rolling_back") and r.started_mono is not None:
            elapsed = self.clock() - r.started_mono
        label = state.replace("_", " ")
        if state == "running" and r.statements > 1:
            label += f" {r.statement}/{r.statements}"
        return [Text(f"{icon} {label}", style=STATE_STYLE.get(state, "")), s.id,
                transaction_mode(s), secs(elapsed),
                f"{r.rows:,}" if r.rows is not None else "",
                str(r.retries) if r.retries else "", lint_cell(self.findings(s.id))]

    def refresh_rows(self) -> None:
        if self.row_count < len(self.steps):
            return  # not mounted yet: on_mount adds the rows with their current state
        for s in self.steps:
            for (key, _label), value in zip(COLUMNS, self._cells(s), strict=True):
                self.update_cell(s.id, key, value, update_width=True)

    @property
    def current(self) -> Step | None:
        if not self.steps or self.cursor_row is None or self.cursor_row >= len(self.steps):
            return None
        return self.steps[self.cursor_row]

    @on(DataTable.RowHighlighted)
    def _row(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if self.current is not None:
            self.post_message(self.StepHighlighted(self.current))


class StepDetail(Static):
    DEFAULT_CSS = """
    StepDetail { height: auto; border: round $primary-darken-3; padding: 0 1; }
    """

    def show_step(self, step: Step | None, row: StepRow | None = None,
                  findings: Sequence[Finding] = (), traces: StepTraces | None = None
                  ) -> None:
        if step is None:
            self.update("")
            return
        self.border_title = f"{step.id} · {step.kind} · {transaction_mode(step)}"
        parts: list[RenderableType] = []
        if step.description:
            parts.append(Text(step.description, style="italic"))
        if step.sql is not None:
            parts.append(sql_view(step.sql))
        elif step.backfill is not None:
            bf = step.backfill
            where = f" AND ({bf.where})" if bf.where else ""
            parts.append(sql_view(f"UPDATE {bf.table} SET {bf.set}\n WHERE {bf.key} > $last "
                                  f"AND {bf.key} <= $upper{where};"))
            parts.append(Text(f"keyset batches from {bf.batch_size} rows, one transaction each",
                              style="dim"))
        elif step.check is not None:
            parts.append(sql_view(step.check.sql))
            exp = f"expect {step.check.expect}" if step.check.expect is not None else ""
            cap = f" capture @{step.check.capture}" if step.check.capture else ""
            parts.append(Text(f"{exp}{cap}".strip(), style="cyan"))
        elif step.command is not None:
            parts.append(Text(f"$ {step.command.run}", style="bold"))
        else:
            parts.append(Text(f"manual: {step.manual}", style="bold"))
        if step.rollback_sql is not None:
            parts.append(Text("rollback:", style="bold magenta"))
            parts.append(sql_view(step.rollback_sql))
        elif (rb := step.rollback_backfill) is not None:
            parts.append(Text("rollback, in keyset batches:", style="bold magenta"))
            rwhere = f" AND ({rb.where})" if rb.where else ""
            parts.append(sql_view(f"UPDATE {rb.table} SET {rb.set}\n WHERE {rb.key} > $last "
                                  f"AND {rb.key} <= $upper{rwhere};"))
        elif step.irreversible is not None:
            parts.append(Text(f"irreversible: {step.irreversible}", style="bold red"))
        if row is not None and row.result:
            style = "red" if row.state == "failed" else "green"
            parts.append(Text(f"last result: {short(row.result, 300)}", style=style))
        if step.sql is not None or step.rollback is not None or findings:
            parts.append(findings_renderable(findings))
            parts.append(traces_renderable(traces))
        self.update(Group(*parts))


class BackfillProgress(Vertical):
    DEFAULT_CSS = """
    BackfillProgress { height: auto; display: none; padding: 0 1; }
    BackfillProgress.-active { display: block; }
    BackfillProgress Horizontal { height: 1; }
    BackfillProgress ProgressBar { width: auto; }
    BackfillProgress #bf-label { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("", id="bf-step")
            yield ProgressBar(total=None, show_eta=False, id="bf-bar")
        yield Label("", id="bf-label")

    def show_progress(self, e: StepProgress) -> None:
        self.add_class("-active")
        self.query_one("#bf-step", Label).update(f"{e.step_id} ")
        bar = self.query_one("#bf-bar", ProgressBar)
        total = max(e.total or 0, e.done) or None
        bar.update(total=total, progress=e.done)
        tail = limit_text(e)
        thr = f" · {tail}" if tail else ""
        self.query_one("#bf-label", Label).update(
            (f"{e.done:,}/{e.total:,} rows" if e.total is not None else f"{e.done:,} rows")
            + f" · {e.rate:,.0f} rows/s · ETA {secs(e.eta)}"
            + (f" · batch {e.batch_size:,}" if e.batch_size else "") + thr)

    def finish(self) -> None:
        self.remove_class("-active")
