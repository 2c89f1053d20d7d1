"""The backfill's controller, alone: lock budget, AIMD on the signals, hysteresis, fail closed.

No database: the Pacer is pure; the inputs are a batch's rows and duration and the gauges'
latest signals with the time they were taken (the clock is the test's)."""

from __future__ import annotations

from migtui.control import PaceSignals, Reading
from migtui.runner.pacing import (
    FULL_SPEED,
    LOCK_BUDGET,
    Pacer,
    PacingConfig,
)

CFG = PacingConfig(lock_budget=0.1, batch_target=0.5, min_batch=100, max_batch=50_000)


def sig(seq: int, *, mono: float | None = None, lag: float | None = None,
        app: float | None = None, app_base: float | None = None,
        blocked: float | None = 0.0, lag_limit: float | None = None) -> PaceSignals:
    t = float(seq) if mono is None else mono
    return PaceSignals(
        mono=t, seq=seq,
        blocked=Reading(blocked, t if blocked is not None else None),
        app_latency=Reading(app, t if app is not None else None, baseline=app_base),
        replica_lag=Reading(lag, t if lag is not None else None, limit=lag_limit))


def test_batches_aim_at_half_the_lock_budget() -> None:
    p = Pacer(CFG, 1000)
    # 1000 rows in 10 ms: far under the 50 ms aim, the size at most doubles
    d = p.after_batch(1000, 0.010, None)
    assert d.size == 2000 and d.sleep == 0 and d.limited_by == LOCK_BUDGET
    # 20,000 rows took 200 ms, twice the budget: at once the size halves
    d = p.after_batch(20_000, 0.200, None)
    assert d.size == 10_000
    # 10,000 rows in 100 ms: aim 50 ms -> 5,000
    assert p.after_batch(10_000, 0.100, None).size == 5000


def test_without_a_budget_and_at_max_batch_it_is_full_speed() -> None:
    p = Pacer(PacingConfig(lock_budget=0, batch_target=0.5, min_batch=10, max_batch=1000), 1000)
    d = p.after_batch(1000, 0.01, None)
    assert d.size == 1000 and d.sleep == 0 and d.limited_by == FULL_SPEED
    # with a budget, a batch at max_batch well within it is full speed too
    p = Pacer(PacingConfig(lock_budget=0.1, min_batch=10, max_batch=1000), 1000)
    assert p.after_batch(1000, 0.001, None).limited_by == FULL_SPEED


def test_replica_lag_over_its_limit_halves_the_duty_once_per_sample() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, sig(1, lag=1.4))
    assert p.duty == 0.5 and d.sleep == 0.05  # runs half the time
    assert d.limited_by == "replica lag 1.4 s > 1.0 s"
    # the same sample again (a batch between two samples): no second cut
    p.after_batch(5000, 0.05, sig(1, lag=1.4))
    assert p.duty == 0.5
    d = p.after_batch(5000, 0.05, sig(2, lag=2.0))
    assert p.duty == 0.25 and abs(d.sleep - 0.15) < 1e-9
    for i in range(3, 20):
        p.after_batch(5000, 0.05, sig(i, lag=3.0))
    assert p.duty == CFG.min_duty  # the floor: it never stops by itself


def test_additive_increase_with_hysteresis() -> None:
    p = Pacer(CFG, 5000)
    p.after_batch(5000, 0.05, sig(1, lag=1.5))
    p.after_batch(5000, 0.05, sig(2, lag=1.5))
    assert p.duty == 0.25
    # 0.95 s: under the 1 s limit, but above 90% of it: hold, still limited by the lag
    d = p.after_batch(5000, 0.05, sig(3, lag=0.95))
    assert p.duty == 0.25 and d.limited_by.startswith("replica lag")
    # clear: +0.1 per sample, not all at once
    p.after_batch(5000, 0.05, sig(4, lag=0.2))
    assert abs(p.duty - 0.35) < 1e-9
    for i in range(5, 20):
        d = p.after_batch(5000, 0.05, sig(i, lag=0.2))
    assert p.duty == 1.0 and d.sleep == 0 and d.limited_by == LOCK_BUDGET


