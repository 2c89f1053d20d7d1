"""Pilot tests of the app on a real database: navigation, ticks, steps, trip → rollback,
reopening and resuming, and keys handled while a slow statement runs."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from migtui.demo.traffic import failing_transactions
from migtui.tui import make_app
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.checklist import ChecklistView
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.sections import SectionsNav
from migtui.tui.widgets.steps import StepsTable
from tests.tui.helpers import (
    SIZE,
    SLOW_PLAN,
    asynctest,
    column_exists,
    connected,
    copy_plan,
    journal,
    main,
    until,
)


@asynctest
async def test_navigating_sections(shop_db: str, tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        content = app.screen.query_one(ContentPane)
        assert content.section is not None and content.section.key == "overview"
        nav = app.screen.query_one(SectionsNav)
        assert "2/5" in str(nav.get_option("overview").prompt)
        await pilot.press("j", "j")
        await pilot.pause()
        assert content.section.key == "steps"
        assert content.query_one(StepsTable).row_count == 8
        await pilot.press("j", "j")
        await pilot.pause()
        assert content.section.title == "Phase 2: Execution"
        assert len(content.query(ChecklistView)) == 1
        await pilot.press("end")
        await pilot.pause()
        assert content.section.key == "communication"


@asynctest
async def test_ticking_an_item_is_journaled(shop_db: str, tmp_path: Path) -> None:
    path = copy_plan(tmp_path)
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("tab")  # into the overview checklist
        assert isinstance(app.focused, ChecklistView)
        await pilot.press("down", "down", "space")
        await pilot.pause()
        nav = app.screen.query_one(SectionsNav)
        assert "3/5" in str(nav.get_option("overview").prompt)
    ticks = [r for r in journal(path, "add-order-status") if r["kind"] == "ItemTicked"]
    assert len(ticks) == 1
    t = ticks[0]
    assert t["item"] == "overview/zero-downtime-approach-verified"
    assert t["done"] is True and t["operator"] == "tester" and t["at"]


@asynctest
async def test_running_the_next_step(shop_db: str, tmp_path: Path) -> None:
    path = copy_plan(tmp_path)
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("j", "j", "x")
        await until(pilot, lambda: main(app).rows["add_status"].state == "applied")
        await until(pilot, lambda: main(app).job is None)
        table = app.screen.query_one(StepsTable)
        assert "applied" in str(table.get_cell("add_status", "st"))
    assert column_exists(shop_db, "orders", "status")
    kinds = [r["kind"] for r in journal(path, "add-order-status")]
    assert "StepStarted" in kinds and "StepFinished" in kinds




@asynctest
async def test_keys_are_handled_while_a_slow_step_runs(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_PLAN)
    app = make_app(path, db_url, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        scr = main(app)
        await pilot.press("x")
        await until(pilot, lambda: scr.rows["slow"].state == "running")
        # the event loop is free: navigation and a note work while pg_sleep(5) runs
        await pilot.press("j")
        await pilot.pause()
        assert app.screen.query_one(ContentPane).section.key == "schema"
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"still running", "enter")
        await pilot.pause()
        assert scr.rows["slow"].state == "running" and app.main.session.busy
        # and the running statement can be cancelled
        await pilot.press("c")
        await until(pilot, lambda: scr.rows["slow"].state == "failed", timeout=4.5)
        await until(pilot, lambda: scr.job is None)
    recs = journal(path, "slow")
    notes = [r for r in recs if r["kind"] == "NoteAdded"]
    assert notes and notes[0]["text"] == "still running" and notes[0]["author"] == "tester"
    failed = [r for r in recs if r["kind"] == "StepFailed"]
    assert failed and "cancel" in failed[0]["error"]
    assert recs.index(notes[0]) < recs.index(failed[0])  # noted while the step was running


TRIP_PLAN = """
migtui: 1
id: trip
title: Trip and roll back
type: schema_change
agent: tester
targets: {staging: {environment: staging}}
settings: {sample_interval: 0.25}
overview: [Ready]
documentation: [Done]
steps:
  - id: add_note
    sql: ALTER TABLE orders ADD COLUMN note text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS note;
risks:
  rollback_triggers:
    - {text: Error rate >5%, metric: error_rate, above: 5%, for: 1s}
