"""migtui.sampler.window: percentiles with linear interpolation, and a time-based window."""

from __future__ import annotations

import pytest

from migtui.sampler.window import Window, median, percentile


def test_percentile_interpolates_between_the_nearest_ranks() -> None:
    xs = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(xs, 0) == 10.0
    assert percentile(xs, 100) == 50.0
    assert percentile(xs, 50) == 30.0
    assert percentile(xs, 25) == 20.0
    assert percentile(xs, 95) == pytest.approx(48.0)  # 4 * 0.95 = 3.8 -> 40 + 0.8 * 10
    assert percentile([1.0, 2.0], 50) == pytest.approx(1.5)


def test_percentile_sorts_its_input_and_accepts_any_iterable() -> None:
    assert percentile(iter([5.0, 1.0, 3.0]), 50) == 3.0
    assert percentile((9.0, 1.0), 0) == 1.0
    assert median({4.0, 2.0, 8.0, 6.0}) == pytest.approx(5.0)


def test_percentile_of_nothing_is_none_and_of_one_value_is_that_value() -> None:
    assert percentile([], 95) is None
    assert median([]) is None
    assert percentile([7.5], 0) == percentile([7.5], 99) == 7.5


def test_the_window_keeps_only_the_last_seconds() -> None:
    w = Window(10.0)
    for t in range(0, 25):  # one value per second, value = its time
        w.add(float(t), float(t))
    # at t=24 the window is [14, 24]: a value exactly `seconds` old is still kept
    assert w.values() == [float(t) for t in range(14, 25)]
    assert len(w) == 11
    assert w.percentile(50) == 19.0
    assert w.percentile(100) == 24.0


def test_a_gap_in_the_samples_empties_the_window_but_the_new_value() -> None:
    w = Window(5.0)
    w.add(100.0, 1.0)
    w.add(101.0, 2.0)
    w.add(200.0, 3.0)  # a long stall: everything older than 195 goes
    assert w.values() == [3.0]


def test_clear_forgets_every_value() -> None:
    w = Window(60.0)
    w.add(1.0, 1.0)
    w.add(2.0, 2.0)
    w.clear()
    assert len(w) == 0 and w.values() == [] and w.percentile(95) is None
    w.add(3.0, 4.0)
    assert w.values() == [4.0]
