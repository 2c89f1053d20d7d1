"""Issue 15, "the 3 a.m. screen", in the app: the trip banner shows the live state (tripping,
recovered with when, rolled back with when) and clears when new work starts; new work
during a trip needs a confirmation that names the trip; nothing applied means nothing to
roll back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from textual.widgets import Static

from migtui.events import ThresholdChanged
from migtui.sampler import Snapshot
from migtui.tui import make_app
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.gauges import Gauge, GaugesPanel, GaugeStrip
from tests.tui.helpers import SIZE, asynctest, column_exists, connected, main, until

PLAN = """
migtui: 1
id: trust
title: Two steps under a trigger
type: schema_change
agent: tester
targets: {staging: {environment: staging}}
overview: [Ready]
documentation: [Done]
steps:
  - id: add_note
    sql: ALTER TABLE orders ADD COLUMN note text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS note;
  - id: add_memo
    sql: ALTER TABLE orders ADD COLUMN memo text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS memo;
risks:
  rollback_triggers:
    - {text: Error rate >5%, metric: error_rate, above: 5%, for: 1s}
"""


def tc(state: str, previous: str) -> ThresholdChanged:
    now = dt.datetime.now(dt.UTC)
    return ThresholdChanged(metric="error_rate", state=state, previous=previous, value=12.0,
                            threshold="> 5%", limit=5.0, baseline=None, since=now,
                            policy="offer" if state == "trip" else "",
                            trigger="Error rate >5%" if state == "trip" else "")


def banner_text(app) -> str:
    banner = app.screen.query_one(TripBanner)
    return str(banner.render()) if banner.has_class("-shown") else ""


@asynctest
async def test_new_work_during_a_trip_asks_naming_it_and_the_banner_follows(
        shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text(PLAN)
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        scr = main(app)
        trip = tc("trip", "ok")
        app.session.emit(trip)
        app.session._offered(trip)  # as the guard's on_trip does for an offer trigger
        await until(pilot, lambda: "ROLLBACK TRIGGER TRIPPED" in banner_text(app))
        # nothing applied yet: no R to offer
        assert "Nothing applied: nothing to roll back" in banner_text(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Error rate >5%" in app.screen.body and "is tripped now" in app.screen.body
        await pilot.press("n")
        await pilot.pause()
        assert scr.job is None and not column_exists(shop_db, "orders", "note")
        # the trigger recovers: the banner says when, dimmed; the run is still paused
        app.session.emit(tc("ok", "trip"))
        await until(pilot, lambda: "Recovered at" in banner_text(app))
        assert app.screen.query_one(TripBanner).has_class("-recovered")
        # idle: nothing was paused mid-run; new work is held until the operator says so
        assert "New work is still held: x asks first, p releases" in banner_text(app)
        assert "Paused before the next step" not in banner_text(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "it has recovered" in app.screen.body
        await pilot.press("y")
        await until(pilot, lambda: scr.rows["add_note"].state == "applied" and scr.job is None)
        assert banner_text(app) == ""  # new work started: the recovered trip cleared
        assert not app.session.control.paused


@asynctest
async def test_a_rolled_back_banner_clears_when_new_steps_run(shop_db: str,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text(PLAN)
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        await connected(pilot)
        scr = main(app)
        await pilot.press("x")
        await until(pilot, lambda: scr.rows["add_note"].state == "applied" and scr.job is None)
        trip = tc("trip", "ok")
        app.session.emit(trip)
        app.session._offered(trip)  # the offer trip paused the run
        await until(pilot, lambda: "R rolls back 1 step(s)" in banner_text(app))
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "add_note" in app.screen.body
        await pilot.press("y")
        await until(pilot, lambda: "ROLLED BACK at" in banner_text(app))
        assert not column_exists(shop_db, "orders", "note")
        assert not app.session.control.paused
        await pilot.press("x")  # the trip was answered by the rollback: no question
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        await until(pilot, lambda: scr.rows["add_note"].state == "applied" and scr.job is None)
        assert banner_text(app) == ""


def snapshot(*, unreachable: bool) -> Snapshot:
    return Snapshot(taken_at=dt.datetime.now(dt.UTC), mono=0.0, elapsed=None, duration=0.0,
                    error="server closed the connection unexpectedly" if unreachable else None,
                    unreachable=unreachable)


@asynctest
async def test_a_lost_database_is_seen_everywhere_and_r_waits_for_it(
        shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text(PLAN)
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        scr = main(app)
        await pilot.press("x")
        await until(pilot, lambda: scr.rows["add_note"].state == "applied" and scr.job is None)
        app.session._snapshot(snapshot(unreachable=False))  # as the sampler delivers them
        app.session._snapshot(snapshot(unreachable=True))
        app.session._snapshot(snapshot(unreachable=True))
        gauges = scr.query_one(GaugesPanel)
        await until(pilot, lambda: gauges.has_class("-stale"))
        top = str(scr.query_one("#top", Static).render())
        assert "connection lost since" in top and "reconnecting (try 2)" in top
        await pilot.resize_terminal(160, 30)  # wide: which database is lost, too
        await pilot.pause()
        wide = str(scr.query_one("#top", Static).render())
        assert f"/{shop_db.rsplit('/', 1)[-1].split('?')[0]}" in wide, wide
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert all("last sample" in str(g.query_one(".g-text", Static).render())
                   for g in gauges.query(Gauge) if g.display)
        assert "LOST" in str(scr.query_one(GaugeStrip).render())
        assert " R " not in str(scr.query_one("#keys", Static).render())
        # a smoke trip while the database is gone: the banner does not invite R
        app.session.emit(tc("trip", "ok"))
        await until(pilot, lambda: "R is offered when it returns" in banner_text(app))
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert column_exists(shop_db, "orders", "note")
        # it comes back: live again, and R is offered
        app.session._snapshot(snapshot(unreachable=False))
        await until(pilot, lambda: not gauges.has_class("-stale"))
        assert "connection lost" not in str(scr.query_one("#top", Static).render())
        await until(pilot, lambda: "R rolls back 1 step(s)" in banner_text(app))


@asynctest
async def test_a_database_down_when_the_app_opens_is_tried_again_until_it_opens(
        shop_db: str, pg_admin_url: str, tmp_path: Path) -> None:
    """The server was down when the DBA opened the plan: the app says so, x does nothing
    and says why, and once the database is back the app opens it by itself."""
    import psycopg
    from psycopg import sql

    db = shop_db.rsplit("/", 1)[-1].split("?")[0]

    def allow(ok: bool) -> None:
        with psycopg.connect(pg_admin_url, autocommit=True) as c:
            c.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(db), sql.SQL("true" if ok else "false")))
            if not ok:
                c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (db,))

    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    allow(False)
    try:
        app = make_app(path, shop_db, operator="tester", sample=False)
        async with app.run_test(size=SIZE) as pilot:
            scr = main(app)
            await until(pilot, lambda: scr._open_tries >= 1)
            assert not app.main.session.online and not scr.statuses_known
            log = "".join(line.text for line in scr.query_one("#run-log").lines)
            assert "cannot open the database" in log and "trying again in" in log
            await pilot.press("x")
            await pilot.pause()
            assert scr.job is None
            allow(True)
            await until(pilot, lambda: scr.statuses_known and app.main.session.online,
                        timeout=40)
            log = "".join(line.text for line in scr.query_one("#run-log").lines)
            assert "connected:" in log
    finally:
        allow(True)


@asynctest
async def test_r_counts_what_the_runner_would_roll_back(tmp_path: Path) -> None:
    """Seen by hand: a cancelled SQL step (failed, nothing left behind) was listed as "R
    rolls back 1 step(s)", then the rollback had nothing to do. The app lists what the
    runner undoes: applied steps, and a failed backfill (its committed batches)."""
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("""risks:""", """  - id: fill
    backfill: {table: orders, key: id, set: "note = 'x'", where: "note IS NULL"}
    rollback: {backfill: {table: orders, key: id, set: "note = NULL", where: "note = 'x'"}}