"""


@asynctest
async def test_a_real_trip_then_a_quick_confirmed_rollback(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "trip.yaml"
    path.write_text(TRIP_PLAN)
    app = make_app(path, shop_db, operator="tester")
    stop = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        scr = main(app)
        await pilot.press("x")
        await until(pilot, lambda: scr.rows["add_note"].state == "applied")
        await until(pilot, lambda: scr.job is None)
        assert column_exists(shop_db, "orders", "note")
        banner = app.screen.query_one(TripBanner)
        assert not banner.tripped
        t = threading.Thread(target=failing_transactions, args=(shop_db, stop))
        t.start()
        try:
            await until(pilot, lambda: banner.tripped, timeout=30)
        finally:
            stop.set()
            t.join()
        text = str(banner.render())
        assert "Error Rate" in text and "threshold > 5%" in text
        assert "R rolls back 1 step(s) (asks once)" in text
        await pilot.press("R")  # asks once, listing what goes: never one accidental key
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "add_note" in app.screen.body
        await pilot.press("y")
        await until(pilot, lambda: scr.rows["add_note"].state == "rolled_back")
        await until(pilot, lambda: not scr.rolling_back)
        assert "ROLLED BACK" in str(banner.render())
    assert not column_exists(shop_db, "orders", "note")
    with psycopg.connect(shop_db) as c:
        last = c.execute("SELECT action, status FROM migtui.history WHERE step_id = 'add_note' "
                         "ORDER BY id DESC LIMIT 1").fetchone()
    assert last == ("rollback", "rolled_back")
    recs = journal(path, "trip")
    trips = [r for r in recs if r["kind"] == "ThresholdChanged" and r["state"] == "trip"]
    assert trips and trips[0]["metric"] == "error_rate"
    done = [r for r in recs if r["kind"] == "RollbackFinished"]
    assert done and done[-1]["ok"] is True and done[-1]["rolled_back"] == ["add_note"]


@asynctest
async def test_rollback_without_a_trip_asks_first(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "trip.yaml"
    path.write_text(TRIP_PLAN)
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        scr = main(app)
        await pilot.press("x")
        await until(pilot, lambda: scr.rows["add_note"].state == "applied" and scr.job is None)
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert column_exists(shop_db, "orders", "note")
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: scr.rows["add_note"].state == "rolled_back")
    assert not column_exists(shop_db, "orders", "note")


@asynctest
async def test_reopening_offers_to_resume(shop_db: str, tmp_path: Path) -> None:
    path = copy_plan(tmp_path)
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("j", "j", "x")
        await until(pilot, lambda: main(app).rows["add_status"].state == "applied")
        await until(pilot, lambda: main(app).job is None)
    # reopened: it says where the plan stands and offers to resume
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = str(app.screen.body)
        assert "1 of 8 steps are applied" in body and "Next: count_before" in body
        await pilot.press("y")
        scr = main(app)
        await until(pilot, lambda: all(r.state == "applied" for r in scr.rows.values())
                    and scr.job is None, timeout=60)
        assert app.screen.query_one(ContentPane).section.title == "Phase 2: Execution"
    with psycopg.connect(shop_db) as c:
        assert c.execute("SELECT count(*) FROM orders WHERE status IS NULL").fetchone() == (0,)
        assert c.execute("SELECT to_regclass('orders_status_idx')").fetchone()[0] is not None
    ticks = {r["item"] for r in journal(path, "add-order-status") if r["kind"] == "ItemTicked"}
    assert {"phases.execution/execute-migration-scripts",
            "phases.execution/verify-data-integrity"} <= ticks


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
@asynctest
async def test_layout_collapses_when_narrow(db_url: str, tmp_path: Path,
                                            size: tuple[int, int]) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_PLAN)
    app = make_app(path, db_url, operator="tester", sample=False)
    async with app.run_test(size=size) as pilot:
        await connected(pilot)
        gauges = app.screen.query_one("#gauges")
        strip = app.screen.query_one("#strip")
        narrow = size[0] < 120
        assert gauges.display is (not narrow) and strip.display is narrow
        await pilot.press("g")
        await pilot.pause()
        assert gauges.display is narrow  # g swaps the content for the gauges when narrow
        assert app.screen.query_one("#center").display is (not narrow or False)


@asynctest
async def test_enter_on_the_resume_question_does_not_resume(shop_db: str,
                                                           tmp_path: Path) -> None:
    """Resuming runs the rest of the phase: like every question that changes the database,
    Enter answers No (the drive by hand found Enter = Resume, a 3 a.m. trap)."""
    path = copy_plan(tmp_path)
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        await pilot.press("j", "j", "x")
        await until(pilot, lambda: main(app).rows["add_status"].state == "applied")
        await until(pilot, lambda: main(app).job is None)
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Enter answers No" in app.screen.hint()
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        await pilot.pause(1.0)
        assert main(app).job is None
        assert main(app).rows["count_before"].state == "pending"
