"""Gauges watching a run: a Sampler feeding a Guard that steers the runner.

One object wires the pieces the same way for every consumer (the headless run, the
demo, the app): the sampler's snapshots go to the guard; the guard's ``pause`` and
``rollback`` policies act through the run's ``RunControl``; an ``offer`` trip calls
``on_offer`` — the app shows the one-key rollback, the headless run rolls back unless
told not to. Imports no Textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from migtui.control import PaceSignals, Reading, RunControl
from migtui.events import Emit, NoteAdded, ThresholdChanged
from migtui.plan import Plan
from migtui.runner.errors import RunnerError
from migtui.sampler import Baseline, Guard, Sampler, Snapshot, basis_text, format_value


def has_gauges(plan: Plan) -> bool:
    m = plan.monitoring
    return bool(m.probes or m.smoke or m.integrity or m.metrics
                or any(t.metric is not None for t in plan.risks.rollback_triggers))


class Watch:
    def __init__(self, plan: Plan, dsn: str, *, emit: Emit, control: RunControl,
                 captured: Callable[[], dict[str, Any]] | None = None,
                 on_offer: Callable[[ThresholdChanged], None] | None = None,
                 on_snapshot: Callable[[Snapshot], None] | None = None,
                 journal_records: Iterable[Mapping[str, Any]] = (),
                 target: str | None = None, interval: float | None = None) -> None:
        self.plan = plan
        self.emit = emit
        self.control = control
        self.on_offer = on_offer
        self.trips: list[ThresholdChanged] = []
        self._extra = on_snapshot
        self._signals: PaceSignals | None = None
        self.guard = Guard(plan, emit=emit, control=control,
                           baseline=Baseline.from_journal_records(journal_records),
                           on_trip=self._tripped)
        self.sampler = Sampler(plan, dsn, interval=interval, on_snapshot=self._observe,
                               captured=captured, target=target,
                               window=plan.settings.latency_window,
                               baseline=self.guard.baseline)

    def _observe(self, snap: Snapshot) -> None:
        self.guard.observe(snap)
        self._signals = pace_signals(snap, self.guard, self._signals)
        self.control.publish_signals(self._signals)
        if self._extra is not None:
            self._extra(snap)

    def _tripped(self, ev: ThresholdChanged) -> None:
        self.trips.append(ev)
        if self.on_offer is not None:
            self.on_offer(ev)

    def start(self) -> Watch:
        self.sampler.start()
        return self

    def stop(self) -> None:
        self.sampler.stop()
        self.control.publish_signals(None)  # no gauges now: pace on the lock budget alone

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def capture_baseline(self, seconds: float) -> str:
        """For ``baseline: 30s`` checklist items: sample, record, arm relative thresholds."""
        self.emit(NoteAdded(text=f"capturing the performance baseline for {seconds:g}s …",
                            author="migtui"))
        baseline = self.sampler.capture_baseline(seconds, emit=self.emit, control=self.control)
        self.guard.baseline = baseline
        lat = baseline.median("latency")
        text = f"baseline of {seconds:g}s recorded"
        if lat is not None:
            text += f"; latency p95 median {lat * 1000:.1f} ms"
        return text


    def watch_for(self, seconds: float) -> str:
        """For ``watch: 2m`` items: observe the gauges. Fails when a trigger trips."""
        deadline = time.monotonic() + seconds
        start = len(self.trips)
        while time.monotonic() < deadline:
            self.control.check()  # a rollback request cancels: raises Cancelled
            if len(self.trips) > start:
                ev = self.trips[-1]
                raise RunnerError(f"rollback trigger tripped while watching: "
                                  f"{ev.trigger or ev.metric} ({ev.threshold})")
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        states = self.guard.states
        tripping = sorted(m for m, s in states.items() if s.state == "trip")
        if tripping:  # it tripped before the watch began and never recovered
            raise RunnerError(f"rollback trigger still tripping after watching {seconds:g}s: "
                              f"{', '.join(tripping)}")
        warned = sorted(m for m, s in states.items() if s.state == "warn")
        tail = f"; in warn: {', '.join(warned)}" if warned else "; all gauges ok"
        return f"watched the gauges for {seconds:g}s{tail}"


def pace_signals(snap: Snapshot, guard: Guard, prev: PaceSignals | None) -> PaceSignals:
    """What the backfill's controller paces on, from one snapshot and the guard's limits.

    A reading keeps the time it was last read: a sample that fails, a gauge whose query
    failed, a standby gone, each leaves it unread, and the controller fails closed once it
    stayed unread for ``pacing.stale_after``. A gauge never read (no standby, no
    pg_stat_statements) is no signal at all."""
    p = prev or PaceSignals(mono=snap.mono)
    failed = snap.error

    def note(prefix: str) -> str:
        return next((n for n in snap.notes if n.startswith(prefix)), "")

    def reading(old: Reading, value: float | None, ok: bool, why: str, metric: str,
                base: float | None = None) -> Reading:
        seen = ok and (value is not None or old.last_read is not None)
        return Reading(value if ok else None, snap.mono if seen else old.last_read,
                       guard.pace_limit(metric), base, "" if ok else why)

    why_blocked = failed or note("blocked_by_migtui not read")
    blocked = reading(p.blocked, snap.blocked_longest, not why_blocked, why_blocked,
                      "blocked_by_migtui")
    why_app = failed or note("app_latency not read")
    base = guard.baseline.median("app_latency") if guard.baseline is not None else None
    app = reading(p.app_latency, snap.app_latency, not why_app, why_app, "app_latency", base)
    why_lag = failed or note("replication not read") or note("standby gone")
    gone = any(s.state == "gone" for s in snap.standbys)
    lag = reading(p.replica_lag, snap.replication_lag if snap.standbys else None,
                  not why_lag and not gone, why_lag or "standby gone", "replication_lag")
    return PaceSignals(mono=snap.mono, seq=snap.seq, error=failed, blocked=blocked,
                       app_latency=app, replica_lag=lag)


def trip_text(ev: ThresholdChanged) -> str:
    """'Performance degradation >50% tripped: latency 816ms against limit 6.1ms (…)'."""
    base = f", baseline {format_value(ev.metric, ev.baseline)}" if ev.baseline is not None else ""
    why = (f", set by {basis_text(ev.basis, ev.metric, ev.limit, ev.baseline)}" if ev.basis
           else "")
    return (f"{ev.trigger or ev.metric} tripped: {ev.metric} "
            f"{format_value(ev.metric, ev.value)} against limit "
            f"{format_value(ev.metric, ev.limit)} (threshold {ev.threshold}{base}{why})")


def headless_offer(control: RunControl, emit: Emit, auto_rollback: bool
                   ) -> Callable[[ThresholdChanged], None]:
    """Headless, ``offer`` acts as ``rollback`` unless --no-auto-rollback is given."""

    def offer(ev: ThresholdChanged) -> None:
        reason = trip_text(ev)
        if auto_rollback:
            if not control.rollback_requested:
                control.request_rollback(reason)
        else:
            emit(NoteAdded(text=f"rollback offered, not started (--no-auto-rollback): {reason}",
                           author="migtui"))

    return offer