risks:"""))
    app = make_app(path, None, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        scr = main(app)
        await pilot.pause()
        scr.rows["add_note"].state = "failed"
        assert scr.applied_steps() == []
        scr.rows["add_memo"].state = "applied"
        scr.rows["fill"].state = "failed"
        assert scr.applied_steps() == ["add_memo", "fill"]


def test_the_banner_says_the_value_now_beside_the_value_at_the_trip() -> None:
    """Seen by hand: the banner kept 77.6% from the moment of the trip, unlabelled, while
    the gauge read 94.5%. It shows the gauge's value now and the trip's, each labelled;
    without a live value (the connection is lost) only the trip's, said as such."""
    from migtui.execution.trip import TripState
    from migtui.tui.model import Clock
    from migtui.tui.widgets.banner import Context, render

    state = TripState()
    state.apply(tc("trip", "ok"))
    live = str(render(state, Clock(), Context(applied=("add_note",), now=94.5)))
    assert "Error Rate 94.5% now (tripped at 12.0%) vs threshold > 5%" in live, live
    old = str(render(state, Clock(), Context(applied=("add_note",), lost="connection lost")))
    assert "Error Rate 12.0% at the trip vs threshold > 5%" in old, old
    # paused: before the next step while a job runs; idle, new work is held
    running = str(render(state, Clock(), Context(applied=("a",), paused=True, running=True)))
    idle = str(render(state, Clock(), Context(applied=("a",), paused=True)))
    assert "Paused before the next step · p resumes" in running, running
    assert "New work is held: x asks first, p releases" in idle, idle
    # recovered while the database is lost: R is not offered on the banner either
    state.apply(tc("ok", "trip"))
    lost = str(render(state, Clock(), Context(applied=("a",), paused=True,
                                              lost="connection lost since 01:22:51")))
    assert "Recovered at" in lost and "R rolls back" not in lost, lost
    assert "connection lost since 01:22:51: R is offered when it returns" in lost, lost
    nothing = str(render(state, Clock(), Context(paused=True)))  # nothing applied
    assert "R rolls back" not in nothing and "nothing to roll back" in nothing, nothing


