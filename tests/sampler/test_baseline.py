"""migtui.sampler.baseline: median and p95 per metric over a quiet period, and its journal
round trip (also from hand-written or damaged records)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from migtui.events import BaselineRecorded
from migtui.journal import Journal, read_journal
from migtui.plan.model import Metric
from migtui.sampler import Baseline, Snapshot

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def snap(t: float, **values: Any) -> Snapshot:
    return Snapshot(taken_at=T0 + dt.timedelta(seconds=t), mono=1000.0 + t, elapsed=1.0,
                    duration=0.0, **values)


def test_failed_samples_do_not_count() -> None:
    good = [snap(i, latency_p95=0.010, tps=100.0) for i in range(5)]
    failed = [snap(10 + i, latency_p95=5.0, tps=0.0, error="connection lost") for i in range(5)]
    base = Baseline.from_snapshots([*good, *failed], 15)
    assert base.median(Metric.latency) == pytest.approx(0.010)
    assert base.p95("latency") == pytest.approx(0.010)
    assert base.median("tps") == pytest.approx(100.0)
    assert base.seconds == 15 and base.recorded_at is not None


def test_only_measured_metrics_are_in_the_baseline() -> None:
    base = Baseline.from_snapshots([snap(i, tps=float(10 * i)) for i in range(1, 6)], 5)
    assert set(base.metrics) == {"tps"}
    assert base.median("tps") == pytest.approx(30.0)
    assert base.p95("tps") == pytest.approx(48.0)
    assert base.median("latency") is None and base.p95(Metric.disk) is None
    assert Baseline.from_snapshots([], 5).metrics == {}


def test_the_event_carries_the_metrics_and_comes_back_equal() -> None:
    base = Baseline.from_snapshots(
        [snap(i, latency_p95=0.001 * i, pool_pct=float(i)) for i in range(1, 11)], 10)
    event = base.to_event()
    assert isinstance(event, BaselineRecorded)
    assert event.seconds == 10 and event.metrics == {k: dict(v) for k, v in base.metrics.items()}
    again = Baseline.from_record(event)
    assert again.metrics == base.metrics and again.recorded_at == event.at


def test_the_last_baseline_of_a_journal_wins(tmp_path) -> None:
    first = Baseline(30, {"tps": {"median": 1.0, "p95": 2.0}})
    second = Baseline(60, {"tps": {"median": 3.0, "p95": 4.0}})
    with Journal(tmp_path / "j.jsonl") as j:
        j.record(first.to_event())
        j.record(second.to_event())
    got = Baseline.from_journal_records(read_journal(tmp_path / "j.jsonl"))
    assert got is not None
    assert got.seconds == 60 and got.median("tps") == 3.0 and got.p95("tps") == 4.0
    assert got.recorded_at is not None and got.recorded_at.tzinfo is not None


def test_a_hand_written_or_damaged_record_still_reads() -> None:
    rec = {"kind": "BaselineRecorded", "at": "not a time", "seconds": "20",
           "metrics": {"latency": {"median": "0.5", "p95": 1}, "tps": "garbage"}}
    base = Baseline.from_record(rec)
    assert base.seconds == 20.0 and base.recorded_at is None
    assert base.metrics == {"latency": {"median": 0.5, "p95": 1.0}}  # the bad entry skipped
    bare = Baseline.from_record({"kind": "BaselineRecorded", "ts": "2026-11-23T12:00:00+00:00"})
    assert bare.seconds == 0.0 and bare.metrics == {} and bare.recorded_at == T0
    assert Baseline.from_journal_records([{"kind": "RunStarted"}]) is None
