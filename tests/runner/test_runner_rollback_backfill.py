"""A rollback written as a backfill: keyset batches, its own progress, resumable after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from migtui.control import RunControl
from migtui.events import NoteAdded, StepProgress, StepStarted
from migtui.plan import PlanError
from migtui.runnable import step_problems
from migtui.runner import Runner
from migtui.runner.history import ensure_schema
from tests.runner_helpers import make_plan, one, plan_text, q, wait_until

REPO = Path(__file__).resolve().parents[2]

STEPS = """
- id: bump
  backfill: {{table: items, key: id, set: "n = 1", where: "n = 0", batch_size: 100,
             min_batch: 100, max_batch: 100}}
  rollback:
    backfill: {{table: items, key: id, set: "n = 0", where: "n = 1", batch_size: 100,
               min_batch: 100, max_batch: 100, sleep: {sleep}}}
"""


def make_items(url: str, rows: int) -> None:
    q(url, "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)")
    q(url, "INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, %s) g", (rows,))
    q(url, "ANALYZE items")


def test_the_rollback_form_is_validated_like_a_forward_backfill() -> None:
    plan = make_plan(STEPS.format(sleep="0s"))
    bf = plan.steps[0].rollback_backfill
    assert bf is not None and bf.table == "items" and bf.batch_size == 100
    assert plan.steps[0].rollback_sql is None
    with pytest.raises(PlanError, match=r"rollback\.backfill\.set: found 2 statements"):
        make_plan("""
            - id: bump
              backfill: {table: items, set: "n = 1"}
              rollback: {backfill: {table: items, set: "n = 0; DROP TABLE items"}}
        """)
    with pytest.raises(PlanError, match=r"rollback\.backfil: unknown key"):
        make_plan("""
            - id: bump
              backfill: {table: items, set: "n = 1"}
              rollback: {backfil: {table: items, set: "n = 0"}}
        """)
    with pytest.raises(PlanError, match="expected the SQL that undoes the step, or"):
        make_plan("""
            - id: bump
              backfill: {table: items, set: "n = 1"}
              rollback: 42
        """)
    # a fragment the model let through is still refused before anything runs
    step = plan.steps[0]
    assert step.rollback_backfill is not None
    step.rollback_backfill.where = "true) OR (true"
    assert [p.field for p in step_problems(step)] == ["rollback.backfill.where"]


def test_rollback_runs_in_keyset_batches_and_records_one_row(db_url: str) -> None:
    make_items(db_url, 1000)
    plan = make_plan(STEPS.format(sleep="0s"))
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"
    events: list = []
    with Runner(plan, db_url, emit=events.append) as r:
        out = r.rollback()
        assert out.status == "rolled_back", out.message
        assert r.status()[0].state == "rolled_back"
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    started = [e for e in events if isinstance(e, StepStarted)]
    assert [(e.action, e.step_kind) for e in started] == [("rollback", "backfill")]
    prog = [e for e in events if isinstance(e, StepProgress)]
    assert len(prog) == 10 and {p.batch_size for p in prog} == {100}
    assert q(db_url, "SELECT action, status, rows FROM migtui.history ORDER BY id") == [
        ("apply", "applied", 1000), ("rollback", "rolled_back", 1000)]
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_a_cancelled_rollback_keeps_its_own_progress_and_resumes(db_url: str) -> None:
    make_items(db_url, 600)
    plan = make_plan(STEPS.format(sleep="0s"))
    control = RunControl()
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"

    def emit(e: object) -> None:
        if isinstance(e, StepProgress) and e.done == 200:
            control.cancel("stop half way")

    with Runner(plan, db_url, emit=emit, control=control) as r:
        assert r.rollback().status == "cancelled"
        st = r.status()[0]
        # part-way: still applied, with the rollback's last key; run refuses to go on
        assert st.state == "applied" and st.rolling_back == ("600", 200)
        out = r.apply()
        assert out.status == "failed" and "stopped part-way" in out.message
    assert q(db_url, "SELECT step_id, direction, last_key FROM migtui.progress") == [
        ("bump", "rollback", "600")]
    assert one(db_url, "SELECT count(*) FROM items WHERE n = 0") == 200
    events: list = []
    with Runner(plan, db_url, emit=events.append) as r:
        assert r.rollback().status == "rolled_back"
        assert r.status()[0].rolling_back is None
    notes = [e.text for e in events if isinstance(e, NoteAdded)]
    assert any("resuming the rollback after key 600" in n for n in notes)
    assert next(e for e in events if isinstance(e, StepProgress)).done == 300
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_rollback_of_a_partial_forward_backfill_clears_both_keys(db_url: str) -> None:
    make_items(db_url, 500)
    plan = make_plan(STEPS.format(sleep="0s"))
    control = RunControl()

    def emit(e: object) -> None:
        if isinstance(e, StepProgress) and e.done == 200:
            control.cancel("stop half way")

    with Runner(plan, db_url, emit=emit, control=control) as r:
        assert r.apply().status == "cancelled"
    assert q(db_url, "SELECT direction FROM migtui.progress") == [("apply",)]
    with Runner(plan, db_url) as r:
        # the forward key is not the rollback's: the rollback starts from the first row
        assert r.rollback().status == "rolled_back"
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_an_old_progress_table_is_upgraded(db_url: str) -> None:
    q(db_url, "CREATE SCHEMA migtui")
    q(db_url, "CREATE TABLE migtui.progress (plan_id text NOT NULL, step_id text NOT NULL, "
              "last_key text NOT NULL, rows_done bigint NOT NULL, rows_changed bigint NOT NULL,"
              " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (plan_id, step_id))")
    q(db_url, "INSERT INTO migtui.progress VALUES ('t-plan', 'bump', '30', 10, 10)")
    import psycopg
    with psycopg.connect(db_url, autocommit=True) as c:
        ensure_schema(c)
        ensure_schema(c)  # idempotent
    assert q(db_url, "SELECT step_id, direction, last_key FROM migtui.progress") == [
        ("bump", "apply", "30")]
    assert one(db_url, "SELECT count(*) FROM pg_index WHERE indrelid = "
                       "'migtui.progress'::regclass AND indisprimary AND indnatts = 3") == 1


def test_killed_mid_rollback_resumes_from_the_last_committed_batch(
        db_url: str, tmp_path: Path) -> None:
    make_items(db_url, 3000)
    plan_file = tmp_path / "bump.yaml"
    plan_file.write_text(plan_text(STEPS.format(sleep="30ms")))
    with Runner(make_plan(STEPS.format(sleep="0s")), db_url) as r:
        assert r.apply().status == "done"
    env = {**os.environ, "MIGTUI_TEST_TARGET_URL": db_url, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "migtui", "rollback", str(plan_file),
                             "--yes"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: (one(db_url, "SELECT coalesce(max(rows_done), 0) FROM "
                                               "migtui.progress") or 0) >= 500)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    last_key, done = q(db_url, "SELECT last_key, rows_done FROM migtui.progress "
                               "WHERE direction = 'rollback'")[0]
    # the key committed with its batch: exactly the rows up to it are undone
    assert one(db_url, "SELECT count(*) FROM items WHERE id <= %s AND n <> 0",
               (int(last_key),)) == 0
    assert one(db_url, "SELECT count(*) FROM items WHERE id > %s AND n <> 1",
               (int(last_key),)) == 0
    assert done < 3000
    plan = make_plan(STEPS.format(sleep="0s"))
    events: list = []
    with Runner(plan, db_url, emit=events.append) as r:
        st = r.status()[0]
        assert st.state == "applied" and st.rolling_back is not None
        assert r.rollback().status == "rolled_back"
    first = next(e for e in events if isinstance(e, StepProgress))
    assert first.done == done + 100
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    assert q(db_url, "SELECT action, status FROM migtui.history ORDER BY id") == [
        ("apply", "applied"), ("rollback", "rolled_back")]


def test_a_rollback_trigger_during_the_rollback_does_not_cancel_it(db_url: str) -> None:
    make_items(db_url, 500)
    plan = make_plan(STEPS.format(sleep="0s"))
    control = RunControl()
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"

    def emit(e: object) -> None:
        if isinstance(e, StepProgress) and e.done == 200:
            control.request_rollback("Error Rate 9% (limit 5%)")  # the guard's policy

    with Runner(plan, db_url, emit=emit, control=control) as r:
        out = r.rollback()
    assert out.status == "rolled_back", out.message
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    assert not control.cancelled and not control.rolling_back
