"""migtui.fmt: the one place for durations, sizes, row counts and shortened text."""

from __future__ import annotations

import pytest

from migtui import fmt


def test_shorten_puts_text_on_one_line_and_cuts_with_an_ellipsis() -> None:
    assert fmt.shorten("SELECT 1\n  FROM   t") == "SELECT 1 FROM t"
    assert fmt.shorten(None) == ""
    assert fmt.shorten("abcdefghij", 5) == "abcd…"
    assert len(fmt.shorten("x " * 100, 20)) == 20
    assert fmt.shorten("abcde", 5) == "abcde"  # exactly the width: not cut


def test_quoted_is_a_cut_repr() -> None:
    assert fmt.quoted("abc") == "'abc'"
    cut = fmt.quoted("x" * 100, 40)
    assert len(cut) == 40 and cut.startswith("'xxx") and cut.endswith("...")


def test_first_line_keeps_the_first_line_and_scrubs_the_password() -> None:
    from migtui import secrets

    secrets.register("hunter2secret")  # scrubbed in every message once registered
    e = RuntimeError("\nconnection to postgresql://app:hunter2secret@db/x failed\nDETAIL: more")
    line = fmt.first_line(e)
    assert "hunter2secret" not in line and line.startswith("connection to")
    assert "DETAIL" not in line
    assert fmt.first_line(ValueError()) == "ValueError"
    assert fmt.first_line("one\ntwo") == "one"
    assert fmt.first_line("") == ""


@pytest.mark.parametrize(("s", "text"), [
    (0, "0.0s"), (1.25, "1.2s"), (59.9, "59.9s"), (60, "1m00s"), (125, "2m05s"),
    (3599, "59m59s"), (3600, "1h00m"), (3725, "1h02m"),
])
def test_duration_is_compact(s: float, text: str) -> None:
    assert fmt.duration(s) == text


@pytest.mark.parametrize(("s", "text"), [
    (0, "0s"), (0.25, "250ms"), (1, "1s"), (90, "90s"), (119, "119s"), (120, "2m"),
    (150, "150s"), (300, "5m"),
])
def test_duration_setting_reads_back_as_the_plan_wrote_it(s: float, text: str) -> None:
    from migtui.plan.values import parse_duration

    assert fmt.duration_setting(s) == text
    assert parse_duration(text) == pytest.approx(s)


def test_the_other_duration_formats() -> None:
    assert [fmt.duration_short(v) for v in (0.25, 1, 12.34)] == ["250 ms", "1.0 s", "12.3 s"]
    assert [fmt.duration_estimate(v) for v in (0.5, 90, 300, 9000)] == [
        "<1 s", "~90 s", "~5 min", "~2.5 h"]
    assert [fmt.duration_report(v) for v in (0.25, 12, 90, 600, 7200)] == [
        "0.25s", "12s", "90s", "10.0min", "2.0h"]


def test_rows_keeps_three_significant_figures() -> None:
    assert [fmt.rows(n) for n in (0, 950, 1000, 12_345, 4_500_000, 1_234_000_000)] == [
        "0", "950", "1k", "12.3k", "4.5M", "1.23G"]


def test_size_counts_in_powers_of_1024() -> None:
    assert [fmt.size(n) for n in (0, 512, 2048, 3.5 * 1024**2, 2 * 1024**3, 3 * 1024**4,
                                  5000 * 1024**4)] == [
        "0 B", "512 B", "2 kB", "3.5 MB", "2.0 GB", "3.0 TB", "5000.0 TB"]


@pytest.mark.parametrize(("s", "text"), [
    (0, "0.0s"), (5.9, "5.9s"), (10, "10s"), (12.4, "12s"), (59.4, "59s"), (59.6, "1m 00s"),
    (133, "2m 13s"), (3599, "59m 59s"), (3600, "1h 00m"), (3725, "1h 02m"),
    (26 * 3600 + 61, "26h 01m"),
])
def test_duration_document_reads_as_prose(s: float, text: str) -> None:
    assert fmt.duration_document(s) == text


@pytest.mark.parametrize(("s", "text"), [
    (0, "0.0ms"), (0.0005, "0.5ms"), (0.00172, "1.7ms"), (0.0099, "9.9ms"), (0.01, "10ms"),
    (0.0164, "16ms"), (0.999, "999ms"), (1, "1.0s"), (1.44, "1.4s"), (90, "90.0s"),
])
def test_duration_gauge_has_tenths_of_a_millisecond_under_ten(s: float, text: str) -> None:
    assert fmt.duration_gauge(s) == text


def test_rows_counted_is_exact_under_a_million() -> None:
    from migtui.fmt import rows_counted
    assert rows_counted(None) == ""
    assert rows_counted(999_999) == "999,999"
    assert rows_counted(1_234_567) == "1.23M"


def test_shorten_middle_keeps_both_ends() -> None:
    from migtui.fmt import shorten_middle
    assert shorten_middle("add_status", 12) == "add_status"
    cut = shorten_middle("backfill_customer_first_last_name_part_3", 16)
    assert cut == "backfill…_part_3" and len(cut) == 16
    assert shorten_middle("abc", 1) == "…"
