"""The TUI's model without Textual or a database: the sections (from the template's
outline), step-row bookkeeping, action texts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing

import pytest

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
from migtui.plan import load_plan, outline
from migtui.plan.model import Action, ChecklistItem
from migtui.tui.model import StepRow, action_text, checklist_map, sections, update_rows
from tests.conftest import PLANS


def test_a_step_row_through_apply_retry_progress_and_finish() -> None:
    rows: dict[str, StepRow] = {}
    r = update_rows(rows, StepStarted(step_id="bump", action="apply", step_kind="backfill",
                                      statements=0), mono=100.0)
    assert r is rows["bump"] and r.state == "running"
    assert r.started_mono == pytest.approx(100.0, abs=0.5)  # now, less the event's age
    older = update_rows({}, StepStarted(step_id="bump", action="apply", step_kind="sql",
                                        statements=1,
                                        at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=40)),
                        mono=100.0)
    assert older is not None and older.started_mono == pytest.approx(60.0, abs=0.5)
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


def test_the_apps_sections_follow_the_outline() -> None:
    plan = load_plan(PLANS / "add-order-status.yaml")
    got = sections(plan)
    # Migration Strategy: one section per phase, headed as the export heads it
    phases = [s for s in got if s.phase is not None]
    assert [(s.key, s.title, s.checklists, s.phase) for s in phases] == [
        (f"{outline.STRATEGY.key}.{ph.key}", outline.phase_title(i, ph.name),
         (f"{outline.STRATEGY.key}.{ph.key}",), ph) for i, ph in enumerate(plan.phases, 1)]
    # every other section of the outline once, under its label, with its checklists, in
    # the outline's order but for the steps, listed before the phases that run them
    want = [s for s in outline.SECTIONS if s not in (outline.STRATEGY, outline.SCRIPTS)]
    want.insert(want.index(outline.SCHEMA) + 1, outline.SCRIPTS)
    assert [(s.key, s.title, s.checklists) for s in got if s.phase is None] == [
        (s.key, s.label, s.checklists) for s in want]
    at = [s.key for s in got].index(outline.SCRIPTS.key) + 1
    assert got[at:at + len(phases)] == phases  # where the template has Migration Strategy
    # the sections show every checklist of the plan, each once
    shown = [k for s in got for k in s.checklists]
    assert sorted(shown) == sorted(checklist_map(plan))
    # what the navigator lists
    assert [s.title for s in got] == [
        "Overview", "Schema Changes", "Steps", "Phase 1: Preparation", "Phase 2: Execution",
        "Phase 3: Verification", "Zero Downtime", "Data Migration", "Risks & Triggers",
        "Testing", "Code Changes", "Monitoring", "Documentation", "Timeline", "Communication"]


def test_the_sections_are_read_from_the_outline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a copy of it: an outline relabelled or shortened shows in the app at once."""
    plan = load_plan(PLANS / "add-order-status.yaml")
    changed = tuple(dataclasses.replace(s, label="Alerts") if s is outline.MONITORING else s
                    for s in outline.SECTIONS if s is not outline.TIMELINE)
    monkeypatch.setattr(outline, "SECTIONS", changed)
    titles = [s.title for s in sections(plan)]
    assert "Alerts" in titles and "Monitoring" not in titles and "Timeline" not in titles
