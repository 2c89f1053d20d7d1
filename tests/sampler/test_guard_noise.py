"""Trips that mean something: a noisy but healthy window does not trip a relative
threshold, a real degradation does; a stale baseline disarms relative thresholds; a
window with too few probe rounds is not judged.

Snapshots are synthetic but built the way the collector builds them: seeded random probe
rounds go through the real sliding ``Window`` and its p95. Time is the snapshots' own.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from migtui.events import ThresholdChanged
from migtui.plan.model import Metric, Plan
from migtui.plan.values import parse_threshold
from migtui.sampler import Baseline, Guard, Snapshot
from migtui.sampler.guard_rules import limit_basis
from migtui.sampler.window import Window

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TRIGGER = [{"text": "Performance degradation >50%", "metric": "latency", "above": "+50%",
            "for": "3s"}]
ALERT = [{"metric": "latency", "alert": "+25%", "for": "1s"}]


def make_plan() -> Plan:
    return Plan.model_validate({
        "migtui": 1, "title": "t", "type": "schema_change", "agent": "me",
        "overview": [], "documentation": [],
        "risks": {"rollback_triggers": TRIGGER}, "monitoring": {"metrics": ALERT}})


class Probes:
    """Probe rounds through a 5 s window, like ``Collector``: one snapshot per second."""

    def __init__(self, seed: int, source: str = "server", tps: float = 80.0) -> None:
        self.rng = random.Random(seed)
        self.window = Window(5.0)
        self.t = 0.0
        self.source = source
        self.tps = tps

    def snap(self, round_time: float, **extra: Any) -> Snapshot:
        self.window.add(1000.0 + self.t, round_time)
        s = Snapshot(taken_at=T0 + dt.timedelta(seconds=self.t), mono=1000.0 + self.t,
                     elapsed=1.0, duration=0.0, latency_last=round_time,
                     latency_p95=self.window.percentile(95), latency_source=self.source,
                     latency_samples=len(self.window), latency_min_samples=4,
                     tps=self.tps, **extra)
        self.t += 1.0
        return s

    def healthy(self, n: int, median: float = 0.002, spread: float = 0.0008) -> list[Snapshot]:
        """A healthy but noisy database: ~2 ms rounds with a wide spread, and now and then
        a spike (a checkpoint, a backfill batch committing) of 3x."""
        out = []
        for _ in range(n):
            v = max(0.0002, self.rng.gauss(median, spread))
            if self.rng.random() < 0.1:
                v *= 3
            out.append(self.snap(v))
        return out


def test_a_noisy_but_healthy_window_does_not_trip_and_a_10x_degradation_does():
    probes = Probes(seed=7)
    base = Baseline.from_snapshots(probes.healthy(30), 30)
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    # the same noise, and a backfill that makes it worse (1.8x the median, spikes of 5x):
    # beyond +50% of a 2 ms median, but inside the 5 ms floor, so nothing trips
    for s in probes.healthy(120):
        g.observe(s)
    for s in probes.healthy(60, median=0.0036, spread=0.0012):
        g.observe(s)
    assert trips == []
    assert g.states["latency"].state in ("ok", "warn")
    limit = g.states["latency"].limit
    assert limit is not None and limit >= base.median("latency") + 0.005  # the floor
    # the real degradation: the probe's index is gone, each round is 10x slower
    for _ in range(6):
        g.observe(probes.snap(10 * base.median("latency")))
    assert [t.state for t in trips] == ["trip"]
    assert trips[0].value > trips[0].limit


def test_one_slow_round_keeps_the_windows_p95_high_but_does_not_trip():
    probes = Probes(seed=11)
    base = Baseline.from_snapshots(probes.healthy(30), 30)
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    for s in probes.healthy(20):
        g.observe(s)
    # one round 70x slower (a CPU-starved moment): the 5 s window's p95 stays above the
    # limit for 5 s, longer than the trigger's 3 s, but the rounds after it are normal
    g.observe(probes.snap(70 * base.median("latency")))
    highs = 0
    for s in probes.healthy(8):
        g.observe(s)
        limit = g.states["latency"].limit
        highs += bool(limit is not None and s.latency_p95 is not None and s.latency_p95 > limit)
    assert highs >= 3  # the window alone would have tripped
    assert trips == []
    # rounds that are all slow (the index is gone) trip within the trigger's 3 s
    for _ in range(5):
        g.observe(probes.snap(70 * base.median("latency")))
    assert [t.state for t in trips] == ["trip"]


def test_the_limit_is_beyond_the_relative_limit_the_noise_and_the_floor():
    th = parse_threshold("+50%")
    # a quiet 100 ms baseline: the relative limit governs
    assert Guard._limit(Metric.latency, th, 0.100, 0.001, "server") == pytest.approx(0.150)
    # a noisy 100 ms baseline (σ 20 ms): +50% is inside its noise, 4σ governs
    assert Guard._limit(Metric.latency, th, 0.100, 0.020, "server") == pytest.approx(0.180)
    # a 2 ms baseline: the absolute floor governs, wider when timed on the client
    assert Guard._limit(Metric.latency, th, 0.002, 0.0002, "server") == pytest.approx(0.007)
    assert Guard._limit(Metric.latency, th, 0.002, 0.0002, "client") == pytest.approx(0.022)
    # a +25% alert stays below the +50% trigger whatever governs
    for base, sigma in ((0.100, 0.001), (0.100, 0.020), (0.002, 0.0002)):
        warn = Guard._limit(Metric.latency, parse_threshold("+25%"), base, sigma, "server")
        trip = Guard._limit(Metric.latency, th, base, sigma, "server")
        assert warn is not None and trip is not None and warn < trip


def test_a_noisy_baseline_widens_the_limit_so_its_own_noise_does_not_trip():
    probes = Probes(seed=11)
    # 50 ms rounds with a 15 ms spread: +50% (75 ms) is within the baseline's own noise
    base = Baseline.from_snapshots(probes.healthy(40, median=0.050, spread=0.015), 40)
    assert base.sigma("latency") is not None and base.sigma("latency") > 0.008
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    for s in probes.healthy(200, median=0.050, spread=0.015):
        g.observe(s)
    assert trips == []
    assert g.states["latency"].limit > base.median("latency") * 1.5


def test_a_window_with_too_few_probe_rounds_is_not_judged():
    base = Baseline(30, {"latency": {"median": 0.002, "p95": 0.003, "mad": 0.0002}})
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)

    def s(t: float, samples: int) -> Snapshot:
        return Snapshot(taken_at=T0 + dt.timedelta(seconds=t), mono=1000.0 + t, elapsed=1.0,
                        duration=0.0, latency_p95=0.5, latency_source="server",
                        latency_samples=samples, latency_min_samples=4)

    for t in range(6):  # a reconnect keeps the window at 1–3 rounds: held, never judged
        g.observe(s(t, 1 + t % 3))
    assert trips == [] and g.states["latency"].state == "ok"
    assert g.states["latency"].value == 0.5  # still shown
    for t in range(6, 11):
        g.observe(s(t, 4))
    assert [t.state for t in trips] == ["trip"]


def test_a_stale_baseline_disarms_relative_thresholds_with_the_reason():
    base = Baseline(30, {"latency": {"median": 0.002, "p95": 0.003, "mad": 0.0002},
                         "tps": {"median": 108.0, "p95": 120.0, "mad": 4.0}},
                    recorded_at=T0 - dt.timedelta(minutes=25))
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    probes = Probes(seed=3, tps=12.0)
    for _ in range(10):
        g.observe(probes.snap(0.5))  # would be far beyond any limit
    st = g.states["latency"]
    assert trips == [] and st.state == "inactive" and st.limit is None
    assert st.note == ("baseline stale: taken 25 min ago at 108 tps, now 12 tps "
                       "— capture a new one")
    assert g.baseline_stale == st.note
    # a fresh baseline (the run's ``baseline:`` item) arms them again
    g.baseline = Baseline(5, {"latency": {"median": 0.002, "p95": 0.003, "mad": 0.0002},
                              "tps": {"median": 12.0, "p95": 13.0, "mad": 0.5}},
                          recorded_at=probes.snap(0.5).taken_at)
    for _ in range(5):
        g.observe(probes.snap(0.5))
    assert g.baseline_stale is None and [t.state for t in trips] == ["trip"]


def test_a_fit_baseline_from_the_journal_stays_armed():
    base = Baseline(30, {"latency": {"median": 0.002, "p95": 0.003, "mad": 0.0002},
                         "tps": {"median": 80.0, "p95": 90.0, "mad": 4.0}},
                    recorded_at=T0 - dt.timedelta(minutes=2))
    g = Guard(make_plan(), baseline=base)
    probes = Probes(seed=5, tps=95.0)
    for s in probes.healthy(10):
        g.observe(s)
    assert g.baseline_stale is None and g.states["latency"].state == "ok"
    assert g.states["latency"].limit is not None


def test_the_limit_says_what_set_it():
    th = parse_threshold("+50%")
    basis = limit_basis
    assert basis(Metric.latency, th, 0.100, 0.001, "server") == (pytest.approx(0.150), "")
    assert basis(Metric.latency, th, 0.100, 0.020, "server") == (pytest.approx(0.180), "noise")
    assert basis(Metric.latency, th, 0.002, 0.0002, "server") == (pytest.approx(0.007), "floor")
    assert basis(Metric.latency, th, 0.002, 0.0002, "client") == (
        pytest.approx(0.022), "client floor")
    assert basis(Metric.error_rate, parse_threshold("> 5%"), 1.0, 0.0, "") == (5.0, "")
    assert basis(Metric.latency, th, None, None, "") == (None, "")


def test_the_gauge_state_gives_every_rules_limit_and_the_trip_the_trip_rules():
    """The gauge showed the alert's limit under the word "limit" while the banner showed
    the trigger's: every rule's limit is in the state, and a trip carries its own."""
    probes = Probes(seed=7, source="client")
    base = Baseline.from_snapshots(probes.healthy(30, median=0.0005, spread=0.0001), 30)
    trips: list[ThresholdChanged] = []
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    for s in probes.healthy(10, median=0.0005, spread=0.0001):
        g.observe(s)
    st = g.states["latency"]
    (warn, trip) = st.limits
    assert warn[:3] == ("warn", "+25%", 1.0) and trip[:3] == ("trip", "+50%", 3.0)
    median = base.median("latency")
    assert median is not None
    # a ~1 ms baseline timed on the client: both limits are the floor's, not +25%/+50%
    assert warn[3:] == (pytest.approx(median + 0.010), "client floor")
    assert trip[3:] == (pytest.approx(median + 0.020), "client floor")
    assert st.state == "ok" and st.limit == warn[3]  # the nearest one governs an OK gauge
    # 12x the baseline stays under the floor: not tripped, and the state says why
    for _ in range(6):
        g.observe(probes.snap(12 * median))
    assert trips == [] and g.states["latency"].limits[1][4] == "client floor"
    for _ in range(6):
        g.observe(probes.snap(0.050))
    assert [t.state for t in trips] == ["trip"]
    assert (trips[0].limit, trips[0].basis) == (trip[3], "client floor")
