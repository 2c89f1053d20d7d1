"""The gauges over a run, kept small for the journal: one ``GaugeSample`` every few seconds.

Snapshots come every ``sample_interval`` (a second by default) and are not journaled; a
report that plots the gauges over the run needs their series. ``GaugeRecorder`` sits on
the Watch's snapshot callback and on the bus: every ``every`` seconds it emits one
``GaugeSample`` with each metric's value at that moment (the latency is already a p95
over the sliding window, so a sustained rise — what trips a trigger — is never skipped)
and the backfill rate of each step running then (from ``StepProgress``, itself not
journaled). At the default 5 s, an hour's run adds 720 short records.
"""

from __future__ import annotations

import math
import threading

from migtui.events import Emit, Event, GaugeSample, StepFailed, StepFinished, StepProgress
from migtui.plan.model import Metric
from migtui.sampler.snapshot import Snapshot

DEFAULT_EVERY = 5.0  # seconds between journaled samples


class GaugeRecorder:
    """``on_snapshot`` for the Watch, ``on_event`` for the bus; emits ``GaugeSample``."""

    def __init__(self, emit: Emit, every: float = DEFAULT_EVERY) -> None:
        self.emit = emit
        self.every = every
        self._last: float | None = None
        self._rates: dict[str, float] = {}
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StepProgress):
                self._rates[event.step_id] = float(event.rate)
            elif isinstance(event, StepFinished | StepFailed):
                self._rates.pop(event.step_id, None)

    __call__ = on_event

    def on_snapshot(self, snap: Snapshot) -> None:
        if snap.error:
            return
        with self._lock:
            if self._last is not None and snap.mono - self._last < self.every:
                return
            self._last = snap.mono
            rates = {k: round(v, 3) for k, v in self._rates.items() if math.isfinite(v)}
        values = {}
        for m in Metric:
            v = snap.metric(m)
            if v is not None and math.isfinite(v):
                values[m.value] = _compact(v)
        if values or rates:
            self.emit(GaugeSample(at=snap.taken_at, values=values, backfill=rates))


def _compact(v: float) -> float:
    """Four significant digits: plenty for a plot, short in the journal."""
    return float(f"{v:.4g}")
