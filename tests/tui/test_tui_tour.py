"""The demo tour: the hints advance on the app's real events, never on timers."""

from __future__ import annotations

import datetime as dt
import re
import threading
from importlib import resources
from pathlib import Path

import psycopg

from migtui.demo.tour import TOUR, GaugeStates, StoryState, Tour
from migtui.demo.traffic import failing_transactions
from migtui.events import (
    BaselineRecorded,
    ReportExported,
    RollbackFinished,
    StepFinished,
    ThresholdChanged,
)
from migtui.journal import journal_path, read_journal
from migtui.tui import make_app
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.tour import TourPanel
from tests.tui.helpers import asynctest, until


def finished(step: str, action: str = "apply") -> StepFinished:
    return StepFinished(step_id=step, action=action, elapsed=0.1)


def threshold(metric: str, state: str) -> ThresholdChanged:
    return ThresholdChanged(metric=metric, state=state, previous="ok", value=1.0,
                            threshold="+50%", limit=1.0, baseline=0.5,
                            since=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))


def test_the_tour_follows_the_story() -> None:
    tour = Tour()
    assert tour.current is TOUR[0] and tour.position == (1, 9)
    assert not tour.advance(finished("add_status"))  # not before the baseline
    assert tour.advance(BaselineRecorded(seconds=2.0, metrics={}))
    # a latency recovery early in the story (a warn during the backfill) is no skip
    assert not tour.advance(threshold("latency", "ok"))
    assert not tour.advance(GaugeStates({"latency": "ok"}))
    assert not tour.advance(finished("add_status", action="rollback"))
    for step in ("add_status", "index_created_at", "backfill_status", "drop_customer_index"):
        assert tour.advance(finished(step))
    assert tour.current.title == "The trigger trips"
    assert not tour.advance(threshold("latency", "warn"))
    assert tour.advance(threshold("latency", "trip"))
    assert not tour.advance(RollbackFinished(plan_id="demo", ok=False, rolled_back=(), message="stopped"))
    assert tour.advance(RollbackFinished(plan_id="demo", ok=True, rolled_back=("add_status",), message=""))
    assert not tour.advance(GaugeStates({"latency": "ok", "error_rate": "trip"}))
    assert tour.advance(GaugeStates({"latency": "ok", "error_rate": "ok"}))
    assert tour.advance(ReportExported(path="/x/demo.report.md"))
    assert tour.done and tour.current is None and tour.report_path == "/x/demo.report.md"


def test_a_trip_ahead_of_the_story_jumps_to_the_rollback() -> None:
    tour = Tour()
    tour.advance(BaselineRecorded(seconds=2.0, metrics={}))
    assert tour.advance(threshold("latency", "trip"))  # tripped during the backfill
    assert tour.current.title == "R rolls back"


def test_the_tour_starts_where_the_story_stands() -> None:
    tour = Tour()
    assert not tour.follow(StoryState(frozenset(), baseline=False))
    assert tour.position == (1, 9)
    # a baseline but no step: the first step is next
    assert Tour().follow(StoryState(frozenset(), baseline=True))
    # an earlier demo left three steps applied: the bad step is next
    tour = Tour()
    assert tour.follow(StoryState(frozenset({"add_status", "index_created_at",
                                             "backfill_status"}), baseline=True))
    assert tour.current.title == "The bad step" and tour.position == (5, 9)
    # steps applied without a baseline: the baseline comes first, in the story's order
    tour = Tour()
    assert not tour.follow(StoryState(frozenset({"add_status"}), baseline=False))
    assert tour.current is TOUR[0]


def demo_plan(tmp_path: Path) -> Path:
    """The packaged demo plan with a short baseline and fast sampling."""
    text = resources.files("migtui.demo").joinpath("plan.yaml").read_text()
    text = re.sub(r"baseline: \d+s", "baseline: 2s", text)
    text = text.replace("sample_interval: 1s", "sample_interval: 0.25s")
    text = text.replace("latency_window: 5s", "latency_window: 1s")
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    return path


@asynctest
async def test_the_tour_advances_on_real_events(shop_db: str, tmp_path: Path) -> None:
    path = demo_plan(tmp_path)
    app = make_app(path, shop_db, operator="presenter", demo=True, tour=True)
    stop = threading.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.main
        await until(pilot, lambda: scr.statuses_known and scr.latest is not None)
        tour = app.tour
        panel = scr.query_one(TourPanel)
        assert "TOUR 1/9" in str(panel.render()) and "Capture a baseline" in str(panel.render())
        assert "DEMO" in str(scr.query_one("#top").render())
        # 1: the baseline item of Phase 1, run with r
        await pilot.press("j", "j", "j")
        await pilot.pause(0.3)
        await pilot.press("tab", "end", "r")
        await until(pilot, lambda: tour.index == 1)
        assert "TOUR 2/9" in str(panel.render())
        # 2-5: the steps of Phase 2, one x each
        await pilot.press("shift+tab", "j")
        await pilot.pause(0.3)
        for n, step in enumerate(("add_status", "index_created_at", "backfill_status",
                                  "drop_customer_index"), 2):
            await pilot.press("x")
            await until(pilot, lambda s=step: scr.rows[s].state == "applied" and scr.job is None)
            await until(pilot, lambda n=n: tour.index == n)
        # 6: a real trip (errors: the small shop's latency hardly moves without the index)
        t = threading.Thread(target=failing_transactions, args=(shop_db, stop))
        t.start()
        try:
            await until(pilot, lambda: tour.index == 6, timeout=40)
        finally:
            stop.set()
            t.join()
        assert "R rolls back" in str(panel.render())
        # 7: R asks once; 8: the gauges recover
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: tour.index >= 7, timeout=40)
        await until(pilot, lambda: tour.index == 8, timeout=60)
        # 9: export the report
        await pilot.press("e")
        await until(pilot, lambda: tour.done)
        assert "demo.report.md" in str(panel.render())
        banner = scr.query_one(TripBanner)  # nothing applied, nothing tripping: no TRIP
        assert not banner.tripped and "TRIP" not in str(banner.render())
    report = tmp_path / "demo.report.md"
    assert report.exists() and "Add order status (demo)" in report.read_text()
    kinds = [r["kind"] for r in read_journal(journal_path(path, "demo"))]
    assert "ReportExported" in kinds and "RollbackFinished" in kinds
    with psycopg.connect(shop_db) as c:  # the rollback put the index back
        assert c.execute("SELECT to_regclass('orders_customer_id_idx')").fetchone()[0]


@asynctest
async def test_after_a_demo_left_steps_applied_the_tour_starts_there(
        shop_db: str, tmp_path: Path) -> None:
    """An earlier demo recorded its baseline and applied three steps, then its terminal
    went away: the app offers to resume, and the tour says the bad step is next."""
    from migtui.journal import Journal
    from migtui.plan import load_plan
    from migtui.runner import Runner

    path = demo_plan(tmp_path)
    with Runner(load_plan(path), shop_db) as r:
        assert r.apply(["add_status", "index_created_at", "backfill_status"]).status == "done"
    journal = Journal(journal_path(path, "demo"))
    journal.record(BaselineRecorded(seconds=2.0, metrics={
        "latency": {"median": 0.001, "mad": 0.0001, "p95": 0.002}}))
    journal.close()
    app = make_app(path, shop_db, operator="presenter", demo=True, tour=True)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.main
        await until(pilot, lambda: scr.statuses_known)
        panel = scr.query_one(TourPanel)
        assert app.tour.current.title == "The bad step"
        assert "TOUR 5/9" in str(panel.render()) and "drop_customer_index" in str(panel.render())
