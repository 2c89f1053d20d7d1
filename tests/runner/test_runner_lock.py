"""The one-run lock cannot be lost silently (issue 12, item 1).

The lock lives on the session that does the work, which sets ``idle_session_timeout = 0``
for itself; the runner verifies it before every step and every backfill batch. When the
session dies anyway (``pg_terminate_backend``, a network failure), the run stops with a
clear message instead of going on beside a second run: no row is ever changed twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from migtui.events import StepProgress
from migtui.runner import Runner
from migtui.runner.advisory import LOCK_CLASS, LOCK_OBJ
from migtui.runner.errors import LockLost, RunLocked
from tests.runner_helpers import make_plan, one, q, wait_until

ROWS = 3000
BATCH = 100
BACKFILL = f"""
- id: bump
  backfill:
    table: items
    key: id
    set: "c = coalesce(c, 0) + 1"
    batch_size: {BATCH}
    min_batch: {BATCH}
    max_batch: {BATCH}
    sleep: 100ms
  rollback: UPDATE items SET c = NULL;
"""
# this test database's lock only: other databases of the server may run migtui too
HOLDER = ("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
          f"AND classid = {LOCK_CLASS} AND objid = {LOCK_OBJ} AND objsubid = 2 AND database = "
          "(SELECT oid FROM pg_database WHERE datname = current_database())")


def make_items(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, c int)")
        c.execute("INSERT INTO items (id) SELECT g FROM generate_series(1, %s) g", (ROWS,))
        c.execute("ANALYZE items")


def counts(url: str) -> dict[Any, int]:
    return dict(q(url, "SELECT c, count(*) FROM items GROUP BY c"))


def test_idle_session_timeout_cannot_take_the_lock_from_a_running_run(db_url: str) -> None:
    """The harness's case: with a 1 s idle_session_timeout on the database, a second run
    started while the first one is busy must be refused, not run beside it."""
    make_items(db_url)
    db = one(db_url, "SELECT current_database()")
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{db}" SET idle_session_timeout = \'1s\'')
    plan = make_plan(BACKFILL)
    progress: list[StepProgress] = []
    first: list[Any] = []

    def run_first() -> None:
        with Runner(plan, db_url, emit=lambda e: progress.append(e)
                    if isinstance(e, StepProgress) else None) as r:
            first.append(r.apply())

    t = threading.Thread(target=run_first)
    t.start()
    # at 100 ms of sleep per batch, 15 batches take longer than the 1 s timeout
    assert wait_until(lambda: len(progress) >= 15 or not t.is_alive(), tries=600)
    assert t.is_alive(), "the first run ended before the second one could start"
    second = Runner(plan, db_url).apply()
    t.join(timeout=120)
    assert not t.is_alive()
    assert second.status == "failed" and "another migtui run holds the lock" in second.message
    assert first[0].status == "done", first[0].message
    assert counts(db_url) == {1: ROWS}


def test_new_sessions_turn_off_idle_timeouts(db_url: str) -> None:
    from migtui.runner.conn import connect

    db = one(db_url, "SELECT current_database()")
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{db}" SET idle_session_timeout = \'1s\'')
        c.execute(f'ALTER DATABASE "{db}" SET idle_in_transaction_session_timeout = \'1s\'')
    with connect(db_url) as conn:
        row = conn.execute("SELECT current_setting('idle_session_timeout'), "
                           "current_setting('idle_in_transaction_session_timeout')").fetchone()
        assert row == ("0", "0")


def test_a_terminated_lock_session_is_noticed_before_the_next_batch(db_url: str) -> None:
    """The session dies while the backfill sleeps between batches: the next batch does not
    run; the step fails naming the lock; what was committed stays, and a resume finishes."""
    make_items(db_url)
    plan = make_plan(BACKFILL)
    progress: list[StepProgress] = []
    result: list[Any] = []
    runner = Runner(plan, db_url, emit=lambda e: progress.append(e)
                    if isinstance(e, StepProgress) else None)
    runner.open()
    pid = one(db_url, HOLDER)
    assert pid == runner._ctx.work.pid  # the lock lives where the work happens

    def run() -> None:
        result.append(runner.apply())

    t = threading.Thread(target=run)
    t.start()
    assert wait_until(lambda: len(progress) >= 3, tries=600)
    one(db_url, "SELECT pg_terminate_backend(%s)", (pid,))
    t.join(timeout=60)
    runner.close()
    out = result[0]
    assert out.status == "failed" and out.failed_step == "bump"
    assert "run lock" in out.message and "re-run to resume" in out.message
    c = counts(db_url)
    assert set(c) <= {1, None}, c  # nothing twice
    key = one(db_url, "SELECT last_key::int FROM migtui.progress")
    assert c.get(1, 0) == key  # exactly the committed batches
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"
    assert counts(db_url) == {1: ROWS}


def test_verify_names_why_the_lock_is_gone(db_url: str) -> None:
    plan = make_plan("- id: a\n  sql: SELECT 1;\n  rollback: SELECT 1;")
    with Runner(plan, db_url) as r:
        work = r._ctx.work
        work.pin()
        work.verify()  # held: no error
        work.conn.execute("SELECT pg_advisory_unlock_all()")
        with pytest.raises(LockLost) as exc:
            work.verify()
        assert "no longer holds the run lock" in str(exc.value)
        # a new apply takes it again (nothing was in flight)
        assert r.apply().status == "done"
        pid = one(db_url, HOLDER)
        assert pid == work.pid
        one(db_url, "SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(LockLost) as exc:
            work.verify()
        assert "terminated" in str(exc.value)
        # another run takes the lock meanwhile: reconnecting must not steal or share it
        with Runner(plan, db_url) as other:
            with pytest.raises(LockLost) as exc:
                _ = work.conn
            assert "another migtui run holds the lock" in str(exc.value)
            assert other.status()[0].state == "applied"


# ---------------------------------------------------------------- the CLI, two real runs

PLAN = textwrap.dedent(f"""\
    migtui: 1
    id: lockplan
    title: Lock
    type: schema_change
    agent: tests
    targets:
      main: {{dsn_env: MIGTUI_LOCK_URL, environment: development}}
    steps:
      - id: bump
        backfill:
          table: items
          key: id
          set: "c = coalesce(c, 0) + 1"
          batch_size: {BATCH}
          min_batch: {BATCH}
          max_batch: {BATCH}
          sleep: 100ms
        rollback: UPDATE items SET c = NULL;
    """)


def start_run(plan: Path, url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "migtui", "run", str(plan), "--dsn", url, "--json",
         "--no-gauges"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(out: str) -> dict[str, Any]:
    evs = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    assert evs and evs[-1]["kind"] == "RunFinished", out[-2000:]
    return evs[-1]


def test_terminated_lock_session_with_a_second_run_changes_no_row_twice(
        db_url: str, tmp_path: Path) -> None:
    make_items(db_url)
    plan = tmp_path / "lock.yaml"
    plan.write_text(PLAN)
    first = start_run(plan, db_url)
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith("{") and json.loads(line)["kind"] == "StepProgress" \
                and json.loads(line)["done"] >= 3 * BATCH:
            break
    assert one(db_url, f"SELECT count(pg_terminate_backend(pid)) FROM ({HOLDER}) s") == 1
    second = start_run(plan, db_url)
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert "Traceback" not in err1 + err2, err1 + err2
    assert first.returncode == 1, (out1, err1)
    end = finished(out1)
    assert end["outcome"] == "failed" and "run lock" in end["message"], end
    assert second.returncode in (0, 1), (out2, err2)
    c = counts(db_url)
    assert set(c) <= {1, None}, f"rows changed twice: {c}"
    # whoever finishes, a last run converges to every row changed exactly once
    last = subprocess.run([sys.executable, "-m", "migtui", "run", str(plan), "--dsn", db_url,
                           "--json", "--no-gauges"], capture_output=True, text=True,
                          timeout=120)
    assert last.returncode == 0, last.stdout[-2000:] + last.stderr
    assert counts(db_url) == {1: ROWS}


def test_run_locked_is_still_raised_for_a_second_open(db_url: str) -> None:
    plan = make_plan("- id: a\n  sql: SELECT 1;\n  rollback: SELECT 1;")
    with Runner(plan, db_url), pytest.raises(RunLocked):
        Runner(plan, db_url).open()


def test_the_samplers_session_survives_an_idle_session_timeout(db_url: str) -> None:
    """The sampler idles between samples (up to 10 s): a shorter idle_session_timeout
    must not fail every other sample (a failed sample counts smoke queries as failed)."""
    import time

    from migtui.sampler.sampler import Sampler

    db = one(db_url, "SELECT current_database()")
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute(f'ALTER DATABASE "{db}" SET idle_session_timeout = \'300ms\'')
    plan = make_plan("- id: a\n  sql: SELECT 1;\n  rollback: SELECT 1;")
    sampler = Sampler(plan, db_url, interval=2.0)
    try:
        assert sampler.sample_once().error is None
        time.sleep(1.0)  # idle for longer than the timeout
        snap = sampler.sample_once()
        assert snap.error is None, snap.error
    finally:
        sampler.stop()

