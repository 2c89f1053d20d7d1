"""The terminal plot's panels hold the numbers the PNG is drawn from."""

from __future__ import annotations

import datetime as dt

from migtui.events import GaugeSample
from migtui.plots import GaugeSeries
from migtui.plots.gauges import broken
from migtui.plots.gauges import panels as picture_panels
from migtui.plots.terminal import moments_text, panels, segments
from tests.tui.gauge_plot_helpers import demo_run_events


def test_the_panels_are_the_pictures_with_its_numbers():
    series = GaugeSeries.from_records([e.to_record() for e in demo_run_events()])
    got = panels(series)
    assert [p.key for p in got] == picture_panels(series) == ["latency", "backfill", "lag"]
    latency, backfill, lag = got
    (probe,) = latency.lines
    assert probe.points == [(t, v * 1000) for t, v in series.series("latency")]
    assert {lv.label: lv.y for lv in latency.levels} == {"baseline": 4.0, "trip limit": 6.0}
    assert [(m.kind, m.t) for m in latency.moments] == [("trip", 125.0), ("rollback", 150.0)]
    assert backfill.lines[0].label == "backfill backfill_status"
    assert backfill.lines[0].points == series.backfill["backfill_status"]
    assert lag.lines[0].points == series.series("replication_lag")
    assert moments_text(series) == [
        "T 2:05 trip: Performance degradation >50%",
        "R 2:30 rollback: rollback of drop_customer_index, backfill_status"]
    assert panels(GaugeSeries()) == []


def test_a_line_is_cut_where_no_sample_came():
    t0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    times = [0, 5, 10, 15, 60, 65, 70]
    series = GaugeSeries.from_records([
        GaugeSample(at=t0 + dt.timedelta(seconds=s), values={"latency": 0.001}).to_record()
        for s in times])
    assert segments(series.series("latency"), 1000) == (
        ((0.0, 1.0), (5.0, 1.0), (10.0, 1.0), (15.0, 1.0)), ((60.0, 1.0), (65.0, 1.0),
                                                             (70.0, 1.0)))


def test_a_backfill_is_cut_where_it_did_not_run():
    """Two backfill passes (the apply, then its rollback a minute later), two samples and
    one: the line breaks in between, measured against the samples' cadence (5 s), not
    against the backfill's own few points."""
    t0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    running = {55: 13000.0, 60: 13500.0, 120: 12600.0}
    series = GaugeSeries.from_records([
        GaugeSample(at=t0 + dt.timedelta(seconds=s), values={"latency": 0.001},
                    backfill={"fill": running[s]} if s in running else {}).to_record()
        for s in range(0, 130, 5)])
    assert series.cadence == 5.0
    (fill,) = next(p for p in panels(series) if p.key == "backfill").lines
    assert fill.segments == (((55.0, 13000.0), (60.0, 13500.0)), ((120.0, 12600.0),))
    xs, _ys = broken(series.backfill["fill"], usual=series.cadence)  # the PNG's line too
    assert [x for x in xs if x == x] == [55.0, 60.0, 120.0] and any(x != x for x in xs)


def test_a_backfill_is_cut_across_one_sample_without_it():
    """As the demo's final screen showed it: the apply's rate at 15 s and 20 s, one sample
    at 25 s without a backfill (the bad step, the trip), the rollback's rate at 31 s and
    37 s. The gap is twice the cadence, yet the line must not join the apply and the
    rollback."""
    t0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    running = {15: 67800.0, 20: 59700.0, 31: 52300.0, 37: 39000.0}
    series = GaugeSeries.from_records([
        GaugeSample(at=t0 + dt.timedelta(seconds=s), values={"latency": 0.001},
                    backfill={"fill": running[s]} if s in running else {}).to_record()
        for s in (0, 5, 10, 15, 20, 25, 31, 37, 43)])
    assert series.times == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 31.0, 37.0, 43.0]
    (fill,) = next(p for p in panels(series) if p.key == "backfill").lines
    assert fill.segments == (((15.0, 67800.0), (20.0, 59700.0)),
                             ((31.0, 52300.0), (37.0, 39000.0)))
    xs, _ys = broken(series.backfill["fill"], usual=series.cadence, times=series.times)
    assert sum(x != x for x in xs) == 1  # the PNG's line, cut once
    (probe,) = next(p for p in panels(series) if p.key == "latency").lines
    assert len(probe.segments) == 1  # the latency, present in every sample, is whole
