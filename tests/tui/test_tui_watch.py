"""Watch mode (issue 15 item 3): the app opened on a plan whose run another migtui process
holds follows that run read-only — the holder named, its step, the history and the journal
as they grow — and offers to take over once the lock is free."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from migtui.execution.run import Run
from migtui.execution.watching import WatchUpdate, event_of
from migtui.plan import load_plan
from migtui.tui import make_app
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.widgets.steps import StepsTable
from tests.tui.helpers import asynctest, until

PLAN = """
migtui: 1
id: watched
title: Watched plan
type: schema_change
agent: tester
targets: {dev: {environment: development}}
settings: {require_rehearsal: "off"}
overview: [Ready]
steps:
  - id: add_note
    sql: ALTER TABLE orders ADD COLUMN note text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS note;
  - id: slow
    sql: SELECT pg_sleep(4);
    rollback: SELECT 1;
  - id: add_flag
    sql: ALTER TABLE orders ADD COLUMN flag boolean;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS flag;
"""


def top(app) -> str:
    return str(app.main.query_one("#top").render())


def test_a_journal_record_is_the_event_it_was() -> None:
    rec = {"kind": "StepStarted", "at": "2026-12-03T09:00:00+00:00", "step_id": "a",
           "action": "apply", "step_kind": "sql", "unknown_field": 1}
    e = event_of(rec)
    assert e is not None and e.kind == "StepStarted" and e.at.year == 2026
    assert event_of({"kind": "GaugeSample"}) is None  # not shown by the screens


@asynctest
async def test_watching_another_run_then_taking_over(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "watched.yaml"
    path.write_text(PLAN)
    other = Run(load_plan(path), path, shop_db, operator="headless", gauges=False)
    assert other.runner is not None
    other.start()
    other.runner.open()  # holds the run lock, as a headless `migtui run` does
    other.runner.apply(["add_note"])
    app = make_app(path, shop_db, operator="tester", sample=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            s = app.main.session
            await until(pilot, lambda: s.watching is not None and "pid" in app.main.watch_text)
            assert "WATCHING" in top(app) and "pid" in top(app)
            assert "no step running for " in top(app) and "(last: add_note)" in top(app)
            # named by its migtui process (from its journal), and how to take over
            assert f"migtui pid {os.getpid()} on {socket.gethostname()}" in app.main.watch_text
            told = "".join(line.text for line in app.main.query_one("#run-log").lines)
            assert f"kill {os.getpid()}" in told and "pg_terminate_backend(" in told
            assert app.main.rows["add_note"].state == "applied"
            assert not s.online  # read-only: x, a and R say why and do nothing
            await pilot.press("x")
            await pilot.pause()
            assert app.main.job is None
            # the other run starts a slow step: the app sees it running, by name
            slow = asyncio.create_task(asyncio.to_thread(other.runner.apply, ["slow"]))
            await until(pilot, lambda: app.main.rows["slow"].state == "running"
                        and "running step slow" in top(app))
            # its time counts from the journal's StepStarted, and goes on (the tick)
            await until(pilot, lambda: app.main.rows["slow"].started_mono is not None)
            await pilot.press("j", "j")  # the Steps section
            await until(pilot, lambda: app.main.query(StepsTable))
            table = app.main.query_one(StepsTable)
            await until(pilot, lambda: str(table.get_cell("slow", "elapsed")).strip()
                        not in ("", "—"))
            await slow
            await until(pilot, lambda: app.main.rows["slow"].state == "applied")
            log = "".join(line.text for line in app.main.query_one("#run-log").lines)
            assert "slow" in log and "another migtui run holds the lock" in log
            # the other run ends: the app offers to take over, then to resume
            other.finish("done", "stopped for the test")
            other.close()
            await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
            assert app.screen.title_text == "Take over this run?"
            await pilot.press("y")
            await until(pilot, lambda: s.watching is None and s.online
                        and isinstance(app.screen, ConfirmModal)
                        and app.screen.title_text == "Resume this plan?")
            await pilot.press("y")
            await until(pilot, lambda: app.main.rows["add_flag"].state == "applied"
                        and app.main.job is None)
    finally:
        other.close()


def test_a_watch_update_says_who_holds_the_lock() -> None:
    from migtui.execution.watching import LockHolder

    u = WatchUpdate([], [], [], LockHolder(42, "local socket", "2026-12-03 09:01:02",
                                           "between steps"), "running step slow (apply)",
                    "slow")
    assert u.summary() == ("running step slow (apply) · backend pid 42 from local socket "
                           "since 09:01:02")  # no journal: its database session
    assert "pg_terminate_backend(42)" in u.how_to_stop()
    named = WatchUpdate([], [], [], u.holder, "between steps", "", 4242, "dba-laptop")
    assert named.summary() == ("between steps · migtui pid 4242 on dba-laptop since "
                               "09:01:02")
    assert "kill 4242 on dba-laptop" in named.how_to_stop()
    assert WatchUpdate([], [], [], None, "", "").free


BACKFILL = PLAN.replace("""  - id: slow
    sql: SELECT pg_sleep(4);
    rollback: SELECT 1;
""", """  - id: slow
    backfill:
      table: orders
      key: id
      set: "note = 'x'"
      where: "note IS NULL AND pg_sleep(0.001) IS NOT NULL"
      batch_size: 250
    rollback: UPDATE orders SET note = NULL;
""")


def test_watching_reads_a_running_backfills_checkpoint(shop_db: str, tmp_path: Path) -> None:
    import threading
    import time

    from migtui.events import StepProgress
    from migtui.execution.watching import Watching

    path = tmp_path / "watched.yaml"
    path.write_text(BACKFILL)
    plan = load_plan(path)
    other = Run(plan, path, shop_db, operator="headless", gauges=False)
    assert other.runner is not None
    other.start()
    other.runner.apply(["add_note"])
    w = Watching(plan, shop_db, other.journal_path, known=0, plan_id="watched")
    worker = threading.Thread(target=other.runner.apply, args=(["slow"],))
    worker.start()
    try:
        seen: list[StepProgress] = []
        deadline = time.monotonic() + 20
        while worker.is_alive() and time.monotonic() < deadline and len(seen) < 2:
            u = w.poll()
            assert not u.free and u.step in ("", "slow")
            # the step's start, for a Time column that counts from it (not from the poll)
            assert u.step == "" or (u.step_since is not None and "running step slow (apply) "
                                    "for " in u.doing)
            seen += [e for e in u.events if isinstance(e, StepProgress)]
            time.sleep(0.5)
        assert len(seen) >= 2 and 0 < seen[0].done < seen[-1].done <= 5000
        assert seen[-1].rate > 0  # measured between two polls
    finally:
        worker.join()
        w.close()
        other.close()
