"""The TUI's model without Textual or a database: step-row bookkeeping, action texts."""

from __future__ import annotations

import typing

from migtui.events import (
    NoteAdded,
    StatementStarted,
    StepFailed,
    StepFinished,
    StepProgress,
    StepRetried,
    StepSkipped,
    StepStarted,
)
from migtui.execution.folds import SKIP_PREFIX
from migtui.plan.model import Action, ChecklistItem
from migtui.tui.model import StepRow, action_text, update_rows


def test_a_step_row_through_apply_retry_progress_and_finish() -> None:
    rows: dict[str, StepRow] = {}
    r = update_rows(rows, StepStarted(step_id="bump", action="apply", step_kind="backfill",
                                      statements=0), mono=100.0)
    assert r is rows["bump"] and r.state == "running" and r.started_mono == 100.0
    update_rows(rows, StepRetried(step_id="bump", attempt=2, of=3, delay=0.5,
                                  reason="lock timeout"), mono=101.0)
    update_rows(rows, StepProgress(step_id="bump", done=300, total=500, rate=1.0, eta=2.0,
                                   batch_size=100), mono=102.0)
    assert (rows["bump"].retries, rows["bump"].rows) == (2, 300)
    update_rows(rows, StepFinished(step_id="bump", action="apply", elapsed=3.0, rows=500,
                                   retries=2, result="500 rows"), mono=103.0)
    assert rows["bump"] == StepRow(state="applied", elapsed=3.0, retries=2, rows=500,
                                   result="500 rows", started_mono=None, action="apply")


def test_statements_rollback_failures_and_skips() -> None:
    rows: dict[str, StepRow] = {}
    update_rows(rows, StepStarted(step_id="a", action="rollback", step_kind="sql",
                                  statements=2), mono=5.0)
    assert rows["a"].state == "rolling_back" and rows["a"].statements == 2
    update_rows(rows, StatementStarted(step_id="a", index=1, sql="DROP INDEX i",
                                       autocommit=True, lock="ACCESS EXCLUSIVE",
                                       action="rollback"), mono=6.0)
    assert rows["a"].statement == 2
    update_rows(rows, StepFailed(step_id="a", action="rollback", error="boom", elapsed=1.0),
                mono=7.0)
    assert rows["a"].state == "applied" and rows["a"].result == "boom"  # still applied
    update_rows(rows, StepFailed(step_id="b", action="apply", elapsed=0.1, error="nope"), mono=7.0)
    assert rows["b"].state == "failed"
    # a runner skip (already applied) does not mark the row; an operator's skip does
    assert update_rows(rows, StepSkipped(step_id="c", reason="already applied"), 8.0) is None
    assert "c" not in rows
    update_rows(rows, StepSkipped(step_id="c", reason=f"{SKIP_PREFIX}later (ana)"), 8.0)
    assert rows["c"].state == "skipped"
    assert update_rows(rows, NoteAdded(text="x", author="y"), 9.0) is None


def test_every_action_has_words_in_the_app() -> None:
    union = typing.get_args(Action)[0]
    samples = {"RunSteps": {"steps": ["a"]}, "RunCheck": {"check": "SELECT 1", "expect": "= 1"},
               "RunCommand": {"command": "true"}, "RunBaseline": {"baseline": "30s"},
               "RunWatch": {"watch": "2m"}, "RunRehearse": {"rehearse": True}}
    for member in typing.get_args(union):
        cls = typing.get_args(member)[0]
        item = ChecklistItem.model_validate({"text": "x", "run": samples[cls.__name__]})
        assert action_text(item), cls.__name__
    watch = ChecklistItem.model_validate({"text": "x", "run": {"watch": "2m"}})
    assert action_text(watch).startswith("watch the gauges for 120s")
