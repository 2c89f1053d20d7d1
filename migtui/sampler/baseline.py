"""The performance baseline: each metric's median and p95 over a quiet period.

Relative thresholds (``+50%``) are measured against a metric's median. The baseline is
journaled as ``BaselineRecorded``, so a reopened plan reuses it instead of re-measuring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migtui.events import BaselineRecorded
from migtui.plan.model import Metric
from migtui.sampler.snapshot import Snapshot
from migtui.sampler.window import median, percentile


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

    @classmethod
    def from_snapshots(cls, snapshots: Iterable[Snapshot], seconds: float) -> Baseline:
        """Median and p95 of every metric measured in the snapshots (failed ones skipped)."""
        snaps = [s for s in snapshots if s.error is None]
        metrics: dict[str, dict[str, float]] = {}
        for m in Metric:
            values = [v for s in snaps if (v := s.metric(m)) is not None]
            med, p95 = median(values), percentile(values, 95)
            if med is not None and p95 is not None:
                metrics[m.value] = {"median": med, "p95": p95}
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
