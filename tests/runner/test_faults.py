"""Fault injection: kill -9 of ``migtui run``, a PostgreSQL restart, a killed connection.

After every fault, the database and ``migtui.history`` must agree (a step recorded as
applied is in the schema; a transactional step's effect is there only if recorded), no
step is applied twice, and ``migtui run`` again converges to the whole plan applied.

The plan is built to detect double application sharply:

* transactional steps also insert a row into ``marks``: two rows would mean twice;
* the backfill does ``n = n + 1`` on rows that start at 0: any 2 means a batch ran twice,
  and the rows at 1 must be exactly those up to the committed progress key.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from migtui.embedded import EmbeddedPostgres
from tests.runner_helpers import one, q, wait_until

PLAN_ID = "faults"
ROWS = 4000
BATCH = 200  # fixed (min = max), so the run has ROWS / BATCH progress events

PLAN = textwrap.dedent(f"""\
    migtui: 1
    id: {PLAN_ID}
    title: Fault injection
    type: schema_change
    agent: tests
    targets:
      main: {{dsn_env: MIGTUI_FAULTS_URL, environment: development}}
    settings: {{lock_timeout: 1s, statement_timeout: 0s, retries: 2}}
    steps:
      - id: add_col
        sql: |
          ALTER TABLE items ADD COLUMN c int;
          INSERT INTO marks (step) VALUES ('add_col');
        rollback: ALTER TABLE items DROP COLUMN c;
      - id: bump
        backfill:
          table: items
          key: id
          set: "n = n + 1, c = 1"
          batch_size: {BATCH}
          min_batch: {BATCH}
          max_batch: {BATCH}
          sleep: {{SLEEP}}
        rollback: UPDATE items SET n = n - 1, c = NULL WHERE c = 1;
      - id: idx
        sql: CREATE INDEX CONCURRENTLY IF NOT EXISTS items_c_idx ON items (c);
        rollback: DROP INDEX CONCURRENTLY IF EXISTS items_c_idx;
      - id: chk
        sql: |
          ALTER TABLE items ADD CONSTRAINT items_c_nn CHECK (c IS NOT NULL) NOT VALID;
          INSERT INTO marks (step) VALUES ('chk');
        rollback: ALTER TABLE items DROP CONSTRAINT items_c_nn;
      - id: validate
        sql: ALTER TABLE items VALIDATE CONSTRAINT items_c_nn;
        rollback: SELECT 1;
      - id: verify
        check: {{sql: "SELECT count(*) FROM items WHERE n <> 1 OR c IS NULL", expect: "= 0"}}
    """)

STEPS = ["add_col", "bump", "idx", "chk", "validate", "verify"]


def write_plan(tmp_path: Path, sleep: str = "0s") -> Path:
    p = tmp_path / "faults.yaml"
    p.write_text(PLAN.replace("{SLEEP}", sleep))
    return p


def reset(url: str, rows: int = ROWS) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP SCHEMA IF EXISTS migtui CASCADE")
        c.execute("DROP TABLE IF EXISTS items, marks")
        c.execute("CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)")
        c.execute("INSERT INTO items (id) SELECT g FROM generate_series(1, %s) g", (rows,))
        c.execute("CREATE TABLE marks (step text NOT NULL, at timestamptz DEFAULT now())")
        c.execute("ANALYZE items")


def start_run(plan: Path, url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "migtui", "run", str(plan), "--dsn", url, "--json",
         "--no-gauges"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def events(stdout: IO[str]) -> Iterator[dict[str, Any]]:
    for line in stdout:
        line = line.strip()
        if line.startswith("{"):
            yield json.loads(line)


def run_to_end(plan: Path, url: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = start_run(plan, url)
    out, err = proc.communicate(timeout=120)
    evs = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    return proc.returncode, evs, err


def run_and_kill(plan: Path, url: str, after_events: int, delay: float) -> bool:
    """Start a run, SIGKILL it after ``after_events`` event lines and ``delay`` seconds.

    True when the process was killed while running (False: it finished first)."""
    proc = start_run(plan, url)
    assert proc.stdout is not None
    for seen, _ev in enumerate(events(proc.stdout), 1):
        if seen >= after_events:
            break
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return alive


def wait_sessions_gone(url: str) -> None:
    """The killed client's backends end once they notice; the next run starts after that."""
    db = one(url, "SELECT current_database()")
    assert wait_until(lambda: one(
        url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name "
             "LIKE 'migtui%%' AND pid <> pg_backend_pid()", (db,)) == 0)


