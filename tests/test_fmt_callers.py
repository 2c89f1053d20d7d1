"""The modules that show durations, row counts and cut text do it through ``migtui.fmt``."""

from __future__ import annotations

import datetime as dt

from migtui import fmt
from migtui.fleet.status import elapsed, member_table, view_row
from migtui.lint.sizes import MB, TableSize, TableSizes
from migtui.metrics.exporter import label
from migtui.rehearsal.diff import _value
from migtui.sampler.snapshot import format_value

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_fleet_durations_are_elapsed_times() -> None:
    assert elapsed(T0, T0 + dt.timedelta(seconds=3)) == "3.0s"
    assert elapsed(T0, T0 + dt.timedelta(seconds=125)) == "2m05s"  # was "125.0s"
    assert elapsed(T0, None) == elapsed(None, T0) == ""


def test_fleet_cuts_trips_and_errors_with_an_ellipsis() -> None:
    m = {"name": "a", "wave": 1, "state": "failed", "attempts": 1,
         "error": "tripped: " + "x" * 200 + "; more"}
    assert view_row(m, 20)[6] == "x" * 19 + "…"
    assert view_row(m, None)[6] == "x" * 200
    row = member_table([dict(m, error="e" * 200 + "\nsecond line")]).rows[0]
    assert row[-1] == "e" * 119 + "…"


def test_lint_estimates_count_rows_like_everywhere_else() -> None:
    sizes = TableSizes(tables={"t": TableSize(rows=12_345, heap_bytes=30 * MB,
                                              total_bytes=30 * MB)})
    estimate = sizes.estimate("t", "rewrite")
    assert estimate is not None and f"(~{fmt.rows(12_345)} rows)" in estimate
    assert "(~12.3k rows)" in estimate


def test_gauge_values_and_cut_text() -> None:
    assert format_value("latency", 0.00172) == "1.7ms" == fmt.duration_gauge(0.00172)
    assert format_value("replication_lag", 1.44) == "1.4s"
    assert _value("a  b\nc") == "a b c" and _value("y" * 200) == "y" * 119 + "…"
    assert label("one\ntwo " * 40, 20) == fmt.shorten("one two " * 40, 20)
