"""Issue 17 in the app: the locks the newest rehearsal of this plan text measured for a
step, beside the lint's findings for it, the lint's disagreements marked ✗."""

from __future__ import annotations

from pathlib import Path

from migtui.events import RehearsalFinished
from migtui.execution.step_traces import step_traces
from migtui.journal import Journal, journal_path
from migtui.plan import plan_checksum
from migtui.trace.model import LockHeld, StatementTrace
from migtui.tui import make_app
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.steps import StepDetail, StepsTable
from tests.tui.helpers import asynctest, rendered, unsafe_plan


def trace(step_id: str, which: str, mode: str, disagreements: list[str]) -> dict:
    t = StatementTrace(step_id=step_id, which=which, index=0, line=1,
                       statement="CREATE INDEX ...", autocommit=False,
                       locks=[LockHeld(mode, "public.orders", "table")], held_seconds=0.012,
                       predicted_lock="SHARE", disagreements=disagreements)
    return dict(t.to_dict(), projection="production has 12M rows: expect about 4m")


def finished(checksum: str, traces: list[dict], database: str = "staging_db"
             ) -> RehearsalFinished:
    return RehearsalFinished(plan_id="add-order-status", plan_checksum=checksum, ok=True,
                             target="staging", database=database, summary="clean",
                             duration=3.0, report={"traces": traces})


def test_the_newest_rehearsal_of_this_plan_text_is_chosen() -> None:
    old = finished("abc", [trace("s", "sql", "SHARE", [])], database="old").to_record()
    new = finished("abc", [trace("s", "sql", "ACCESS EXCLUSIVE", ["stronger"]),
                           trace("t", "sql", "SHARE", [])], database="new").to_record()
    other_text = finished("zzz", [trace("s", "sql", "SHARE", [])], database="x").to_record()
    untraced = finished("abc", [], database="untraced").to_record()
    got = step_traces([old, new, other_text, untraced], "abc", "s")
    assert got is not None and got.database == "new"
    assert [t["strongest"] for t in got.traces] == ["ACCESS EXCLUSIVE on table public.orders"]
    assert got.disagreements == ["stronger"]
    assert any(line.startswith("  ✗ lint disagrees: stronger") for line in got.lines())
    assert step_traces([new], "abc", "u") is None  # the rehearsal ran none of u
    assert step_traces([other_text], "abc", "s") is None  # another plan text


@asynctest
async def test_measured_locks_show_beside_the_findings(tmp_path: Path) -> None:
    path = unsafe_plan(tmp_path)
    checksum = plan_checksum(path.read_text())
    j = Journal(journal_path(path, "add-order-status"))
    j.record(finished(checksum, [
        trace("index_status", "sql", "SHARE", []),
        trace("index_status", "rollback", "ACCESS EXCLUSIVE",
              ["predicted SHARE, took ACCESS EXCLUSIVE on public.orders"])]))
    j.close()
    app = make_app(path, None, operator="tester", sample=False, frozen=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        content = app.screen.query_one(ContentPane)
        await pilot.press("j", "j")  # Steps
        await pilot.pause()
        table = content.query_one(StepsTable)
        table.move_cursor(row=3)  # index_status
        await pilot.pause()
        text = rendered(content.query_one(StepDetail))
        findings, measured = text.split("measured on staging (staging_db)", 1)
        assert "index-not-concurrent" in findings
        assert "apply line 1: SHARE on table public.orders for 0.012 s" in measured
        assert "✗ lint disagrees: predicted SHARE, took ACCESS EXCLUSIVE" in measured
        assert "production has 12M rows" in measured
        table.move_cursor(row=0)  # a step the rehearsal did not trace
        await pilot.pause()
        assert "no rehearsal of this plan text traced this step" in \
            rendered(content.query_one(StepDetail))