def latest_states(url: str) -> dict[str, str]:
    if not one(url, "SELECT to_regclass('migtui.history') IS NOT NULL"):
        return {}
    rows = q(url, "SELECT DISTINCT ON (step_id) step_id, action, status FROM migtui.history "
                  "WHERE plan_id = %s ORDER BY step_id, id DESC", (PLAN_ID,))
    return {sid: ("applied" if (a, s) == ("apply", "applied") else s) for sid, a, s in rows}


def progress_key(url: str) -> int | None:
    if not one(url, "SELECT to_regclass('migtui.progress') IS NOT NULL"):
        return None
    key = one(url, "SELECT last_key FROM migtui.progress WHERE plan_id = %s AND step_id = "
                   "'bump'", (PLAN_ID,))
    return int(key) if key is not None else None


def assert_consistent(url: str) -> dict[str, str]:
    """The history and the real schema agree; nothing was applied twice."""
    st = latest_states(url)
    applied = {s for s, v in st.items() if v == "applied"}
    has_c = bool(one(url, "SELECT count(*) FROM information_schema.columns WHERE "
                          "table_name = 'items' AND column_name = 'c'"))
    marks = dict(q(url, "SELECT step, count(*) FROM marks GROUP BY step"))
    # transactional steps: effect present exactly when recorded, and at most once
    assert has_c == ("add_col" in applied), st
    assert marks.get("add_col", 0) == (1 if "add_col" in applied else 0), (marks, st)
    has_con = bool(one(url, "SELECT count(*) FROM pg_constraint WHERE conname = 'items_c_nn'"))
    assert has_con == ("chk" in applied), st
    assert marks.get("chk", 0) == (1 if "chk" in applied else 0), (marks, st)
    # the backfill: every row bumped at most once, exactly up to the committed key
    ns = dict(q(url, "SELECT n, count(*) FROM items GROUP BY n"))
    assert set(ns) <= {0, 1}, f"rows bumped twice: {ns}"
    bumped = ns.get(1, 0)
    key = progress_key(url)
    if "bump" in applied:
        assert bumped == ROWS and key is None
    elif key is not None:
        assert bumped == one(url, "SELECT count(*) FROM items WHERE id <= %s", (key,))
        assert one(url, "SELECT count(*) FROM items WHERE (n = 1) <> (id <= %s)", (key,)) == 0
    else:
        assert bumped == 0, f"{bumped} rows bumped with no progress recorded"
    if "idx" in applied:
        assert one(url, "SELECT count(*) FROM pg_index WHERE indexrelid = "
                        "to_regclass('items_c_idx') AND indisvalid") == 1
    if "validate" in applied:
        assert one(url, "SELECT convalidated FROM pg_constraint WHERE conname = 'items_c_nn'")
    # one successful apply row per applied step
    twice = q(url, "SELECT step_id, count(*) FROM migtui.history WHERE plan_id = %s AND "
                   "action = 'apply' AND status = 'applied' GROUP BY step_id HAVING count(*) > 1",
              (PLAN_ID,)) if st else []
    assert twice == [], f"steps applied twice: {twice}"
    return st


