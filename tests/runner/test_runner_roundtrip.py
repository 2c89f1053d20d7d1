"""Runner: apply → rollback → apply of every example plan, history, changed steps, refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

from migtui.events import StepFinished, StepSkipped
from migtui.plan import load_plan
from migtui.runner import Runner
from tests.conftest import PLANS
from tests.runner_helpers import column_exists, history, make_plan, one

EXAMPLES = sorted(PLANS.glob("*.yaml"))


def schema_fingerprint(url: str) -> list[tuple]:
    from tests.runner_helpers import q
    return q(url, """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = 'public' ORDER BY 1, 2""") + q(url, """
        SELECT conname, contype::text, '' FROM pg_constraint c JOIN pg_namespace n
        ON n.oid = c.connamespace WHERE n.nspname = 'public' ORDER BY 1""") + q(url, """
        SELECT indexname, indexdef, '' FROM pg_indexes WHERE schemaname = 'public'
        ORDER BY 1""")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_plan_round_trip(shop_db: str, path) -> None:
    plan = load_plan(path)
    if any(s.manual or s.command for s in plan.steps):
        pytest.skip("plan needs an operator or a shell")
    before = schema_fingerprint(shop_db)
    events: list = []
    with Runner(plan, shop_db, emit=events.append, operator="alice", workdir=path.parent) as r:
        out = r.apply()
        assert out.status == "done", out.message
        assert {s.state for s in r.status()} == {"applied"}
        applied_schema = schema_fingerprint(shop_db)
        assert applied_schema != before
        again = r.apply()  # a re-run skips everything
        assert again.status == "done" and again.steps == ()
        assert sum(isinstance(e, StepSkipped) for e in events) == len(plan.steps)
        back = r.rollback(reason="test")
        assert back.status == "rolled_back", back.message
        assert {s.state for s in r.status()} == {"rolled_back"}
        assert schema_fingerprint(shop_db) == before
        out2 = r.apply()
        assert out2.status == "done", out2.message
        assert schema_fingerprint(shop_db) == applied_schema
    rows = history(shop_db, plan.id)
    n = len(plan.steps)
    assert [a for _s, a, _st, _e in rows] == ["apply"] * n + ["rollback"] * n + ["apply"] * n
    assert one(shop_db, "SELECT count(DISTINCT operator) FROM migtui.history") == 1
    assert one(shop_db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0


def test_history_row_and_captured_survive_a_new_runner(shop_db: str) -> None:
    plan = make_plan("""
        - id: count
          check: {sql: "SELECT count(*) FROM orders", capture: n_orders}
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        - id: same_count
          check: {sql: "SELECT count(*) FROM orders", expect: "= @n_orders"}
    """)
    with Runner(plan, shop_db, operator="alice") as r:
        assert r.apply(["count", "add_col"]).status == "done"
        assert r.captured == {"n_orders": 5000}
    with Runner(plan, shop_db, operator="bob") as r2:  # a new process would see the same
        assert r2.captured == {"n_orders": 5000}
        out = r2.apply()
        assert out.status == "done" and out.steps == ("same_count",)
    row = one(shop_db, "SELECT row_to_json(h) FROM migtui.history h WHERE step_id = 'add_col'")
    assert row["status"] == "applied" and row["operator"] == "alice"
    assert row["plan_id"] == "t-plan" and len(row["step_checksum"]) == 64
    assert row["finished_at"] and row["started_at"] and row["error"] is None


def test_failed_check_records_failure_and_stops(shop_db: str) -> None:
    plan = make_plan("""
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        - id: wrong
          check: {sql: "SELECT count(*) FROM orders", expect: "= 1"}
        - id: never
          sql: ALTER TABLE orders ADD COLUMN never int;
          rollback: ALTER TABLE orders DROP COLUMN never;
    """)
    with Runner(plan, shop_db) as r:
        out = r.apply()
        assert out.status == "failed" and out.failed_step == "wrong"
        assert "got 5000, expected = 1" in out.message
        states = {s.step_id: s.state for s in r.status()}
    assert states == {"add_col": "applied", "wrong": "failed", "never": "pending"}
    assert not column_exists(shop_db, "orders", "never")


def test_sql_error_names_step_statement_and_database_message(shop_db: str) -> None:
    plan = make_plan("""
        - id: good
          sql: ALTER TABLE orders ADD COLUMN a int;
          rollback: ALTER TABLE orders DROP COLUMN a;
        - id: bad
          sql: |
            ALTER TABLE orders ADD COLUMN b int;
            UPDATE no_such_table SET x = 1;
          rollback: ALTER TABLE orders DROP COLUMN b;
    """)
    with Runner(plan, shop_db) as r:
        out = r.apply()
    assert out.status == "failed" and out.failed_step == "bad"
    assert 'relation "no_such_table" does not exist' in out.message
    assert "UPDATE no_such_table SET x = 1" in out.message
    # the failed step's transaction rolled back as a whole, its history says so
    assert not column_exists(shop_db, "orders", "b")
    assert history(shop_db)[-1][:3] == ("bad", "apply", "failed")


def test_changed_applied_step_is_refused_with_a_diff(shop_db: str) -> None:
    steps = """
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """
    with Runner(make_plan(steps), shop_db) as r:
        assert r.apply().status == "done"
    changed = make_plan(steps.replace("note text", "note varchar(20)").replace(
        "DROP COLUMN note", "DROP COLUMN note"))
    with Runner(changed, shop_db) as r:
        st = r.status()[0]
        assert st.state == "applied" and st.changed
        out = r.apply()
        assert out.status == "failed" and out.failed_step == "add_col"
        assert "-ALTER TABLE orders ADD COLUMN note text;" in out.message
        assert "+ALTER TABLE orders ADD COLUMN note varchar(20);" in out.message
        # roll back (with the applied body recorded), then the new version applies
        assert r.rollback().status == "rolled_back"
        assert r.apply().status == "done"
    assert one(shop_db, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = 'orders'::regclass AND attname = 'note'") == \
        "character varying(20)"


def test_mixed_transaction_modes_are_refused_before_anything_runs(shop_db: str) -> None:
    plan = make_plan("""
        - id: first
          sql: ALTER TABLE orders ADD COLUMN a int;
          rollback: ALTER TABLE orders DROP COLUMN a;
        - id: mixed
          sql: |
            ALTER TABLE orders ADD COLUMN b int;
            CREATE INDEX CONCURRENTLY orders_b_idx ON orders (b);
          rollback: ALTER TABLE orders DROP COLUMN b;
    """)
    with Runner(plan, shop_db) as r:
        assert any("mixes" in p and "line 2" in p for p in r.problems())
        out = r.apply()
    assert out.status == "failed" and "cannot run in a transaction" in out.message
    assert not column_exists(shop_db, "orders", "a")  # nothing ran, not even the first step


def test_failed_concurrent_index_build_leaves_no_invalid_index(shop_db: str) -> None:
    plan = make_plan("""
        - id: uniq
          sql: CREATE UNIQUE INDEX CONCURRENTLY orders_customer_uniq ON orders (customer_id);
          rollback: DROP INDEX CONCURRENTLY IF EXISTS orders_customer_uniq;
    """)
    with Runner(plan, shop_db) as r:
        out = r.apply()
        assert out.status == "failed"
        assert "could not create unique index" in out.message
        assert r.status()[0].state == "failed"
    assert one(shop_db, "SELECT count(*) FROM pg_class WHERE relname = 'orders_customer_uniq'") == 0
    assert history(shop_db)[-1][:3] == ("uniq", "apply", "failed")


def test_rollback_to_a_step_and_irreversible_stop(shop_db: str) -> None:
    plan = make_plan("""
        - id: a
          sql: ALTER TABLE orders ADD COLUMN a int;
          rollback: ALTER TABLE orders DROP COLUMN a;
        - id: b
          sql: ALTER TABLE orders ADD COLUMN b int;
          irreversible: drops nothing but we say so
        - id: c
          sql: ALTER TABLE orders ADD COLUMN c int;
          rollback: ALTER TABLE orders DROP COLUMN c;
        - id: d
          sql: ALTER TABLE orders ADD COLUMN d int;
          rollback: ALTER TABLE orders DROP COLUMN d;
    """)
    events: list = []
    with Runner(plan, shop_db, emit=events.append) as r:
        assert r.apply().status == "done"
        out = r.rollback(to="d")
        assert out.status == "rolled_back" and out.steps == ("d",)
        assert column_exists(shop_db, "orders", "c") and not column_exists(shop_db, "orders", "d")
        out = r.rollback()
        assert out.status == "failed" and out.failed_step == "b"
        assert "irreversible" in out.message and "Rolled back: c" in out.message
        states = {s.step_id: s.state for s in r.status()}
        assert states == {"a": "applied", "b": "applied", "c": "rolled_back", "d": "rolled_back"}
        assert r.apply().steps == ("c", "d")  # rolled-back steps apply again
    assert any(isinstance(e, StepFinished) and e.action == "rollback" for e in events)


def test_runner_imports_no_textual() -> None:
    code = ("import sys, migtui.runner, migtui.runner.phases, migtui.cli.cmd_run; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
