"""The rehearsal's listener: forwards every event and keeps each pass's per-step figures, and
the gauges over the rehearsal (``GaugeSample`` from the run's own ``GaugeRecorder``, with
the baseline, trips and rollbacks the plots mark); and the lock traces of the first apply
and rollback, with their production projection."""

from __future__ import annotations

from typing import Any

from migtui.events import (
    Emit,
    Event,
    StepFailed,
    StepFinished,
    StepRetried,
    StepSkipped,
    StepStarted,
    ThresholdChanged,
)
from migtui.lint import TableSizes
from migtui.plan import Plan
from migtui.plots.series import RECORD_KINDS, GaugeSeries
from migtui.rehearsal.report import PassResult, StepStats
from migtui.runner.context import Timeouts
from migtui.sampler.gauge_samples import DEFAULT_EVERY, GaugeRecorder
from migtui.trace import project_cost
from migtui.trace.model import StatementTrace


class Recorder:
    """Forwards every event, and keeps per-step figures of the current pass. As the Watch's
    ``on_snapshot``, it feeds a ``GaugeRecorder`` wired as a run's (``execution.run``):
    its ``GaugeSample`` events pass through here, forwarded and kept for the plots."""

    def __init__(self, plan: Plan, emit: Emit, gauge_every: float = DEFAULT_EVERY) -> None:
        self.plan = plan
        self.emit = emit
        self.current: PassResult | None = None
        self.step: StepStats | None = None
        self.trips: list[str] = []
        self.gauges = GaugeRecorder(self, every=gauge_every)
        self._plotted: list[dict[str, Any]] = []

    @property
    def gauge_records(self) -> list[dict[str, Any]]:
        """The records the plots need, in order; none when no gauge sample was taken."""
        recs = list(self._plotted)
        return recs if any(r["kind"] == "GaugeSample" for r in recs) else []

    def __call__(self, e: Event) -> None:
        self.gauges.on_event(e)
        if e.kind in RECORD_KINDS and GaugeSeries.reads(rec := e.to_record()):
            self._plotted.append(rec)
        p = self.current
        if p is not None:
            if isinstance(e, StepStarted):
                kind = self.plan.step(e.step_id).kind
                self.step = p.steps[e.step_id] = StepStats(e.step_id, kind, status="running")
            elif isinstance(e, StepRetried) and self.step is not None:
                lock = Timeouts.for_step(self.plan, self.plan.step(e.step_id)).lock
                self.step.lock_wait += lock + e.delay
            elif isinstance(e, StepFinished) and e.step_id in p.steps:
                s = p.steps[e.step_id]
                s.status, s.elapsed, s.rows = "done", e.elapsed, e.rows
                s.retries, s.result = e.retries, e.result
                self.step = None
            elif isinstance(e, StepFailed):
                s = p.steps.setdefault(e.step_id, StepStats(
                    e.step_id, self.plan.step(e.step_id).kind))
                s.status, s.elapsed, s.retries = "failed", e.elapsed, e.retries
                s.error = e.error
                self.step = None
            elif isinstance(e, StepSkipped):
                p.steps[e.step_id] = StepStats(e.step_id, self.plan.step(e.step_id).kind,
                                               status="skipped", result=e.reason)
        if isinstance(e, ThresholdChanged) and e.state == "trip":
            self.trips.append(f"{e.trigger or e.metric} ({e.policy or 'offer'}, "
                              f"value {e.value!r}, limit {e.limit!r})")
        self.emit(e)

    def on_snapshot(self, snap: Any) -> None:
        self.gauges.on_snapshot(snap)
        s = self.step
        wait = getattr(snap, "longest_wait", None)
        if s is not None and wait is not None:
            s.longest_lock_wait = max(s.longest_lock_wait or 0.0, float(wait))


def first_traces(traces: list[StatementTrace], database: str,
                 production: TableSizes | None) -> list[dict[str, Any]]:
    """The first apply and the first rollback of each statement (the re-apply repeats them),
    with what each measured lock would cost on production's table sizes."""
    seen: set[tuple[str, str, int]] = set()
    out: list[dict[str, Any]] = []
    for tr in traces:
        key = (tr.step_id, tr.which, tr.index)
        if key in seen:
            continue
        seen.add(key)
        top = tr.strongest
        size = production.get(top.relation) if production is not None and top else None
        cost = project_cost(tr, tr.rows, size.rows if size else None,
                            where=f"staging ({database})")
        out.append(dict(tr.to_dict(), projection=cost))
    return out
