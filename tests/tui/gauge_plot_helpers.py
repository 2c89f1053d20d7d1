"""A fixed journal of the gauges over a demo run (samples, baseline, a trip, the
rollback), for the final screen's snapshot: the same every time."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

from migtui.events import (
    BaselineRecorded,
    Event,
    GaugeSample,
    RollbackStarted,
    ThresholdChanged,
)
from migtui.journal import Journal, journal_path

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def demo_run_events() -> list[Event]:
    """Three minutes: a backfill, the bad step's latency climb, the trip, the rollback."""
    out: list[Event] = [BaselineRecorded(seconds=10.0, at=at(0), metrics={
        "latency": {"median": 0.004, "mad": 0.0003, "p95": 0.005}})]
    for i in range(40):
        lat = 0.004 + 0.0003 * (i % 3) + (0.011 if 24 <= i <= 29 else 0.0)
        out.append(GaugeSample(at=at(5 * i), values={"latency": round(lat, 4),
                                                     "replication_lag": 0.1 + 0.05 * (i % 4)},
                               backfill={"backfill_status": 1800.0 + 60 * (i % 5)}
                               if 8 <= i <= 19 else {}))
    out.append(ThresholdChanged(metric="latency", state="trip", previous="warn", value=0.015,
                                threshold="+50%", limit=0.006, baseline=0.004, since=at(122),
                                trigger="Performance degradation >50%", policy="offer",
                                at=at(125)))
    out.append(RollbackStarted(plan_id="demo", reason="trip", at=at(150),
                               steps=("drop_customer_index", "backfill_status")))
    return sorted(out, key=lambda e: e.at)


def demo_plan_with_run(tmp_path: Path) -> Path:
    plan = tmp_path / "demo.yaml"
    plan.write_text(resources.files("migtui.demo").joinpath("plan.yaml").read_text())
    with Journal(journal_path(plan, "demo")) as journal:
        for e in demo_run_events():
            journal(e)
    return plan