def test_the_plans_alert_is_the_limit_when_there_is_one() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, sig(1, lag=0.4, lag_limit=0.3))
    assert p.duty == 0.5 and d.limited_by == "replica lag 400 ms > 300 ms"


def test_app_latency_against_the_baseline_or_the_first_reading() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, sig(1, app=0.0014, app_base=0.001))  # +40% > +25%
    assert p.duty == 0.5 and d.limited_by == "app latency +40%"
    # without a baseline, the first reading of the step is the reference
    p = Pacer(CFG, 5000)
    p.after_batch(5000, 0.05, sig(1, app=0.002))
    assert p.duty == 1.0
    d = p.after_batch(5000, 0.05, sig(2, app=0.003))
    assert p.duty == 0.5 and d.limited_by == "app latency +50%"


def test_a_rollback_backfill_does_not_yield_to_app_latency_but_to_lag_and_writers() -> None:
    from dataclasses import replace

    p = Pacer(replace(CFG, follow_app_latency=False), 5000)
    d = p.after_batch(5000, 0.05, sig(1, app=0.005, app_base=0.001))  # +400%: the bad change
    assert p.duty == 1.0 and d.limited_by == LOCK_BUDGET
    assert p.hold(sig(2, mono=2.0, app=None), 3.0) == ""  # an unread app latency holds nothing
    d = p.after_batch(5000, 0.05, sig(3, lag=2.0))
    assert p.duty == 0.5 and d.limited_by.startswith("replica lag")


def test_writers_blocked_past_the_budget_shrink_the_batch_and_the_duty() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, sig(1, blocked=0.3))
    assert d.size == 2500 and p.duty == 0.5
    assert d.limited_by == "writers blocked 300 ms > 100 ms"
    # a writer waiting, but within the budget: no growth, no cut
    p.after_batch(5000, 0.05, sig(2, blocked=0.02))
    assert p.duty == 0.5


def test_the_worst_signal_sets_the_pace_all_are_named() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, sig(1, lag=1.2, app=0.002, app_base=0.001))
    assert p.duty == 0.5  # one cut per sample, however many signals are over
    assert d.limited_by == "replica lag 1.2 s > 1.0 s, app latency +100%"


def test_the_operators_throttle_caps_the_duty_and_is_named() -> None:
    p = Pacer(CFG, 5000)
    d = p.after_batch(5000, 0.05, None, throttle=0.5, throttle_reason="gauges not ok: x")
    assert d.size == 2500 and d.sleep == 0.05 and d.limited_by == "gauges not ok: x"


def test_fail_closed_when_the_gauges_go_quiet() -> None:
    p = Pacer(CFG, 5000)
    assert p.hold(None, 100.0) == ""  # no gauges: the lock budget alone paces
    s = sig(1, mono=10.0, lag=0.1)
    assert p.hold(s, 14.0) == ""
    why = p.hold(PaceSignals(mono=10.0, seq=1, error="connection lost"), 16.0)
    assert why == "gauges not read for 6 s (limit 5 s): connection lost"


def test_fail_closed_when_one_signal_goes_unread() -> None:
    p = Pacer(CFG, 5000)
    # the sampler runs, but the standby, read at t=10, is gone since
    s = PaceSignals(mono=17.0, seq=8, blocked=Reading(0.0, 17.0),
                    replica_lag=Reading(None, 10.0, note="standby gone: s@local"))
    assert p.hold(s, 17.5) == "replica lag not read for 8 s (limit 5 s): standby gone: s@local"
    # a gauge never read (no standby at all) is no signal
    s = PaceSignals(mono=17.0, seq=8, blocked=Reading(0.0, 17.0), replica_lag=Reading())
    assert p.hold(s, 17.5) == ""
