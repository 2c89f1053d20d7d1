"""The gauges' notes say each thing once: the panel showed "pg_stat_statements not
installed" three times on a server without the extension."""

from __future__ import annotations

from migtui.sampler.collect import distinct_notes


def test_a_note_said_inside_another_is_dropped() -> None:
    notes = ["latency timed client-side: pg_stat_statements not installed",
             "pg_stat_statements not installed",
             "app_latency inactive: pg_stat_statements not installed (CREATE EXTENSION …)",
             "", "smoke inactive: the plan has no monitoring.smoke",
             "smoke inactive: the plan has no monitoring.smoke"]
    assert distinct_notes(notes) == (
        "latency timed client-side: pg_stat_statements not installed",
        "app_latency inactive: pg_stat_statements not installed (CREATE EXTENSION …)",
        "smoke inactive: the plan has no monitoring.smoke")


def test_distinct_notes_keep_their_order() -> None:
    assert distinct_notes(["b", "a", "c"]) == ("b", "a", "c")
    assert distinct_notes([]) == ()
