"""The demo's story, played without a TTY (``migtui demo --headless``).

baseline → a safe column → a concurrent index → a backfill that throttles under load →
a step that goes bad for real → the trigger trips → rollback → the gauges recover →
the report. It measures how long detection, rollback and recovery took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtui.events import (
    Event,
    RollbackFinished,
    RollbackStarted,
    StatementStarted,
    StepFinished,
    StepProgress,
    ThresholdChanged,
)
from migtui.execution import Run
from migtui.execution.run import forward_run, working
from migtui.journal import read_journal
from migtui.plan import Plan
from migtui.plan.model import Phase
from migtui.runner import Runner
from migtui.sampler import format_value
from migtui.state import RunState

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
    limited_by: dict[str, int] | None = None  # what limited the backfill: batches each
    report_path: Path | None = None

    def summary(self) -> list[str]:
        def s(v: float | None) -> str:
            return "—" if v is None else f"{v:.1f}s"

        trip = self.trip or {}
        lines = [
            "── demo summary " + "─" * 50,
            f"backfill throttled under load: {'yes' if self.throttled else 'no'}",
            "what limited the backfill (batches): " + (", ".join(
                f"{k} ({v})" for k, v in (self.limited_by or {}).items()) or "—"),
            (f"trip: {trip.get('trigger') or trip.get('metric')} — value "
             f"{format_value(str(trip.get('metric')), trip.get('value'))} against limit "
             f"{format_value(str(trip.get('metric')), trip.get('limit'))} (baseline "
             f"{format_value(str(trip.get('metric')), trip.get('baseline'))})") if trip else "trip: none",
            f"detection (bad step done → trip): {s(self.detection_seconds)}",
            f"reaction (trip → first rollback statement): {s(self.reaction_seconds)}",
            f"rollback: {'ok' if self.rollback_ok else 'FAILED'} in {s(self.rollback_seconds)}",
            f"recovery (rollback done → latency ok): "
            f"{s(self.recovery_seconds) if self.recovered else 'not within the wait'}",
        ]
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        return lines


def play(plan: Plan, plan_path: Path, url: str, *, say: Callable[[str], None],
         on_event: Callable[[Event], None] | None = None, baseline_seconds: float | None = None,
         recovery_wait: float = 60.0, operator: str = "demo-presenter",
         warmup: float = 8.0, exporter: Any = None) -> StoryReport:
    """Play the story against ``url`` (traffic must already be running).

    It runs the demo plan's phases on the one execution path (``migtui.execution``), as
    ``migtui run`` does — the gauges watch, the trigger trips, ``offer`` acts as rollback —
    and times each beat from the events. The report is the app's export: with the lint's
    findings, scrubbed of secrets. ``exporter``: a metrics exporter the run feeds.
    """
    report = StoryReport()
    times: dict[str, float] = {}

    def beat(ev: Event) -> None:
        now = time.monotonic()
        if isinstance(ev, StepProgress):
            report.throttled = report.throttled or bool(ev.throttled)
            what = _limit_kind(ev.limited_by)
            report.limited_by = report.limited_by or {}
            report.limited_by[what] = report.limited_by.get(what, 0) + 1
        elif isinstance(ev, StepFinished) and ev.step_id == BAD_STEP and ev.action == "apply":
            times["bad_done"] = now
        elif isinstance(ev, ThresholdChanged) and ev.state == "trip" and "trip" not in times:
            times["trip"] = now
            report.trip = ev.to_record()
        elif isinstance(ev, StatementStarted) and ev.action == "rollback":
            times.setdefault("first_rollback_stmt", now)
        elif isinstance(ev, RollbackStarted):
            times.setdefault("rollback_start", now)
        elif isinstance(ev, RollbackFinished):
            times["rollback_done"] = now
            report.rollback_ok = ev.ok

    # every demo run tells the story from the start: a fresh journal
    run = Run(plan, plan_path, url, operator=operator, auto_rollback=True, fresh_journal=True,
              exporter=exporter, subscribers=[fn for fn in (on_event, beat) if fn is not None])
    watch = run.watch
    assert watch is not None

    def clean_start(runner: Runner) -> None:
        leftovers = [s.step_id for s in runner.status() if s.state in ("applied", "failed")]
        if leftovers:
            say("an earlier demo left steps behind: rolling them back first")
            runner.rollback(reason="clean start for the demo")
            times.clear()  # the clean-up is not the story's rollback
            report.rollback_ok = False

    def on_baseline(seconds: float) -> str:
        return watch.capture_baseline(baseline_seconds or seconds)

    def on_phase(phase: Phase) -> None:
        say(f"── {phase.name} " + "─" * (60 - len(phase.name)))

    with run, working(run, prepare=clean_start):
        # the application was running before the window opened: let caches warm up so
        # the baseline measures the steady state, not the first seconds of traffic
        say(f"letting the application traffic settle for {warmup:g}s …")
        time.sleep(warmup)
        outcome = forward_run(run, plan.phases, on_phase, on_baseline=on_baseline)
        report.baseline_latency = watch.guard.baseline.median("latency") \
            if watch.guard.baseline else None
        if "trip" in times and "bad_done" in times:
            report.detection_seconds = times["trip"] - times["bad_done"]
        if "trip" in times and "first_rollback_stmt" in times:
            report.reaction_seconds = times["first_rollback_stmt"] - times["trip"]
        if "rollback_start" in times and "rollback_done" in times:
            report.rollback_seconds = times["rollback_done"] - times["rollback_start"]
        if report.rollback_ok and "rollback_done" in times:
            say("waiting for the gauges to recover …")
            report.recovered = _wait(lambda: watch.guard.states["latency"].state == "ok",
                                     recovery_wait)
            if report.recovered:
                report.recovery_seconds = time.monotonic() - times["rollback_done"]
        run.finish_timed(outcome)
        state = RunState.from_records(read_journal(run.journal_path))
        report.report_path = run.export_report(state, plan_path.parent / "demo-report.md")
        return report


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _limit_kind(limited_by: str) -> str:
    """'replica lag 1.4 s > 1.0 s' → 'replica lag'; 'gauges not read for 6 s …' → 'gauges
    late'; 'app latency +40%' → 'app latency'. The kind of limit, without its figures."""
    if " not read " in limited_by:
        return "gauges late"
    words = []
    for w in limited_by.split():
        if any(c.isdigit() for c in w) or w[:1] in "+>(":
            break
        words.append(w)
    return " ".join(words) or "?"
