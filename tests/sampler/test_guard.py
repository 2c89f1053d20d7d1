"""The threshold guard's logic on synthetic snapshots: sustain, hysteresis, baseline, policies.

Time is the snapshots' own monotonic stamp, so nothing here depends on the wall clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from migtui.control import RunControl
from migtui.events import ThresholdChanged
from migtui.journal import Journal, read_journal
from migtui.plan.model import Plan
from migtui.sampler import Baseline, Guard, Snapshot

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def make_plan(triggers: list[dict[str, Any]] | None = None,
              alerts: list[dict[str, Any]] | None = None) -> Plan:
    return Plan.model_validate({
        "migtui": 1, "title": "t", "type": "schema_change", "agent": "me",
        "overview": [], "documentation": [],
        "risks": {"rollback_triggers": triggers or []},
        "monitoring": {"metrics": alerts or []},
    })


def snap(t: float, **values: Any) -> Snapshot:
    return Snapshot(taken_at=T0 + dt.timedelta(seconds=t), mono=1000.0 + t, elapsed=1.0,
                    duration=0.0, **values)


class Recorder:
    def __init__(self) -> None:
        self.events: list[ThresholdChanged] = []

    def __call__(self, ev: Any) -> None:
        self.events.append(ev)


def feed(guard: Guard, field: str, values: list[float | None], start: float = 0.0,
         step: float = 1.0) -> float:
    t = start
    for v in values:
        guard.observe(snap(t, **{field: v}))
        t += step
    return t


def test_a_single_spike_does_not_trip():
    rec = Recorder()
    g = Guard(make_plan([{"metric": "error_rate", "above": "5%", "for": "3s"}]), emit=rec)
    feed(g, "error_rate", [0, 0, 0, 50, 0, 0, 0, 60, 0, 0])
    assert rec.events == []
    assert g.states["error_rate"].state == "ok"


def test_a_sustained_breach_trips_after_for_and_carries_its_context():
    rec = Recorder()
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan([{"text": "Error rate >5%", "metric": "error_rate", "above": "5%",
                          "for": "3s"}]), emit=rec, on_trip=trips.append)
    feed(g, "error_rate", [0, 8, 9, 10])  # breach starts at t=1, held 2s by t=3
    assert g.states["error_rate"].state == "ok"
    assert g.states["error_rate"].since == T0 + dt.timedelta(seconds=1)  # breaching, pending
    g.observe(snap(4, error_rate=11))  # held 3s: trips
    assert [e.state for e in rec.events] == ["trip"]
    ev = rec.events[0]
    assert (ev.metric, ev.previous, ev.value, ev.threshold, ev.limit) == (
        "error_rate", "ok", 11, "> 5%", 5.0)
    assert ev.since == T0 + dt.timedelta(seconds=1)
    assert (ev.policy, ev.trigger, ev.baseline) == ("offer", "Error rate >5%", None)
    assert trips == [ev]  # offer: the UI is offered a rollback, once
    feed(g, "error_rate", [12, 13], start=5)
    assert len(trips) == 1


def test_hysteresis_needs_the_value_below_the_band_for_the_recovery_period():
    rec = Recorder()
    g = Guard(make_plan([{"metric": "error_rate", "above": "5%", "for": "2s"}]), emit=rec)
    t = feed(g, "error_rate", [10, 10, 10])
    assert g.states["error_rate"].state == "trip"
    # hovering just under the limit (above 90% of it) never clears: no flapping
    t = feed(g, "error_rate", [4.8, 4.7, 4.9, 5.1, 4.6, 4.8, 4.7], start=t)
    assert [e.state for e in rec.events] == ["trip"]
    # below the band, but not for long enough
    t = feed(g, "error_rate", [1, 1, 6], start=t)
    assert g.states["error_rate"].state == "trip"
    t = feed(g, "error_rate", [1, 1, 1], start=t)
    assert [e.state for e in rec.events] == ["trip", "ok"]
    assert rec.events[1].previous == "trip"


def test_missing_values_hold_the_state():
    g = Guard(make_plan([{"metric": "latency", "above": "100ms", "for": "2s"}]))
    feed(g, "latency_p95", [0.5, None, None, 0.5])  # breach held across failed samples
    assert g.states["latency"].state == "trip"
    assert g.states["latency"].value == 0.5


def test_relative_thresholds_are_inactive_without_a_baseline_and_use_its_median():
    plan = make_plan([{"metric": "latency", "above": "+50%", "for": "1s"}])
    g = Guard(plan)
    feed(g, "latency_p95", [1.0, 1.0, 1.0])
    st = g.states["latency"]
    assert st.state == "inactive" and "no baseline" in st.note and st.limit is None

    base = Baseline(30, {"latency": {"median": 0.100, "p95": 0.120}})
    rec = Recorder()
    g = Guard(plan, emit=rec, baseline=base)
    feed(g, "latency_p95", [0.140, 0.145, 0.149])  # under 150ms
    assert g.states["latency"].state == "ok"
    assert g.states["latency"].limit == pytest.approx(0.150)
    feed(g, "latency_p95", [0.2, 0.2, 0.2], start=3)
    assert g.states["latency"].state == "trip"
    assert rec.events[0].baseline == pytest.approx(0.1)
    assert rec.events[0].threshold == "+50%"


def test_a_relative_latency_limit_keeps_a_floor_above_a_tiny_baseline():
    base = Baseline(30, {"latency": {"median": 0.0004, "p95": 0.0005}})
    g = Guard(make_plan([{"metric": "latency", "above": "+50%", "for": "1s"}]), baseline=base)
    feed(g, "latency_p95", [0.0009, 0.001, 0.0012])  # jitter of a sub-ms probe
    assert g.states["latency"].state == "ok"
    assert g.states["latency"].limit == pytest.approx(0.0204)  # client-timed: 20 ms floor
    g.observe(snap(3, latency_p95=0.001, latency_source="server"))
    assert g.states["latency"].limit == pytest.approx(0.0054)  # server-timed: 5 ms floor


def test_a_smaller_relative_alert_stays_below_the_trigger_on_a_tiny_baseline():
    base = Baseline(30, {"latency": {"median": 0.001, "p95": 0.001}})
    g = Guard(make_plan([{"metric": "latency", "above": "+50%", "for": "3s"}],
                        alerts=[{"metric": "latency", "alert": "+25%", "for": "1s"}]),
              baseline=base)
    from migtui.plan.model import Metric
    from migtui.plan.values import parse_threshold

    warn = Guard._limit(Metric.latency, parse_threshold("+25%"), 0.001, source="server")
    trip = Guard._limit(Metric.latency, parse_threshold("+50%"), 0.001, source="server")
    assert warn == pytest.approx(0.0035) and trip == pytest.approx(0.006)
    feed(g, "latency_p95", [0.0045] * 5)  # client-timed here: floors 10 and 20 ms
    assert g.states["latency"].state == "ok"
    for i in range(5):
        g.observe(snap(5 + i, latency_p95=0.0045, latency_source="server"))
    assert g.states["latency"].state == "warn"  # throttles, does not trip


def test_warn_throttles_backfills_and_restores_when_ok():
    ctl = RunControl()
    g = Guard(make_plan(alerts=[{"metric": "error_rate", "alert": "2%", "for": "1s"},
                                {"metric": "connection_pool", "alert": "90%", "for": "1s"}]),
              control=ctl, escalate_after=100)
    for t in range(3):
        g.observe(snap(t, error_rate=3.0, pool_pct=50.0))
    assert g.states["error_rate"].state == "warn"
    assert ctl.throttle_factor == 0.5 and "Error Rate" in ctl.throttle_reason
    for t in range(3, 6):
        g.observe(snap(t, error_rate=3.0, pool_pct=95.0))
    assert ctl.throttle_factor == 0.25 and "Connection Pool" in ctl.throttle_reason
    for t in range(6, 10):
        g.observe(snap(t, error_rate=0.0, pool_pct=10.0))
    assert ctl.throttle_factor == 1.0 and ctl.throttle_reason == ""


def test_a_lasting_warn_tightens_the_throttle_step_by_step_then_releases_it():
    ctl = RunControl()
    g = Guard(make_plan(alerts=[{"metric": "error_rate", "alert": "2%", "for": "0s"}]),
              control=ctl, escalate_after=2.0, min_throttle=0.1)
    factors = []
    for t in range(8):
        g.observe(snap(t, error_rate=3.0))
        factors.append(ctl.throttle_factor)
    assert factors[0] == 0.5
    assert factors == sorted(factors, reverse=True) and factors[-1] == 0.1
    for t in range(8, 12):
        g.observe(snap(t, error_rate=0.0))
    assert ctl.throttle_factor == 1.0


def test_the_guard_does_not_undo_an_operator_throttle():
    ctl = RunControl()
    g = Guard(make_plan(alerts=[{"metric": "error_rate", "alert": "2%", "for": "0s"}]),
              control=ctl)
    feed(g, "error_rate", [3.0])
    ctl.throttle(0.1, "operator slowed it down")
    feed(g, "error_rate", [0.0, 0.0], start=1)
    assert (ctl.throttle_factor, ctl.throttle_reason) == (0.1, "operator slowed it down")


def test_pause_policy_pauses_until_recovered_then_resumes():
    ctl = RunControl()
    rec = Recorder()
    g = Guard(make_plan([{"metric": "lock_waits", "above": "2s", "for": "1s",
                          "policy": "pause"}]), emit=rec, control=ctl)
    t = feed(g, "longest_wait", [3.0, 3.0])
    assert ctl.paused and "Lock Waits" in ctl.pause_reason
    assert rec.events[-1].policy == "pause"
    t = feed(g, "longest_wait", [0.0], start=t)
    assert ctl.paused  # recovery needs the recovery period
    feed(g, "longest_wait", [0.0, 0.0], start=t)
    assert not ctl.paused
    assert [e.state for e in rec.events] == ["trip", "ok"]


def test_pause_policy_leaves_an_operator_pause_alone():
    ctl = RunControl()
    g = Guard(make_plan([{"metric": "error_rate", "above": "5%", "for": "0s",
                          "policy": "pause"}]), control=ctl)
    feed(g, "error_rate", [10])
    ctl.pause("operator: checking the app logs")
    feed(g, "error_rate", [0, 0], start=1)
    assert ctl.paused and ctl.pause_reason.startswith("operator")


def test_rollback_policy_requests_a_rollback():
    ctl = RunControl()
    g = Guard(make_plan([{"metric": "integrity", "above": 0, "for": "0s",
                          "policy": "rollback", "text": "Data corruption detected"}]),
              control=ctl)
    feed(g, "integrity_failures", [0, 0])
    assert not ctl.rollback_requested
    feed(g, "integrity_failures", [1], start=2)
    assert ctl.rollback_requested and ctl.cancelled
    assert "Data corruption detected" in ctl.rollback_reason


def test_a_trip_escalates_from_pause_to_rollback():
    ctl = RunControl()
    rec = Recorder()
    g = Guard(make_plan([
        {"metric": "error_rate", "above": "5%", "for": "1s", "policy": "pause"},
        {"metric": "error_rate", "above": "20%", "for": "1s", "policy": "rollback"}]),
        emit=rec, control=ctl)
    t = feed(g, "error_rate", [10, 10])
    assert ctl.paused and not ctl.rollback_requested
    feed(g, "error_rate", [30, 30], start=t)
    assert ctl.rollback_requested
    assert [(e.state, e.policy) for e in rec.events] == [("trip", "pause"), ("trip", "rollback")]


def test_a_below_threshold_trips_when_the_value_drops():
    g = Guard(make_plan([{"metric": "tps", "above": "< 10", "for": "1s"}]))
    feed(g, "tps", [50, 5, 4])
    assert g.states["tps"].state == "trip"
    feed(g, "tps", [10.5, 10.5, 10.5], start=3)  # above the limit but inside the band
    assert g.states["tps"].state == "trip"
    feed(g, "tps", [20, 20, 20], start=6)
    assert g.states["tps"].state == "ok"


def test_baseline_round_trips_through_the_journal(tmp_path):
    snaps = [snap(i, latency_p95=0.01 * (i + 1), error_rate=0.0) for i in range(10)]
    base = Baseline.from_snapshots(snaps, 10)
    assert base.median("latency") == pytest.approx(0.055)
    assert base.p95("latency") == pytest.approx(0.0955)
    assert base.median("disk") is None  # not measured
    with Journal(tmp_path / "j.jsonl") as j:
        j.record(base.to_event())
    again = Baseline.from_journal_records(read_journal(tmp_path / "j.jsonl"))
    assert again is not None
    assert again.metrics == base.metrics
    assert Baseline.from_journal_records([]) is None


def test_gauges_without_thresholds_still_report_their_value():
    g = Guard(make_plan([{"metric": "error_rate", "above": "5%"}]))
    g.observe(snap(0, tps=42.0, longest_wait=0.0))
    g.observe(snap(1, tps=None))
    assert g.states["tps"].state == "ok" and g.states["tps"].value == 42.0
    assert g.states["lock_waits"].value == 0.0 and g.states["tps"].threshold == ""


def test_manual_triggers_are_not_gauges():
    from migtui.plan import load_plan_text
    from migtui.sampler import Guard

    plan = load_plan_text(
        "migtui: 1\ntitle: t\ntype: schema_change\nagent: a\n"
        "risks:\n  rollback_triggers:\n"
        "    - {text: Support reports checkout failures}\n"
        "    - {text: Slow, metric: latency, above: +50%}\n", "m.yaml")
    guard = Guard(plan)
    assert guard.states["latency"].state == "inactive"  # relative, no baseline yet
    assert [r[0] for r in guard.rules("latency")] == ["trip"]
