"""The demo's story, played without a TTY (``migtui demo --headless``).

baseline → a safe column → a concurrent index → a backfill that throttles under load →
a step that goes bad for real → the trigger trips → rollback → the gauges recover →
the report. It measures how long detection, rollback and recovery took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.control import RunControl
from migtui.document import export_markdown
from migtui.events import Event, EventBus, ThresholdChanged
from migtui.journal import Journal, journal_path, read_journal
from migtui.plan import Plan
from migtui.runner import Runner
from migtui.sampler import Guard, Sampler
from migtui.state import RunState

SAFE_STEPS = ["add_status", "index_created_at", "backfill_status"]
BAD_STEP = "drop_customer_index"


@dataclass
class StoryReport:
    baseline_latency: float | None = None
    trip: dict[str, Any] | None = None
    detection_seconds: float | None = None  # bad step finished → trip event
    reaction_seconds: float | None = None  # trip → first rollback statement
    rollback_seconds: float | None = None  # rollback start → finished
    recovery_seconds: float | None = None  # rollback finished → latency ok again
    rollback_ok: bool = False
    recovered: bool = False
    throttled: bool = False
    report_path: Path | None = None
    events: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        def s(v: float | None) -> str:
            return "—" if v is None else f"{v:.1f}s"

        trip = self.trip or {}
        lines = [
            "── demo summary " + "─" * 50,
            f"backfill throttled under load: {'yes' if self.throttled else 'no'}",
            (f"trip: {trip.get('trigger') or trip.get('metric')} — value "
             f"{_fmt(trip.get('metric'), trip.get('value'))} against limit "
             f"{_fmt(trip.get('metric'), trip.get('limit'))} (baseline "
             f"{_fmt(trip.get('metric'), trip.get('baseline'))})") if trip else "trip: none",
            f"detection (bad step done → trip): {s(self.detection_seconds)}",
            f"reaction (trip → first rollback statement): {s(self.reaction_seconds)}",
            f"rollback: {'ok' if self.rollback_ok else 'FAILED'} in {s(self.rollback_seconds)}",
            f"recovery (rollback done → latency ok): "
            f"{s(self.recovery_seconds) if self.recovered else 'not within the wait'}",
        ]
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        return lines


def _fmt(metric: Any, value: Any) -> str:
    if value is None:
        return "—"
    if metric in ("latency", "lock_waits"):
        return f"{float(value) * 1000:.1f} ms"
    if metric in ("error_rate", "connection_pool", "disk"):
        return f"{float(value):.1f}%"
    return f"{value}"


def play(plan: Plan, plan_path: Path, url: str, *, say: Callable[[str], None],
         on_event: Callable[[Event], None] | None = None, baseline_seconds: float | None = None,
         trip_wait: float = 90.0, recovery_wait: float = 60.0,
         operator: str = "demo-presenter") -> StoryReport:
    """Play the story against ``url`` (traffic must already be running)."""
    report = StoryReport()
    control = RunControl()
    bus = EventBus()
    jpath = journal_path(plan_path, plan.id or "demo")
    jpath.unlink(missing_ok=True)  # every demo run tells the story from the start
    journal = Journal(jpath)
    bus.subscribe(journal)
    if on_event is not None:
        bus.subscribe(on_event)

    tripped = threading.Event()
    first_rollback_stmt = threading.Event()
    times: dict[str, float] = {}

    def watch(ev: Event) -> None:
        kind = type(ev).__name__
        if kind == "StepProgress" and getattr(ev, "throttled", ""):
            report.throttled = True
        if kind == "StatementStarted" and getattr(ev, "action", "") == "rollback" \
                and not first_rollback_stmt.is_set():
            times["first_rollback_stmt"] = time.monotonic()
            first_rollback_stmt.set()

    bus.subscribe(watch)

    def on_trip(ev: ThresholdChanged) -> None:
        if not tripped.is_set():
            times["trip"] = time.monotonic()
            report.trip = ev.to_record()
            tripped.set()

    guard = Guard(plan, emit=bus, control=control, on_trip=on_trip)
    sampler = Sampler(plan, url, on_snapshot=guard.observe)
    runner = Runner(plan, url, emit=bus, control=control, operator=operator,
                    workdir=plan_path.parent)
    try:
        runner.open()
        leftovers = [s.step_id for s in runner.status() if s.state == "applied"]
        if leftovers:
            say(f"an earlier demo left {len(leftovers)} steps applied: rolling them back first")
            runner.rollback(reason="clean start for the demo")
        sampler.start()
        seconds = baseline_seconds or _baseline_seconds(plan)
        say(f"1. capturing the performance baseline for {seconds:g}s while the app runs …")
        baseline = sampler.capture_baseline(seconds, emit=bus)
        guard.baseline = baseline
        report.baseline_latency = baseline.median("latency")
        say(f"   baseline latency p95 median: {_fmt('latency', report.baseline_latency)}")

        say("2–4. the safe steps: a column, a concurrent index, a throttled backfill")
        outcome = runner.apply(SAFE_STEPS)
        if outcome.status != "done":
            say(f"the safe steps did not finish: {outcome.status} {outcome.message}")
            return report
        say("5. the step that goes bad: dropping an index the app still needs")
        outcome = runner.apply([BAD_STEP])
        times["bad_done"] = time.monotonic()
        if not tripped.wait(trip_wait):
            say(f"no trigger tripped within {trip_wait:g}s")
            return report
        report.detection_seconds = times["trip"] - times["bad_done"]
        say("6. the rollback trigger tripped; 7. rolling back (headless: offer acts as "
            "rollback)")
        control.reset()
        t0 = time.monotonic()
        rb = runner.rollback(reason=f"trigger tripped: {report.trip and report.trip.get('trigger')}")
        t1 = time.monotonic()
        report.rollback_ok = rb.status in ("rolled_back", "done")
        report.rollback_seconds = t1 - t0
        if first_rollback_stmt.is_set():
            report.reaction_seconds = times["first_rollback_stmt"] - times["trip"]
        say("8. waiting for the gauges to recover …")
        ok = _wait(lambda: guard.states["latency"].state == "ok", recovery_wait)
        report.recovered = ok
        if ok:
            report.recovery_seconds = time.monotonic() - t1
        say("9. exporting the report")
        state = RunState.from_records(read_journal(jpath))
        out = plan_path.parent / "demo-report.md"
        out.write_text(export_markdown(plan, state), encoding="utf-8")
        report.report_path = out
        return report
    finally:
        sampler.stop()
        runner.close()
        journal.close()


def _baseline_seconds(plan: Plan) -> float:
    from migtui.plan.model import RunBaseline

    for ph in plan.phases:
        for item in ph.items:
            if isinstance(item.run, RunBaseline):
                return item.run.baseline
    return 15.0


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False
