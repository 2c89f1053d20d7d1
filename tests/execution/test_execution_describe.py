"""One describer of events as text, for the headless printer and the app's log."""

from __future__ import annotations

import io

from migtui.cli.printer import Printer
from migtui.events import (
    ItemFailed,
    ItemTicked,
    NoteAdded,
    RollbackFinished,
    RunStarted,
    StatementStarted,
    StepFailed,
    StepFinished,
    StepProgress,
    StepSkipped,
    ThresholdChanged,
)
from migtui.execution.describe import describe, style

EVENTS = [
    RunStarted(plan_id="p", target="main", database="shop", operator="ana"),
    StatementStarted(step_id="s", action="apply", index=0, sql="ALTER TABLE t\n  ADD c int", autocommit=False,
                     lock="ACCESS EXCLUSIVE"),
    StepFinished(step_id="s", action="apply", elapsed=1.25, rows=10),
    StepFailed(step_id="s", action="apply", elapsed=0.5, error="boom", sqlstate="42P01",
               statement="UPDATE x SET y = 1"),
    StepSkipped(step_id="s", reason="operator skipped: later (ana)"),
    NoteAdded(text="call the DBA", author="ana"),
    ItemTicked(item="phases.x/y", done=True, operator="ana", evidence="check 0 = 0"),
    ItemTicked(item="phases.x/y", done=False, operator="ana"),
    ItemFailed(item="phases.x/y", error="cancelled"),
    RollbackFinished(plan_id="p", ok=True, rolled_back=("a", "b"),
                     message="2 step(s) rolled back"),
    ThresholdChanged(metric="latency", state="trip", previous="warn", value=0.084,
                     threshold="+50%", limit=0.030, baseline=0.020,
                     since=None, trigger="Performance degradation >50%", policy="offer"),
]


def test_the_words() -> None:
    lines = [describe(e) for e in EVENTS]
    assert lines[0] == "run p on target main (database shop) by ana"
    assert lines[1] == "    1. [in transaction; lock ACCESS EXCLUSIVE] ALTER TABLE t ADD c int"
    assert lines[2] == "✓ s applied in 1.2s, 10 rows"
    assert lines[3] == ("✗ s apply failed: boom [SQLSTATE 42P01]\n"
                        "    statement: UPDATE x SET y = 1")
    assert lines[4] == "- s skipped: operator skipped: later (ana)"
    assert lines[5] == "  note by ana: call the DBA"
    assert lines[6] == "☑ phases.x/y: check 0 = 0"
    assert lines[7] == "☐ phases.x/y unticked by ana"
    assert lines[8] == "☒ phases.x/y failed: cancelled"
    assert lines[9] == "↺ rollback finished: 2 step(s) rolled back"
    assert lines[10] is not None and lines[10].startswith(
        "⛔ TRIP Performance degradation >50% tripped: latency 84")


def test_the_printer_prints_the_describers_words() -> None:
    out = io.StringIO()
    printer = Printer(out)
    for e in EVENTS:
        printer(e)
    assert out.getvalue() == "".join(f"{describe(e)}\n" for e in EVENTS)


def test_progress_is_a_line_off_a_terminal_and_styles_follow_the_outcome() -> None:
    p = StepProgress(step_id="bump", done=100, total=500, rate=250.0, eta=1.6, batch_size=100)
    assert describe(p) == "    bump: 100/500 rows, 250 rows/s, ETA 1.6s, batch 100"
    assert style(RollbackFinished(plan_id="p", ok=False, rolled_back=(), message="x")) == "bold red"
    assert style(EVENTS[10]) == "bold red"
    assert style(EVENTS[0]) == ""


def test_a_trip_stepping_down_to_warn_does_not_say_over_its_limit() -> None:
    down = ThresholdChanged(metric="latency", state="warn", previous="trip", value=0.0005,
                            threshold="+25%", limit=0.003, baseline=0.0005, since=None)
    up = ThresholdChanged(metric="latency", state="warn", previous="ok", value=0.005,
                          threshold="+25%", limit=0.003, baseline=0.0005, since=None)
    assert describe(down) == ("⚠ latency trip cleared, the warning holds until its recovery "
                              "period ends: 0.5ms (warn limit 3.0ms, +25%, baseline 0.5ms)")
    assert describe(up) == "⚠ latency warn: 5.0ms over 3.0ms (+25%, baseline 0.5ms)"
