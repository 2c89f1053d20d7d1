"""The exported report's run log: an outcome summary at the top, one heading per run with
a compact list, units instead of raw floats, the run's date; and it imports back stably."""

from __future__ import annotations

import datetime as dt
import re

from migtui.document import export_markdown, import_markdown
from migtui.document.importer import to_yaml
from migtui.events import (
    NoteAdded,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFailed,
    StepFinished,
    ThresholdChanged,
)
from migtui.plan import load_plan, load_plan_text
from migtui.state import RunState
from tests.conftest import PLANS

T0 = dt.datetime(2031, 7, 14, 9, 30, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def session() -> list[dict]:
    run1 = [
        RunStarted(at=at(0), plan_id="p", target="prod", database="shop", operator="alice"),
        NoteAdded(at=at(1), text="capturing the baseline", author="migtui"),
        StepFinished(at=at(5), step_id="add_status", action="apply", elapsed=0.12),
        StepFinished(at=at(40), step_id="backfill", action="apply", elapsed=30.0, rows=9000),
        ThresholdChanged(at=at(61), metric="latency", state="trip", previous="warn",
                         value=0.01645748680020915, threshold="+50%",
                         limit=0.0025915740001437, baseline=0.0017277160000958246,
                         since=None, trigger="Performance degradation >50%"),
        StepFailed(at=at(61.5), step_id="index", action="apply", elapsed=3.0,
                   error="cancelled: rollback requested"),
        RollbackStarted(at=at(62), plan_id="p", steps=("backfill", "add_status"),
                        reason="trip"),
        StepFinished(at=at(70), step_id="backfill", action="rollback", elapsed=8.0),
        StepFinished(at=at(71), step_id="add_status", action="rollback", elapsed=0.1),
        RunFinished(at=at(133), plan_id="p", outcome="rolled_back", message="trip"),
    ]
    talk = NoteAdded(at=at(200), text="Retrying tomorrow", author="bob",
                     channel="communication")
    run2 = [
        RunStarted(at=at(86400), plan_id="p", target="prod", database="shop",
                   operator="carol"),
        StepFinished(at=at(86401), step_id="add_status", action="apply", elapsed=0.1),
        RunFinished(at=at(86402), plan_id="p", outcome="done", message="ok"),
    ]
    return [e.to_record() for e in (*run1, talk, *run2)]


def test_the_log_is_grouped_by_run_with_units_and_a_summary_on_top():
    plan = load_plan(PLANS / "add-order-status.yaml")
    md = export_markdown(plan, RunState.from_records(session()))
    log = md.split("## Communication Log", 1)[1]
    heads = re.findall(r"^### (.+)$", log, re.M)
    assert heads[len(plan.communication):] == ["2031-07-14 09:30 UTC - alice", "2031-07-14 09:33 UTC - bob",
                     "2031-07-15 09:30 UTC - carol"]
    assert ("- 09:31:01 Rollback trigger tripped: Performance degradation >50% at 16ms "
            "(limit 2.6ms, threshold +50%, baseline 1.7ms)") in log
    assert "0.0164" not in md and "0.00172" not in md
    assert "- 09:30:01 capturing the baseline (migtui)" in log
    top = md.split("## Migration Overview", 1)[0]
    assert "## Current Session: 2031-07-15" in top  # the last run's day, not the plan's
    assert ("- 2031-07-14 09:30 UTC, by alice: Run on target prod (database shop): rolled "
            "back after 2m 13s. applied add_status, backfill; failed index; tripped "
            "Performance degradation >50% (16ms); rolled back backfill, add_status.") in top
    assert ("- 2031-07-15 09:30 UTC, by carol: Run on target prod (database shop): done "
            "after 2.0s. applied add_status; no trigger tripped.") in top
    assert "- [x] Performance degradation >50%" in md  # the trigger is ticked


def test_the_grouped_log_imports_and_exports_the_same():
    plan = load_plan(PLANS / "add-order-status.yaml")
    md = export_markdown(plan, RunState.from_records(session()))
    again = export_markdown(load_plan_text(to_yaml(import_markdown(md, "r.md")),
                                           "add-order-status.yaml"))
    assert again == md


def test_without_a_run_the_plan_date_and_no_summary():
    plan = load_plan(PLANS / "add-order-status.yaml")
    md = export_markdown(plan)
    date = plan.date.isoformat() if plan.date else "[DATE]"
    assert f"## Current Session: {date}" in md
    assert "**Outcome**" not in md


def test_an_app_session_that_rolled_back_is_not_called_done():
    """The drive by hand: an app session applied, tripped, rolled back and applied one step
    again; it closed with its last job's outcome, "done", and listed add_col twice."""
    recs = [
        RunStarted(at=at(0), plan_id="p", target="staging", database="shop",
                   operator="alice"),
        StepFinished(at=at(1), step_id="add_col", action="apply", elapsed=0.1),
        StepFinished(at=at(2), step_id="add_bad", action="apply", elapsed=0.1),
        StepFinished(at=at(30), step_id="add_bad", action="rollback", elapsed=0.1),
        StepFinished(at=at(31), step_id="add_col", action="rollback", elapsed=0.1),
        StepFinished(at=at(60), step_id="add_col", action="apply", elapsed=0.1),
        RunFinished(at=at(122), plan_id="p", outcome="done", message="app closed"),
    ]
    plan = load_plan(PLANS / "add-order-status.yaml")
    top = export_markdown(plan, RunState.from_records([e.to_record() for e in recs])
                          ).split("## Migration Overview", 1)[0]
    assert ("Run on target staging (database shop): rolled back, then done after 2m 02s. "
            "applied add_col, add_bad; no trigger tripped; rolled back add_bad, add_col; "
            "left applied add_col.") in top
    undone = [e for e in recs if not (isinstance(e, StepFinished) and e.at == at(60))]
    top = export_markdown(plan, RunState.from_records([e.to_record() for e in undone])
                          ).split("## Migration Overview", 1)[0]
    assert ": rolled back after 2m 02s." in top and "left applied nothing." in top
