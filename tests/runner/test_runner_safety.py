"""Runner safety on a real server: lock timeouts and retries, a killed session, one run per
database, cancel."""

from __future__ import annotations

import threading

import psycopg
import pytest

from migtui.control import RunControl
from migtui.events import StepFailed, StepRetried
from migtui.runner import RunLocked, Runner
from tests.runner_helpers import column_exists, history, make_plan, one, q, wait_until

LOCK_SETTINGS = """
lock_timeout: 200ms
retries: 3
retry_base: 50ms
retry_max: 200ms
"""


def _waiting_migtui(url: str) -> bool:
    return bool(one(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                         "'migtui' AND wait_event_type = 'Lock'"))


def test_lock_contention_retries_then_fails_cleanly_and_never_queues_the_app(
        shop_db: str) -> None:
    plan = make_plan("""
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """, settings=LOCK_SETTINGS)
    events: list = []
    holder = psycopg.connect(shop_db)  # a long application transaction reading orders
    holder.execute("SELECT count(*) FROM orders").fetchone()
    app_done_while_held = threading.Event()
    app_errors: list[BaseException] = []
    result: list = []

    def migrate() -> None:
        with Runner(plan, shop_db, emit=events.append) as r:
            result.append(r.apply())

    def app_query() -> None:
        # queued behind migtui's ACCESS EXCLUSIVE request while it waits; it must get
        # through when migtui's lock_timeout gives up the request, while `holder` still
        # holds its lock (without lock_timeout it would wait as long as the holder)
        try:
            with psycopg.connect(shop_db, autocommit=True) as app:
                app.execute("SELECT count(*) FROM orders WHERE id < 100").fetchone()
            if not holder.closed and holder.info.transaction_status.name == "INTRANS":
                app_done_while_held.set()
        except BaseException as e:  # pragma: no cover - reported below
            app_errors.append(e)

    t = threading.Thread(target=migrate)
    t.start()
    try:
        assert wait_until(lambda: _waiting_migtui(shop_db)), "migtui never waited for the lock"
        app = threading.Thread(target=app_query)
        app.start()
        app.join(timeout=60)
        t.join(timeout=120)
    finally:
        holder.rollback()
        holder.close()
        t.join()
    assert not app_errors
    assert app_done_while_held.is_set(), "the application query stayed queued behind migtui"
    out = result[0]
    assert out.status == "failed" and out.failed_step == "add_col"
    assert "lock timeout" in out.message and "4 tries" in out.message
    retries = [e for e in events if isinstance(e, StepRetried)]
    assert [e.attempt for e in retries] == [1, 2, 3]
    assert all(0 < e.delay <= 0.2 for e in retries)
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert failed and failed[0].sqlstate == "55P03"
    assert not column_exists(shop_db, "orders", "note")
    assert history(shop_db)[-1][:3] == ("add_col", "apply", "failed")


def test_lock_released_between_retries_lets_the_step_through(shop_db: str) -> None:
    plan = make_plan("""
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """, settings=LOCK_SETTINGS.replace("retries: 3", "retries: 50"))
    events: list = []
    holder = psycopg.connect(shop_db)
    holder.execute("LOCK TABLE orders IN ACCESS SHARE MODE")
    result: list = []

    def migrate() -> None:
        with Runner(plan, shop_db, emit=events.append) as r:
            result.append(r.apply())

    t = threading.Thread(target=migrate)
    t.start()
    assert wait_until(lambda: any(isinstance(e, StepRetried) for e in events))
    holder.rollback()
    holder.close()
    t.join(timeout=120)
    assert result[0].status == "done", result[0].message
    assert column_exists(shop_db, "orders", "note")


def test_terminated_session_mid_step_fails_cleanly_and_history_matches(shop_db: str) -> None:
    plan = make_plan("""
        - id: slow
          sql: |
            ALTER TABLE orders ADD COLUMN note text;
            SELECT pg_sleep(60);
          rollback: ALTER TABLE orders DROP COLUMN note;
    """)
    result: list = []

    def migrate() -> None:
        with Runner(plan, shop_db) as r:
            result.append(r.apply())
            result.append(r.status())

    t = threading.Thread(target=migrate)
    t.start()
    find = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'migtui' "
            "AND datname = current_database() AND query LIKE '%%pg_sleep%%' "
            "AND state = 'active'")
    assert wait_until(lambda: bool(q(shop_db, find)))
    q(shop_db, f"SELECT pg_terminate_backend(pid) FROM ({find}) s")
    t.join(timeout=60)
    out, statuses = result
    assert out.status == "failed" and out.failed_step == "slow"
    assert "terminating connection" in out.message or "lost the connection" in out.message
    assert statuses[0].state == "failed"
    assert not column_exists(shop_db, "orders", "note")  # schema and history agree
    assert history(shop_db)[-1][:3] == ("slow", "apply", "failed")
    assert one(shop_db, "SELECT count(*) FROM migtui.history WHERE status = 'applied'") == 0


