"""``migtui trace``: apply a plan on a scratch database with every statement traced, then
roll it back traced too, and say where the lint's prediction and the measurement differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.control import RunControl
from migtui.events import Emit
from migtui.fmt import shorten
from migtui.lint import TableSizes, lint_plan
from migtui.plan.model import Plan
from migtui.runner import Runner
from migtui.trace.compare import project_cost
from migtui.trace.model import StatementTrace
from migtui.trace.tracer import Tracer


@dataclass
class TraceReport:
    plan_id: str
    database: str
    applied: bool = False
    rolled_back: bool = False
    message: str = ""
    traces: list[StatementTrace] = field(default_factory=list)
    costs: dict[int, str] = field(default_factory=dict)  # index into traces → projection

    @property
    def disagreements(self) -> list[StatementTrace]:
        return [t for t in self.traces if t.disagreements]

    @property
    def ok(self) -> bool:
        return self.applied and (self.rolled_back or not self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "database": self.database, "applied": self.applied,
                "rolled_back": self.rolled_back, "message": self.message,
                "statements": [dict(t.to_dict(), projection=self.costs.get(i))
                               for i, t in enumerate(self.traces)],
                "disagreements": sum(len(t.disagreements) for t in self.traces)}

    def text(self) -> str:
        return "\n".join(describe(self.traces, self.costs))


def trace_plan(plan: Plan, dsn: str, *, emit: Emit | None = None,
               control: RunControl | None = None, keep: bool = False,
               operator: str = "operator", production: TableSizes | None = None,
               workdir: str | None = None) -> TraceReport:
    """Apply every step traced, then (unless ``keep``) roll every step back traced."""
    from migtui.db import database_name

    findings = lint_plan(plan)
    tracer = Tracer(dsn, findings)
    report = TraceReport(plan_id=plan.id or plan.title, database=database_name(dsn))
    with Runner(plan, dsn, emit=emit, control=control, operator=operator, tracer=tracer,
                workdir=workdir) as runner:
        out = runner.apply()
        report.applied = out.status == "done"
        report.message = "" if report.applied else out.message
        if report.applied and not keep:
            back = runner.rollback(reason="trace: roll back what the trace applied")
            report.rolled_back = back.status == "rolled_back"
            report.message = "" if report.rolled_back else back.message
    report.traces = tracer.traces
    for i, tr in enumerate(report.traces):
        top = tr.strongest
        size = production.get(top.relation) if production and top else None
        target = size.rows if size is not None else None
        cost = project_cost(tr, tr.rows, target, where=f"database {report.database}")
        if cost:
            report.costs[i] = cost
    return report


def describe(traces: list[StatementTrace], costs: dict[int, str] | None = None) -> list[str]:
    """One block per statement: what it took, what changed, and whether the lint agreed."""
    lines: list[str] = []
    for i, tr in enumerate(traces):
        head = shorten(tr.statement, 70)
        pass_ = "rollback" if tr.which == "rollback" else "apply"
        lines.append(f"{tr.step_id} ({pass_}, line {tr.line}): {head}")
        top = tr.strongest
        held = f" for {tr.held_seconds:.3f} s" if tr.held_seconds is not None else ""
        how = ", sampled from a second connection" if tr.sampled else ""
        lines.append(f"  took {top.mode} on {top.kind} {top.relation}{held}{how}" if top
                     else "  took no lock on an existing relation")
        others = [str(lk) for lk in tr.locks if lk != top]
        if others:
            lines.append(f"  also: {'; '.join(others)}")
        if tr.rewritten:
            lines.append(f"  rewrote: {', '.join(tr.rewritten)}")
        if tr.changes:
            lines.append(f"  changed: {'; '.join(tr.changes)}")
        if costs and i in costs:
            lines.append(f"  cost: {costs[i]}")
        if tr.disagreements:
            lines += [f"  ✗ lint disagrees: {d}" for d in tr.disagreements]
        else:
            lines.append(f"  ✓ as the lint predicted ({tr.predicted_lock}"
                         f"{', rewrite' if tr.predicted_rewrite else ''})")
    return lines
