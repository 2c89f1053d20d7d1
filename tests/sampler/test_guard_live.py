"""The guard's policies steering a real run: pause a real backfill and resume it, and
an automatic rollback that really undoes the applied steps."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from migtui.control import RunControl
from migtui.events import StepPaused, StepProgress, StepResumed
from migtui.plan.model import Plan
from migtui.runner import Runner
from migtui.sampler import Guard, Sampler
from tests.sampler.live import DEADLINE, Events, background, running, wait_until

SLOW_BACKFILL = {"batch_size": 100, "min_batch": 100, "max_batch": 100, "sleep": "60ms"}  # time for the gauges to see it, even on a loaded machine


def run_plan(steps: list[dict[str, Any]], triggers: list[dict[str, Any]],
             integrity: list[dict[str, Any]] | None = None) -> Plan:
    return Plan.model_validate({
        "migtui": 1, "id": "guarded", "title": "t", "type": "data_migration", "agent": "me",
        "overview": [], "documentation": [], "steps": steps,
        "risks": {"rollback_triggers": triggers},
        "monitoring": {"integrity": integrity or []},
    })


def apply_in_thread(runner: Runner) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(runner.apply()), daemon=True)
    t.start()
    return t, out


def test_pause_policy_pauses_a_real_backfill_until_the_lock_wait_clears(shop_db):
    plan = run_plan(
        steps=[{"id": "add_status", "sql": "ALTER TABLE orders ADD COLUMN status text;",
                "rollback": "ALTER TABLE orders DROP COLUMN status;"},
               {"id": "fill_status",
                "backfill": {"table": "orders", "set": "status = 'pending'",
                             "where": "status IS NULL", **SLOW_BACKFILL},
                "rollback": "UPDATE orders SET status = NULL"}],
        triggers=[{"metric": "lock_waits", "above": "200ms", "for": "250ms", "policy": "pause"}])
    control = RunControl()
    events = Events()
    sampler = Sampler(plan, shop_db, interval=0.25)
    guard = Guard(plan, emit=events, control=control, recovery=0.25)
    sampler.on_snapshot = guard.observe
    holder = psycopg.connect(shop_db, application_name="report-job")

    def blocked_reader(stop: threading.Event) -> None:
        with psycopg.connect(shop_db, autocommit=True, application_name="app") as c:
            c.execute("SELECT count(*) FROM customers")

    with Runner(plan, shop_db, emit=events, control=control) as runner, running(sampler):
        t, outcome = apply_in_thread(runner)
        wait_until(lambda: any(isinstance(e, StepProgress) for e in events.items),
                   "the backfill to start")
        holder.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        with background(blocked_reader):
            wait_until(lambda: any(isinstance(e, StepPaused) for e in events.items),
                       "the backfill to pause")
            assert control.paused and "Lock Waits" in control.pause_reason
            progress_at_pause = sum(isinstance(e, StepProgress) for e in events.items)
            holder.rollback()  # the blocker goes away: the lock wait clears
            wait_until(lambda: any(isinstance(e, StepResumed) for e in events.items),
                       "the backfill to resume")
        t.join(DEADLINE)
    holder.close()
    assert outcome and outcome[0].status == "done", outcome
    kinds = [type(e).__name__ for e in events.items]
    paused_at, resumed_at = kinds.index("StepPaused"), kinds.index("StepResumed")
    assert "StepProgress" not in kinds[paused_at:resumed_at]  # no batch ran while paused
    assert sum(k == "StepProgress" for k in kinds) > progress_at_pause  # and it went on after
    assert events.changes("lock_waits") == ["trip", "ok"]
    assert not control.paused
    with psycopg.connect(shop_db) as c:
        assert c.execute("SELECT count(*) FROM orders WHERE status IS NULL").fetchone() == (0,)


def test_rollback_policy_rolls_a_corrupting_migration_back(shop_db):
    plan = run_plan(
        steps=[{"id": "add_flag", "sql": "ALTER TABLE orders ADD COLUMN flag int;",
                "rollback": "ALTER TABLE orders DROP COLUMN flag;"},
               {"id": "buggy_backfill",  # negates totals: the kind of bug integrity checks catch
                "backfill": {"table": "orders", "set": "total_cents = -total_cents - 1",
                             "where": "total_cents >= 0", **SLOW_BACKFILL},
                "rollback": "UPDATE orders SET total_cents = -total_cents - 1 "
                            "WHERE total_cents < 0"}],
        triggers=[{"text": "Data corruption detected", "metric": "integrity", "above": 0,
                   "for": "0s", "policy": "rollback"}],
        integrity=[{"name": "no negative totals",
                    "sql": "SELECT count(*) FROM orders WHERE total_cents < 0", "expect": "= 0"}])
    with psycopg.connect(shop_db) as c:
        before = c.execute("SELECT sum(total_cents), count(*) FROM orders").fetchone()
    control = RunControl()
    events = Events()
    sampler = Sampler(plan, shop_db, interval=0.25, check_every=1)
    sampler.on_snapshot = Guard(plan, emit=events, control=control).observe
    with Runner(plan, shop_db, emit=events, control=control) as runner, running(sampler):
        t, outcome = apply_in_thread(runner)
        t.join(DEADLINE)
        assert outcome, "the apply did not stop"
        assert outcome[0].status == "rollback_requested", outcome
        assert "Data corruption detected" in control.rollback_reason
        # the caller (TUI or headless run) rolls back when a rollback is requested
        undone = runner.rollback(reason=control.rollback_reason)
    assert undone.status == "rolled_back", undone
    assert set(undone.steps) == {"add_flag", "buggy_backfill"}
    assert events.changes("integrity")[0] == "trip"
    with psycopg.connect(shop_db) as c:
        assert c.execute("SELECT sum(total_cents), count(*) FROM orders").fetchone() == before
        assert c.execute("SELECT count(*) FROM information_schema.columns WHERE "
                         "table_name = 'orders' AND column_name = 'flag'").fetchone() == (0,)
