"""The phase view: each step with status, transaction mode, elapsed, retries and rows;
the highlighted step's SQL (highlighted) and rollback; a backfill progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.cells import cell_len
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
from migtui.execution.describe import changed_text, limit_text
from migtui.execution.step_traces import StepTraces
from migtui.fmt import rows_counted, shorten_middle
from migtui.lint import Finding
from migtui.plan.model import Step
from migtui.tui.model import STATE_ICON, StepRow, secs, short, transaction_mode
from migtui.tui.widgets.findings import findings_renderable, lint_cell, traces_renderable

STATE_STYLE = {"applied": "green", "failed": "bold red", "running": "bold yellow",
               "rolling_back": "bold magenta", "rolled_back": "magenta", "skipped": "dim",
               "pending": "", "unknown": "dim"}
# The columns, in the order shown: (key, header, right-aligned). The step's kind shows in
# Mode (batch, read, shell, manual) and, in full, in the detail's title.
COLUMNS = (("st", "State", False), ("id", "Step", False), ("mode", "Mode", False),
           ("elapsed", "Time", True), ("rows", "Rows", True), ("retries", "Retry", True),
           ("lint", "Lint", False))
# A pane too narrow for every column drops these, first first: Mode and Lint are in the
# highlighted step's detail too; State and Step always stay.
DROPPED_FIRST = ("mode", "lint", "retries", "rows", "elapsed")
STEP_MIN = 12  # the Step column is cut (with an ellipsis) down to this before a drop
LABELS = {k: label for k, label, _right in COLUMNS}
RIGHT = {k for k, _label, right in COLUMNS if right}
MODE_SHORT = {"transaction": "txn", "autocommit": "auto", "batches": "batch",
              "read only": "read", "operator": "manual"}

Layout = tuple[tuple[str, int, int], ...]  # shown columns: key, width, gap after it


FindingsOf = Callable[[str], Sequence[Finding]]
TracesOf = Callable[[str], StepTraces | None]


def sql_view(code: str) -> Syntax:
    return Syntax(code.strip(), "sql", theme="ansi_dark", word_wrap=True,
                  background_color="default")


def fit_columns(natural: dict[str, int], width: int) -> Layout:
    """The columns that fit ``width`` cells, and their widths: each column as wide as its
    widest cell, two spaces apart (one when that is what fits). When they do not fit,
    Mode goes first (whole step ids matter more); then the Step column is cut, with an
    ellipsis, down to ``STEP_MIN``; then columns go in ``DROPPED_FIRST`` order. Never a
    horizontal scrollbar: the table is read at a glance, at 3 a.m., over SSH."""
    keys = [k for k, _label, _right in COLUMNS]
    step_min = min(natural["id"], STEP_MIN)
    for dropped in range(len(DROPPED_FIRST) + 1):
        shown = [k for k in keys if k not in DROPPED_FIRST[:dropped]]
        need = sum(natural[k] for k in shown)
        for gap in (2, 1):
            spare = width - need - gap * (len(shown) - 1)
            cut = gap == 1 and dropped > 0 and natural["id"] + spare >= step_min
            if spare >= 0 or cut:
                return tuple((k, natural[k] + (min(0, spare) if k == "id" else 0),
                              gap if i < len(shown) - 1 else 0)
                             for i, k in enumerate(shown))
    state = natural["st"]
    return (("st", state, 1), ("id", max(1, width - state - 1), 0))


def _cell_len(cell: RenderableType) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


class StepsTable(DataTable):
    """The steps: state, id, mode, time, rows, retries and lint, sized to the pane (see
    ``fit_columns``) and laid out again when the pane's width or a cell's width changes."""

    DEFAULT_CSS = """
    StepsTable { height: auto; max-height: 14; border: none;
                 border-top: round $primary-darken-2; }
    StepsTable:focus { border-top: round $accent; }
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
        super().__init__(cursor_type="row", zebra_stripes=False,  # type: ignore[arg-type]
                         cell_padding=0, **kw)
        self.findings = findings
        self.steps = steps
        self.step_rows = rows
        self.clock = clock
        self.border_title = " Steps "  # on a top rule, which pads no title
        self.layout_shown: Layout = ()

    def on_mount(self) -> None:
        self._lay_out(self._values())

    def on_resize(self) -> None:
        self._lay_out(self._values())

    def _values(self) -> dict[str, dict[str, RenderableType]]:
        return {s.id: dict(zip((k for k, _l, _r in COLUMNS), self._cells(s), strict=True))
                for s in self.steps}

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
        mode = transaction_mode(s)
        return [Text(f"{icon} {label}", style=STATE_STYLE.get(state, "")), Text(s.id),
                Text(MODE_SHORT.get(mode, mode)), secs(elapsed), rows_counted(r.rows),
                str(r.retries) if r.retries else "", lint_cell(self.findings(s.id))]

    def _natural(self, values: dict[str, dict[str, RenderableType]]) -> dict[str, int]:
        width = {k: cell_len(label) for k, label in LABELS.items()}
        for cells in values.values():
            for k, cell in cells.items():
                width[k] = max(width[k], _cell_len(cell))
        return width

    def _available(self) -> int:
        """The cells a row has: the table's width less the vertical scrollbar it shows
        when the steps outnumber its lines (max-height)."""
        width = self.content_region.width
        max_height = self.styles.max_height
        if max_height is not None and max_height.is_cells:
            lines = int(max_height.value) - self.styles.gutter.height
            if len(self.steps) + self.header_height > lines:
                width -= self.styles.scrollbar_size_vertical
        return max(0, width)

    def _lay_out(self, values: dict[str, dict[str, RenderableType]]) -> None:
        """Fit the columns to the width; rebuild the table when the fit changed."""
        layout = fit_columns(self._natural(values), self._available())
        if layout == self.layout_shown and self.row_count == len(self.steps):
            return
        row = self.cursor_row
        self.layout_shown = layout
        self.clear(columns=True)
        for key, width, gap in layout:
            self.add_column(_cell(Text(LABELS[key]), key, width, gap), width=width + gap,
                            key=key)
        for s in self.steps:
            self.add_row(*(_cell(values[s.id][key], key, width, gap)
                           for key, width, gap in layout), key=s.id)
        if self.steps:
            self.move_cursor(row=min(row, len(self.steps) - 1), animate=False)

    def refresh_rows(self) -> None:
        if self.row_count < len(self.steps):
            return  # not mounted yet: on_mount adds the rows with their current state
        values = self._values()
        before = self.layout_shown
        self._lay_out(values)
        if self.layout_shown != before:
            return  # laid out again, with these values
        for s in self.steps:
            for key, width, gap in self.layout_shown:
                self.update_cell(s.id, key, _cell(values[s.id][key], key, width, gap))

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


def _cell(value: RenderableType, key: str, width: int, gap: int) -> Text:
    """A cell as shown in its column: the Step cut to ``width`` with an ellipsis in the
    middle (ids often share a prefix and differ at the end: ``backfill_o…_part_2``),
    numbers on the right, ``gap`` spaces before the next column."""
    text = value.copy() if isinstance(value, Text) else Text(str(value))
    if key == "id" and text.cell_len > width:
        text = Text(shorten_middle(text.plain, width), style=text.style)
    if key in RIGHT:  # padded here: Rich's right justification drops trailing spaces
        text = Text.assemble(" " * max(0, width - text.cell_len), text, " " * gap)
    return text


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
            + changed_text(e)
            + f" · {e.rate:,.0f} rows/s · ETA {secs(e.eta)}"
            + (f" · batch {e.batch_size:,}" if e.batch_size else "") + thr)

    def finish(self) -> None:
        self.remove_class("-active")