@asynctest
async def test_a_dangerous_question_says_that_enter_answers_no(tmp_path: Path) -> None:
    from textual.widgets import Label

    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    app = make_app(path, None, operator="tester", sample=False)
    async with app.run_test(size=SIZE) as pilot:
        answers: list[bool | None] = []
        app.push_screen(ConfirmModal("Roll back now?", "R rolls back 1 step(s).",
                                     yes="Roll back", danger=True), answers.append)
        await pilot.pause()
        hint = str(app.screen.query_one(".dialog-hint", Label).render())
        assert "Enter answers No" in hint and "y: Roll back" in hint, hint
        await pilot.press("enter")
        await pilot.pause()
        assert answers == [False]


@asynctest
async def test_a_database_never_reached_says_so_and_shows_no_age(tmp_path: Path) -> None:
    path = tmp_path / "trust.yaml"
    path.write_text(PLAN)
    app = make_app(path, "postgresql://postgres@127.0.0.1:1/nowhere", operator="tester",
                   sample=False)
    async with app.run_test(size=(80, 24)) as pilot:
        scr = main(app)
        app.session._snapshot(snapshot(unreachable=True))  # as the sampler delivers them
        gauges = scr.query_one(GaugesPanel)
        await until(pilot, lambda: gauges.has_class("-stale"))
        top = str(scr.query_one("#top", Static).render())
        assert "database not reached since" in top and "lost" not in top
        assert all("no sample yet" in str(g.query_one(".g-text", Static).render())
                   for g in gauges.query(Gauge) if g.display)
        strip = str(scr.query_one(GaugeStrip).render())
        assert "NOT REACHED" in strip and "ago" not in strip
