"""The gauges over a run, read back from the journal: what the plots and the text draw.

Pure: journal records in (``GaugeSample``, ``BaselineRecorded``, trips, rollbacks), series
out. No matplotlib here. The window is the last stretch of samples without a long gap
(one app session, or one ``migtui run``): earlier sessions of the same plan are older
history, and their baseline may not be this run's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migtui.plan.model import Metric
from migtui.sampler.window import MAD_TO_SIGMA

GAP = 120.0  # seconds without a sample: a new session starts

# what the plots show, in this order: the metric, its label, and the factor to the unit
LATENCY = (Metric.latency.value, Metric.app_latency.value)
LAG = Metric.replication_lag.value


def parse_at(rec: Mapping[str, Any]) -> dt.datetime | None:
    raw = rec.get("at") or rec.get("ts")
    if isinstance(raw, dt.datetime):
        d = raw
    else:
        try:
            d = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            return None
    return d if d.tzinfo is not None else d.replace(tzinfo=dt.UTC)


# the journal records the series are made of (trips only, of the ThresholdChanged)
RECORD_KINDS = frozenset({"GaugeSample", "BaselineRecorded", "ThresholdChanged",
                          "RollbackStarted"})


@dataclass(frozen=True)
class Marker:
    t: float  # seconds since the series' start
    kind: str  # trip | rollback
    label: str


@dataclass
class GaugeSeries:
    start: dt.datetime | None = None
    # metric -> (seconds since start, value in the metric's unit)
    values: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    backfill: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # step -> rows/s
    baseline: dict[str, tuple[float, float]] = field(default_factory=dict)  # median, σ
    limits: dict[str, float] = field(default_factory=dict)  # a trip's limit, per metric
    markers: list[Marker] = field(default_factory=list)
    # every sample's time: a line is cut across a sample that lacks it (a backfill's rate
    # between its apply and its rollback)
    times: list[float] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.values and not self.backfill

    @property
    def duration(self) -> float:
        ts = [t for pts in (*self.values.values(), *self.backfill.values()) for t, _v in pts]
        return max(ts, default=0.0)

    def series(self, metric: str) -> list[tuple[float, float]]:
        return self.values.get(metric, [])

    @property
    def cadence(self) -> float:
        """The usual time between two samples (the median step over every sample taken):
        what a line's gaps are measured against, so a series present in only some samples
        (a backfill's rate, while it ran) is cut where it was absent."""
        ts = sorted(set(self.times) | {t for pts in (*self.values.values(),
                                                 *self.backfill.values()) for t, _v in pts})
        steps = sorted(b - a for a, b in zip(ts, ts[1:], strict=False))
        return steps[len(steps) // 2] if steps else 0.0

    @staticmethod
    def from_state(st: Any) -> GaugeSeries:
        return from_state(st)

    @staticmethod
    def reads(record: Mapping[str, Any]) -> bool:
        """Whether ``from_records`` uses this record: a sample, a baseline, a trip, a
        rollback (what a listener keeps to plot the gauges without a journal)."""
        kind = record.get("kind")
        return kind in RECORD_KINDS and (kind != "ThresholdChanged"
                                         or record.get("state") == "trip")

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> GaugeSeries:
        """The last session's series from journal records (in journal order)."""
        recs = [(at, r) for r in records if (at := parse_at(r)) is not None]
        samples = [(at, r) for at, r in recs if r.get("kind") == "GaugeSample"]
        out = cls()
        if not samples:
            return out
        first = len(samples) - 1
        while first > 0 and (samples[first][0] - samples[first - 1][0]).total_seconds() <= GAP:
            first -= 1
        window = samples[first:]
        start, end = window[0][0], window[-1][0]
        out.start = start

        def t(at: dt.datetime) -> float:
            return round((at - start).total_seconds(), 3)

        for at, r in window:
            out.times.append(t(at))
            for metric, v in (r.get("values") or {}).items():
                if isinstance(v, int | float):
                    out.values.setdefault(str(metric), []).append((t(at), float(v)))
            for step, rate in (r.get("backfill") or {}).items():
                if isinstance(rate, int | float):
                    out.backfill.setdefault(str(step), []).append((t(at), float(rate)))
        slack = dt.timedelta(seconds=GAP)
        for at, r in recs:
            kind = r.get("kind")
            if kind == "BaselineRecorded" and at <= end:
                out.baseline = _bands(r.get("metrics") or {})
            if not start - slack <= at <= end + slack:
                continue
            if kind == "ThresholdChanged" and r.get("state") == "trip":
                what = str(r.get("trigger") or _label(str(r.get("metric"))))
                out.markers.append(Marker(t(at), "trip", what))
                if isinstance(r.get("limit"), int | float):
                    out.limits[str(r.get("metric"))] = float(r["limit"])
            elif kind == "RollbackStarted":
                out.markers.append(Marker(t(at), "rollback",
                                          f"rollback of {', '.join(r.get('steps') or ())}"))
        return out


def from_state(st: Any) -> GaugeSeries:
    """From a ``RunState`` (its samples, trips, rollbacks and last baseline)."""
    recs = sorted([*st.gauges, *st.trips, *st.rollbacks],
                  key=lambda r: str(r.get("at") or r.get("ts")))
    out = GaugeSeries.from_records(recs)
    if st.baseline and not out.empty:
        out.baseline = _bands(st.baseline)
    return out


def _bands(metrics: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    out = {}
    for name, stats in metrics.items():
        if not isinstance(stats, Mapping):
            continue
        med, mad = stats.get("median"), stats.get("mad")
        if isinstance(med, int | float):
            sigma = float(mad) * MAD_TO_SIGMA if isinstance(mad, int | float) else 0.0
            out[str(name)] = (float(med), sigma)
    return out


def _label(metric: str) -> str:
    try:
        return Metric(metric).label
    except ValueError:
        return metric


def clock(seconds: float) -> str:
    """'m:ss' (or 'h:mm:ss') since the start."""
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