def assert_converged(url: str) -> None:
    st = assert_consistent(url)
    assert st == dict.fromkeys(STEPS, "applied")
    assert one(url, "SELECT count(*) FROM items WHERE n = 1 AND c = 1") == ROWS
    assert one(url, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0


def resume(plan: Path, url: str) -> list[dict[str, Any]]:
    code, evs, err = run_to_end(plan, url)
    assert "Traceback" not in err, err
    assert code == 0, (code, err, evs[-3:])
    assert evs[-1]["kind"] == "RunFinished" and evs[-1]["outcome"] == "done"
    return evs


# ---------------------------------------------------------------- kill -9


def test_kill_9_at_random_points_always_resumes_to_the_same_schema(
        db_url: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, sleep="10ms")
    rng = random.Random(8)
    reset(db_url)
    full = len(resume(plan, db_url))  # event lines of a whole run, to spread the kills over
    kills = rounds = 0
    while kills < 20:
        rounds += 1
        assert rounds <= 15, f"only {kills} kills landed in {rounds - 1} rounds"
        reset(db_url)
        # kill the run, then kill its resumes too, each at a random event line plus a delay
        for upto in (full - 1, full // 2, full // 3):
            if run_and_kill(plan, db_url, rng.randint(1, upto), rng.uniform(0, 0.05)):
                kills += 1
            wait_sessions_gone(db_url)
            assert_consistent(db_url)
        evs = resume(plan, db_url)
        assert_converged(db_url)
        skipped = {e["step_id"] for e in evs if e["kind"] == "StepSkipped"}
        assert skipped == {s for s in STEPS if s not in
                           {e["step_id"] for e in evs if e["kind"] == "StepFinished"}}
    # a run after convergence does nothing but skip
    evs = resume(plan, db_url)
    assert [e["step_id"] for e in evs if e["kind"] == "StepSkipped"] == STEPS
    assert_converged(db_url)


# ---------------------------------------------------------------- a killed connection


def test_connection_killed_mid_backfill_fails_cleanly_and_resumes(
        db_url: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, sleep="50ms")
    reset(db_url)
    proc = start_run(plan, db_url)
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []
    for ev in events(proc.stdout):
        lines.append(ev)
        if ev["kind"] == "StepProgress" and ev["done"] >= 3 * BATCH:
            break
    # the work session, which runs the batches and holds the run lock
    killed = one(db_url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE application_name = 'migtui' AND datname = current_database()")
    assert killed == 1
    out, err = proc.communicate(timeout=60)
    lines += [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    assert "Traceback" not in err, err
    assert proc.returncode == 1, (out, err)
    failed = [e for e in lines if e["kind"] == "StepFailed"]
    assert [e["step_id"] for e in failed] == ["bump"]
    assert "connection" in failed[0]["error"].lower() or "terminat" in failed[0]["error"].lower()
    assert lines[-1]["kind"] == "RunFinished" and lines[-1]["outcome"] == "failed"
    st = assert_consistent(db_url)
    assert st == {"add_col": "applied", "bump": "failed"}
    assert progress_key(db_url) is not None  # the batches before the kill stay committed
    evs = resume(plan, db_url)
    assert any(e["kind"] == "NoteAdded" and "resuming after key" in e["text"] for e in evs)
    assert_converged(db_url)


# ---------------------------------------------------------------- PostgreSQL restarted


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    home = os.environ.get("MIGTUI_HOME")
    server = EmbeddedPostgres(name=f"faults-{os.getpid()}",
                              home=Path(home) if home else Path("/var/tmp/migtui-tests")
                              if os.geteuid() == 0 else Path(f"/tmp/migtui-tests-{os.getuid()}"),
                              settings={"fsync": "off", "full_page_writes": "off"})
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.mark.embedded_only
def test_postgres_restarted_mid_run_then_resume_converges(
        own_server: EmbeddedPostgres, tmp_path: Path) -> None:
    url = own_server.start()  # already running: returns its URL
    plan = write_plan(tmp_path, sleep="50ms")
    reset(url)
    proc = start_run(plan, url)
    assert proc.stdout is not None
    for ev in events(proc.stdout):
        if ev["kind"] == "StepProgress" and ev["done"] >= 3 * BATCH:
            break
    own_server.restart()
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode == 1, (out, err)
    finished = json.loads(out.strip().splitlines()[-1])
    assert finished["kind"] == "RunFinished" and finished["outcome"] == "failed"
    st = assert_consistent(url)
    assert st.get("add_col") == "applied" and st.get("bump") != "applied"
    resume(plan, url)
    assert_converged(url)


# ---------------------------------------------------------------- an interrupted index build


def test_an_invalid_index_left_by_an_interrupted_build_is_not_recorded_as_applied(
        db_url: str, tmp_path: Path) -> None:
    """A killed run or a restart mid-CREATE INDEX CONCURRENTLY leaves an INVALID index;
    the resume's ``IF NOT EXISTS`` would skip it silently. The step must fail instead."""
    plan = tmp_path / "cic.yaml"
    plan.write_text(textwrap.dedent("""\
        migtui: 1
        id: cic
        title: Unique index
        type: schema_change
        agent: tests
        targets: {main: {dsn_env: MIGTUI_FAULTS_URL, environment: development}}
        steps:
          - id: idx
            sql: CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS cic_v_idx ON cic (v);
            rollback: DROP INDEX CONCURRENTLY IF EXISTS cic_v_idx;
        """))
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("CREATE TABLE cic (id int PRIMARY KEY, v int)")
        c.execute("INSERT INTO cic VALUES (1, 1), (2, 1)")
        with pytest.raises(psycopg.errors.UniqueViolation):  # the interrupted build
            c.execute("CREATE UNIQUE INDEX CONCURRENTLY cic_v_idx ON cic (v)")
    code, evs, err = run_to_end(plan, db_url)
    assert "Traceback" not in err
    assert code == 1
    failed = [e for e in evs if e["kind"] == "StepFailed"]
    assert failed and "INVALID" in failed[0]["error"]
    assert q(db_url, "SELECT step_id, status FROM migtui.history") == [("idx", "failed")]
    # once the duplicate is fixed and the invalid index dropped, the step applies
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("UPDATE cic SET v = 2 WHERE id = 2")
        c.execute("DROP INDEX CONCURRENTLY cic_v_idx")
    code, evs, err = run_to_end(plan, db_url)
    assert code == 0, err
    assert one(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                       "'cic_v_idx'::regclass") is True
