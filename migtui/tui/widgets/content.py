"""The content pane: the selected section's tables (DataTable), checklists and steps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from migtui.plan.model import Metric, Plan, Step
from migtui.tui.model import Section, StepRow, checklist_map, phase_steps
from migtui.tui.widgets.checklist import ChecklistView, IsDone, LastResult
from migtui.tui.widgets.steps import FindingsOf, StepDetail, StepsTable, TracesOf


class PlanTable(Static):
    """A table of the plan, as wide as the pane: long cells wrap, nothing is cut and
    nothing needs scrolling sideways."""

    DEFAULT_CSS = """
    PlanTable { height: auto; margin: 0 0 1 0; }
    """

    def __init__(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                 ) -> None:
        super().__init__()
        self.border_title = title
        self._plan_columns = list(columns)
        self._plan_rows = [[c if isinstance(c, Text) else str(c if c is not None else "")
                            for c in r] for r in rows] \
            or [["(none)"] + [""] * (len(columns) - 1)]
        self.update(self._table())

    @property
    def row_count(self) -> int:
        return len(self._plan_rows)

    def get_row_at(self, index: int) -> list[Text | str]:
        return self._plan_rows[index]

    def _table(self) -> PlanGrid:
        return PlanGrid(str(self.border_title), self._plan_columns, self._plan_rows)


class PlanGrid:
    """A plan table that fits the width it is given: columns sized by Rich from their
    words (no word is cut while the words fit), and, in a pane too narrow for every column's
    longest word, one record per row ("Column: value" lines, as psql's expanded display)."""

    def __init__(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                 ) -> None:
        self.title, self.columns, self.rows = title, list(columns), rows

    def longest(self) -> list[int]:
        """Each column's longest word (up to 16), its header's included."""
        out = []
        for i, c in enumerate(self.columns):
            cells = [str(c), *(str(r[i]) for r in self.rows if i < len(r))]
            out.append(min(16, max((len(w) for x in cells for w in x.split()), default=1)))
        return out

    def needed(self) -> int:
        """The narrowest width at which every column holds its longest word."""
        return sum(self.longest()) + 3 * len(self.columns) + 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.max_width >= self.needed():
            t = Table(title=self.title, title_justify="left", title_style="bold",
                      box=box.ROUNDED, border_style="grey50", expand=True, show_lines=False,
                      row_styles=["", "dim"] if len(self.rows) > 3 else None)
            # a floor per column: Rich shares the width out evenly and cut "Description"
            # into "Descriptio/n" while a column of short words had room to spare
            for c, least in zip(self.columns, self.longest(), strict=True):
                t.add_column(c, overflow="fold", min_width=least)
            for r in self.rows:
                t.add_row(*r)
            yield t
            return
        yield Text(self.title, style="bold")
        for n, r in enumerate(self.rows, 1):
            yield Text(f"─ {n} " + "─" * max(0, options.max_width - 4 - len(str(n))),
                       style="grey50")
            for c, v in zip(self.columns, r, strict=False):
                line = Text(f"{c}: ", style="bold")
                line.append(v if isinstance(v, Text) else str(v))
                yield line


class ContentPane(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    ContentPane { border: round $primary-darken-2; padding: 0 1;
                  scrollbar-size-vertical: 1; }
    ContentPane .heading { text-style: bold; margin: 0 0 1 0; }
    """

    def __init__(self, plan: Plan, *, is_done: IsDone, last: LastResult,
                 rows: dict[str, StepRow], clock: Callable[[], float],
                 communication: Callable[[], list[dict[str, Any]]],
                 findings: FindingsOf = lambda _step_id: [],
                 traces: TracesOf = lambda _step_id: None,
                 risks: Callable[[], dict[str, Any]] = dict,
                 baseline: Callable[[Metric], str] = lambda _m: "", id: str | None = None
                 ) -> None:
        super().__init__(id=id)
        self.baseline = baseline
        self.findings = findings
        self.traces = traces
        self.risks = risks
        self.plan = plan
        self.is_done = is_done
        self.last = last
        self.rows = rows
        self.clock = clock
        self.communication = communication
        self.section: Section | None = None
        self._swap_lock = asyncio.Lock()
        self.border_title = "Content"

    def show(self, section: Section) -> None:
        """Swap in a section's widgets. Swaps run one after another, never interleaved:
        removing children is asynchronous, and a quick second swap must not mount its
        widgets before the first one's are gone."""
        self.section = section
        self.border_title = section.title
        self.run_worker(self._swap(section), group="content-swap")

    async def _swap(self, section: Section) -> None:
        async with self._swap_lock:
            if self.section is not section:
                return  # a newer swap is queued behind us: skip this one
            await self.remove_children()
            await self.mount_all(self._widgets(section))
            self.scroll_home(animate=False)
            # a section of plain tables (Schema Changes, Risks…) has nothing to focus: the
            # pane itself takes the focus then, so Tab, arrows and PageDown reach what is
            # below the fold without a mouse; with checklists or steps, they take it
            self.can_focus = not any(w.can_focus for w in self.walk_children())

    def _checklists(self, section: Section) -> list[Widget]:
        lists = checklist_map(self.plan)
        out: list[Widget] = []
        for key in section.checklists:
            heading, items = lists[key]
            if heading == section.title:  # the pane's own border already says it
                heading = "Checklist"
            out.append(ChecklistView(key, heading, items, self.is_done, self.last))
        return out

    def _steps(self, section: Section) -> list[Widget]:
        steps = phase_steps(self.plan, section.phase)
        if not steps:
            return [Static(Text("This phase runs no steps.", style="dim"))]
        table = StepsTable(steps, self.rows, clock=self.clock, findings=self.findings)
        detail = StepDetail()
        self._detail(detail, steps[0])
        return [table, detail]

    def _risk(self, t: Any) -> str:
        """The author's risk level, else the one derived from the lint's findings."""
        if t.risk is not None:
            return f"{t.risk.value} (author: {t.risk_reason})" if t.risk_reason else t.risk.value
        level, reason = self.risks().get(t.table, (None, ""))
        return f"{getattr(level, 'value', level)} ({reason})" if level else ""

    def _widgets(self, s: Section) -> list[Widget]:  # noqa: C901 - one branch per section
        p = self.plan
        k = s.key
        if k == "overview":
            info = Text()
            info.append(p.title, style="bold")
            info.append(f"\n{p.type.label} · agent {p.agent}"
                        + (f" · {p.date.isoformat()}" if p.date else ""))
            targets = ", ".join(f"{n} ({t.environment.value}"
                                + (f", database {t.database}" if t.database else "") + ")"
                                for n, t in p.targets.items())
            info.append(f"\ntargets: {targets}", style="dim")
            return [Static(info, classes="heading"), *self._checklists(s)]
        if k == "schema":
            sc = p.schema_changes
            return [
                PlanTable("Tables to modify", ("Table", "Change", "Description", "Risk"),
                          [(t.table, t.change, t.description, self._risk(t)) for t in
                           sc.tables_to_modify]),
                PlanTable("New tables", ("Table", "Purpose", "Relationships", "Indexes"),
                          [(t.table, t.purpose, t.relationships, t.indexes)
                           for t in sc.new_tables]),
                PlanTable("Fields", ("Table", "Field", "Action", "Type", "Default"),
                          [(f.table, f.field, f.action, f.type, f.default) for f in sc.fields]),
            ]
        if k == "steps" or s.phase is not None:
            return [*self._checklists(s), *self._steps(s)]
        if k == "data_migration":
            return [PlanTable("Data to migrate",
                              ("Source", "Destination", "Transformation", "Volume"),
                              [(d.source, d.destination, d.transformation, d.volume)
                               for d in p.data_migration.data]), *self._checklists(s)]
        if k == "risks":
            return [
                PlanTable("High-risk areas", ("Risk", "Impact", "Probability", "Mitigation"),
                          [(r.risk, r.impact, r.probability, r.mitigation)
                           for r in p.risks.high_risk_areas]),
                PlanTable("Rollback triggers", ("Trigger", "Metric", "Above", "For", "Policy"),
                          [(t.label, t.metric.label if t.metric else "manual",
                            t.above or "", f"{t.for_:g}s", t.policy)
                           for t in p.risks.rollback_triggers]),
            ]
        if k == "code_changes":
            cols = ("File", "Change", "Description", "Testing")
            return [PlanTable("Backend", cols, [(c.file, c.change, c.description, c.testing)
                                                for c in p.code_changes.backend]),
                    PlanTable("Frontend", cols, [(c.file, c.change, c.description, c.testing)
                                                 for c in p.code_changes.frontend])]
        if k == "monitoring":
            m = p.monitoring
            return [
                PlanTable("Metrics", ("Metric", "Alert", "For", "Baseline", "Action"),
                          [(a.metric.label, a.alert, f"{a.for_:g}s",
                            self._baseline(a.metric, a.baseline), a.action)
                           for a in m.metrics]),
                PlanTable("Probes, smoke and integrity queries", ("Kind", "Query", "Expect"),
                          [("probe", q, "") for q in m.probes]
                          + [("smoke", q, "succeeds") for q in m.smoke]
                          + [("integrity", c.name or c.sql, str(c.expect))
                             for c in m.integrity]),
            ]
        if k == "timeline":
            return [PlanTable("Timeline", ("Phase", "Duration", "Dependencies", "Criteria"),
                              [(t.phase, t.duration, t.dependencies, t.criteria)
                               for t in p.timeline])]
        if k == "communication":
            rows = [(str(c.at)[:16].replace("T", " "), c.author, c.text)
                    for c in p.communication]
            rows += [(str(c.get("at", ""))[:16].replace("T", " "), c.get("author", ""),
                      c.get("text", "")) for c in self.communication()]
            return [PlanTable("Communication log", ("When", "Who", "What"), rows)]
        return list(self._checklists(s))

    def _baseline(self, metric: Metric, planned: str | None) -> str:
        """The recorded baseline (median) when there is one, beside the plan's."""
        recorded = self.baseline(metric)
        if recorded and planned:
            return f"{recorded} (plan: {planned})"
        return recorded or planned or ""

    # ---------------------------------------------------------------- live updates

    def refresh_section(self, *keys: str) -> None:
        """Rebuild the shown section when it is one of ``keys`` (its tables are drawn
        from values that just changed: the communication log, the baseline)."""
        if self.section is not None and self.section.key in keys:
            self.show(self.section)

    def refresh_checklists(self) -> None:
        for cl in self.query(ChecklistView):
            cl.refresh_items()

    def refresh_step_rows(self) -> None:
        """The steps tables' rows only (not the highlighted step's detail)."""
        for t in self.query(StepsTable):
            t.refresh_rows()

    def refresh_steps(self) -> None:
        self.refresh_step_rows()
        table = next(iter(self.query(StepsTable)), None)
        if table is not None and table.current is not None:
            cur = table.current
            self._detail(self.query_one(StepDetail), cur)

    def on_steps_table_step_highlighted(self, event: StepsTable.StepHighlighted) -> None:
        self._detail(self.query_one(StepDetail), event.step)

    def _detail(self, detail: StepDetail, step: Step) -> None:
        """A step's SQL, rollback, lint findings and the locks its rehearsal measured."""
        detail.show_step(step, self.rows.get(step.id), self.findings(step.id),
                         self.traces(step.id))
