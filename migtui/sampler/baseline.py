"""The performance baseline: each metric's distribution over a quiet period.

A baseline is a distribution, not a number: per metric the median, the p95, the median
absolute deviation (MAD) and the number of samples. Relative thresholds (``+50%``) are
measured against the median, and trip only beyond what the baseline's own noise (its
MAD) explains (see ``migtui.sampler.guard``).

A baseline is tied to the conditions it was taken under: ``staleness`` says when it is
too old, was taken under a clearly different load (TPS), or timed latency differently
(client vs server side); relative thresholds are then inactive rather than trip on it.

The baseline is journaled as ``BaselineRecorded``, so a reopened plan can reuse it, if
it is not stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migtui.events import BaselineRecorded
from migtui.plan.model import Metric
from migtui.sampler.snapshot import Snapshot
from migtui.sampler.window import MAD_TO_SIGMA, mad, median, percentile

# a baseline older than this is stale: the database's load and data have moved on
MAX_AGE = 600.0  # seconds
# "clearly different load": the TPS differs by this factor AND by at least LOAD_MIN_DELTA.
# The sampler's own statements count as transactions too (about 8 a sample: 8 tps at the
# default 1 s interval, 30 at 0.25 s), so an idle database's TPS is mostly the sampler's,
# and probes held up behind a lock slow the sampler down: that is not a different load.
LOAD_RATIO = 3.0
LOAD_MIN_DELTA = 50.0  # tps


@dataclass(frozen=True)
class Baseline:
    seconds: float
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    recorded_at: dt.datetime | None = None

    def median(self, metric: Metric | str) -> float | None:
        m = self.metrics.get(str(metric))
        return None if m is None else m.get("median")

    def p95(self, metric: Metric | str) -> float | None:
        m = self.metrics.get(str(metric))
        return None if m is None else m.get("p95")

    def mad(self, metric: Metric | str) -> float | None:
        m = self.metrics.get(str(metric))
        return None if m is None else m.get("mad")

    def sigma(self, metric: Metric | str) -> float | None:
        """The MAD scaled to a standard deviation (robust: an outlier does not inflate it)."""
        d = self.mad(metric)
        return None if d is None else d * MAD_TO_SIGMA

    def samples(self, metric: Metric | str) -> int | None:
        m = self.metrics.get(str(metric))
        return None if m is None or "n" not in m else int(m["n"])

    @property
    def latency_source(self) -> str:
        """'server' or 'client': how most of the baseline's probe rounds were timed."""
        m = self.metrics.get(Metric.latency.value)
        if m is None or "server" not in m:
            return ""
        return "server" if m["server"] >= 0.5 else "client"

    def age(self, now: dt.datetime) -> float | None:
        return None if self.recorded_at is None else (now - self.recorded_at).total_seconds()

    def staleness(self, now: dt.datetime, tps: float | None, latency_source: str = "", *,
                  max_age: float = MAX_AGE) -> str | None:
        """Why this baseline should not be used now, or None when it is fit.

        Stale when older than ``max_age``, when taken under a clearly different load
        (``tps`` against its median TPS), or when its latency was timed on the other side
        (client vs server) than ``latency_source``."""
        age = self.age(now)
        base_tps = self.median(Metric.tps)
        old = age is not None and age > max_age
        load = (base_tps is not None and tps is not None
                and abs(tps - base_tps) >= LOAD_MIN_DELTA
                and max(tps, base_tps) >= LOAD_RATIO * max(min(tps, base_tps), 1e-9))
        mine = self.latency_source
        timing = bool(mine and latency_source and mine != latency_source)
        if not (old or load or timing):
            return None
        text = "baseline stale: taken " + (_ago(age) if age is not None else "earlier")
        if base_tps is not None:
            text += f" at {base_tps:.0f} tps"
            if tps is not None:
                text += f", now {tps:.0f} tps"
        if timing:
            text += f"; latency timed on the {mine} then, on the {latency_source} now"
        return text + " — capture a new one"

    @classmethod
    def from_snapshots(cls, snapshots: Iterable[Snapshot], seconds: float) -> Baseline:
        """Each metric's median, p95, MAD and sample count over the snapshots (failed
        ones skipped); for latency also the share of rounds timed on the server."""
        snaps = [s for s in snapshots if s.error is None]
        metrics: dict[str, dict[str, float]] = {}
        for m in Metric:
            values = [v for s in snaps if (v := s.metric(m)) is not None]
            med, p95, spread = median(values), percentile(values, 95), mad(values)
            if med is not None and p95 is not None and spread is not None:
                metrics[m.value] = {"median": med, "p95": p95, "mad": spread,
                                    "n": float(len(values))}
        lat = metrics.get(Metric.latency.value)
        timed = [s.latency_source for s in snaps if s.latency_source]
        if lat is not None and timed:
            lat["server"] = sum(1 for t in timed if t == "server") / len(timed)
        return cls(seconds=seconds, metrics=metrics, recorded_at=dt.datetime.now(dt.UTC))

    def to_event(self) -> BaselineRecorded:
        return BaselineRecorded(seconds=self.seconds,
                                metrics={k: dict(v) for k, v in self.metrics.items()})

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Baseline:
        """From a journaled ``BaselineRecorded`` record (or the event itself)."""
        if isinstance(record, BaselineRecorded):
            return cls(record.seconds, record.metrics, record.at)
        at = record.get("at") or record.get("ts")
        recorded = None
        if isinstance(at, str):
            try:
                recorded = dt.datetime.fromisoformat(at)
            except ValueError:
                recorded = None
        if recorded is not None and recorded.tzinfo is None:
            recorded = recorded.replace(tzinfo=dt.UTC)
        metrics = {str(k): {str(kk): float(vv) for kk, vv in v.items()}
                   for k, v in (record.get("metrics") or {}).items() if isinstance(v, Mapping)}
        return cls(float(record.get("seconds") or 0.0), metrics, recorded)

    @classmethod
    def from_journal_records(cls, records: Iterable[Mapping[str, Any]]) -> Baseline | None:
        """The last baseline recorded in a journal, or None."""
        last = None
        for rec in records:
            if rec.get("kind") == "BaselineRecorded":
                last = rec
        return None if last is None else cls.from_record(last)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