def test_second_concurrent_run_is_refused_and_names_the_holder(shop_db: str) -> None:
    plan = make_plan("""
        - id: a
          sql: SELECT 1;
          rollback: SELECT 1;
    """)
    with Runner(plan, shop_db) as first:
        pid = one(shop_db, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                           "AND database = (SELECT oid FROM pg_database "
                           "WHERE datname = current_database())")  # not another test's
        second = Runner(plan, shop_db)
        with pytest.raises(RunLocked) as exc:
            second.open()
        msg = str(exc.value)
        assert f"pid {pid}" in msg and "application_name migtui" in msg
        assert "connected since" in msg
        # status (not exclusive) still works during the run
        with Runner(plan, shop_db, exclusive=False) as viewer:
            assert viewer.status()[0].state == "pending"
        assert first.apply().status == "done"
    with Runner(plan, shop_db) as again:  # released when the first run closed
        assert again.status()[0].state == "applied"


def test_cancel_stops_the_statement_in_flight(shop_db: str) -> None:
    plan = make_plan("""
        - id: slow
          sql: |
            ALTER TABLE orders ADD COLUMN note text;
            SELECT pg_sleep(60);
          rollback: ALTER TABLE orders DROP COLUMN note;
    """)
    result: list = []
    runner = Runner(plan, shop_db)
    runner.open()

    def migrate() -> None:
        result.append(runner.apply())

    t = threading.Thread(target=migrate)
    t.start()
    assert wait_until(lambda: bool(q(shop_db, "SELECT 1 FROM pg_stat_activity WHERE "
                                              "application_name = 'migtui' AND state = 'active' "
                                              "AND query LIKE '%%pg_sleep%%'")))
    runner.cancel("operator pressed c")
    t.join(timeout=60)
    runner.close()
    assert result[0].status == "cancelled" and "operator pressed c" in result[0].message
    assert not column_exists(shop_db, "orders", "note")
    assert history(shop_db)[-1][:3] == ("slow", "apply", "failed")


def test_a_late_cancel_of_the_stopped_work_does_not_cancel_the_rollback(shop_db: str) -> None:
    # a trip's pg_cancel_backend is sent from the sampler's thread over a fresh connection;
    # on a busy machine it can arrive after the runner has already stopped at a safe point
    # and the rollback has begun: it must not cancel the rollback's statements. Here the
    # cancel is held back until the work session runs a statement (the rollback's first
    # read of its history, kept waiting by a lock), the worst moment for it to land.
    plan = make_plan("""
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """)
    control = RunControl()
    work_pid: list[int] = []

    def hold_the_cancel_until_the_work_session_is_busy() -> None:  # runs before the runner's
        wait_until(lambda: bool(one(shop_db, "SELECT count(*) FROM pg_stat_activity WHERE "
                                             "pid = %s AND state = 'active'", (work_pid[0],))),
                   tries=60)

    control.on_cancel(hold_the_cancel_until_the_work_session_is_busy)
    with Runner(plan, shop_db, control=control) as r:
        assert r.apply().status == "done"
        work_pid.append(int(one(shop_db, "SELECT pid FROM pg_stat_activity WHERE "
                                         "application_name = 'migtui'")))
        blocker = psycopg.connect(shop_db)
        blocker.execute("LOCK TABLE migtui.history IN ACCESS EXCLUSIVE MODE")
        sender = threading.Thread(target=control.request_rollback, args=("p99 latency",))
        sender.start()
        assert wait_until(lambda: control.rollback_requested)
        undone: list = []
        roller = threading.Thread(target=lambda: undone.append(
            r.rollback(reason=control.rollback_reason)))
        roller.start()
        sender.join(30)  # the cancel has been delivered
        blocker.rollback()
        blocker.close()
        roller.join(30)
    assert undone and undone[0].status == "rolled_back", undone
    assert not column_exists(shop_db, "orders", "note")
