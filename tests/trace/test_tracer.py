"""Traces on real PostgreSQL: the locks, rewrites and catalog changes statements really make."""

from __future__ import annotations

import pytest

from migtui.lint import lint_plan
from migtui.runner import Runner
from migtui.sql import split
from migtui.trace import Tracer
from migtui.trace.compare import judge, project_cost
from migtui.trace.model import StatementTrace
from migtui.trace.run import trace_plan
from tests.runner_helpers import make_plan, q


@pytest.fixture
def orders(db_url: str) -> str:
    q(db_url, "CREATE TABLE orders (id bigint PRIMARY KEY, note text, amount int); "
              "INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, 2000) g; "
              "CREATE TABLE customers (id bigint PRIMARY KEY); ANALYZE orders")
    return db_url


_plans = iter(range(10**6))


def _trace(url: str, sql: str, rollback: str = "SELECT 1") -> list[StatementTrace]:
    plan = make_plan(f"""
        - id: s
          sql: {sql!r}
          rollback: {rollback!r}
        """, plan_id=f"trace-{next(_plans)}")
    tracer = Tracer(url, lint_plan(plan))
    with Runner(plan, url, tracer=tracer) as r:
        out = r.apply()
        assert out.status == "done", out.message
    return tracer.traces


def test_volatile_default_rewrites_under_access_exclusive(orders: str) -> None:
    (tr,) = _trace(orders, "ALTER TABLE orders ADD COLUMN seen timestamptz "
                           "DEFAULT clock_timestamp()")
    assert tr.strongest is not None and tr.strongest.mode == "ACCESS EXCLUSIVE"
    assert tr.strongest.relation == "public.orders"
    assert "table public.orders" in tr.rewritten
    assert tr.predicted_rewrite and tr.agrees, tr.disagreements
    assert tr.held_seconds is not None and tr.held_seconds >= 0
    assert tr.rows == 2000


def test_constant_and_now_defaults_do_not_rewrite(orders: str) -> None:
    # PostgreSQL 11+ stores a non-volatile default once: now() is STABLE, evaluated at ALTER
    for default in ("'x'", "now()"):
        (tr,) = _trace(orders, f"ALTER TABLE orders ADD COLUMN c_{len(default)} text "
                               f"DEFAULT {default}")
        assert tr.strongest is not None and tr.strongest.mode == "ACCESS EXCLUSIVE"
        assert tr.rewritten == [] and tr.agrees, (default, tr.disagreements)


def test_plain_index_takes_share_and_concurrent_takes_share_update_exclusive(
        orders: str) -> None:
    (plain,) = _trace(orders, "CREATE INDEX orders_amount_idx ON orders (amount)")
    assert plain.strongest is not None and plain.strongest.mode == "SHARE"
    assert "index public.orders_amount_idx added" in plain.changes
    assert plain.agrees and not plain.sampled
    (cic,) = _trace(orders, "CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note)")
    assert cic.sampled and cic.autocommit
    assert cic.strongest is not None and cic.strongest.mode == "SHARE UPDATE EXCLUSIVE"
    assert cic.strongest.relation == "public.orders"
    assert "index public.orders_note_idx added" in cic.changes
    assert cic.agrees, cic.disagreements


def test_validate_constraint_takes_share_update_exclusive(orders: str) -> None:
    q(orders, "ALTER TABLE orders ADD CONSTRAINT amount_pos CHECK (amount > 0) NOT VALID")
    (tr,) = _trace(orders, "ALTER TABLE orders VALIDATE CONSTRAINT amount_pos")
    assert tr.strongest is not None and tr.strongest.mode == "SHARE UPDATE EXCLUSIVE"
    assert "CHECK public.orders.amount_pos validated" in tr.changes
    assert tr.agrees, tr.disagreements


def test_a_wrong_prediction_is_reported_as_a_disagreement(orders: str) -> None:
    (tr,) = _trace(orders, "ALTER TABLE orders ADD COLUMN z int")
    st = split("ALTER TABLE orders ADD COLUMN z int")[0]
    # a test-only rule table: pretend the lint predicted the weaker lock and a rewrite
    wrong = StatementTrace(step_id="s", which="sql", index=0, line=1, statement=st.text,
                           autocommit=False, locks=tr.locks, rewritten=[])

    class WrongLock(type(st)):  # type: ignore[misc]
        @property
        def lock(self) -> str:
            return "SHARE UPDATE EXCLUSIVE"

    from migtui.trace.catalog import Snapshot
    judge(wrong, WrongLock(st.text, st.node, st.offset, st.line), [], Snapshot({}, {}, {}))
    assert wrong.disagreements == [
        "predicted SHARE UPDATE EXCLUSIVE, took ACCESS EXCLUSIVE on public.orders"]


def test_trace_plan_traces_apply_and_rollback_and_projects_the_cost(orders: str) -> None:
    plan = make_plan("""
        - id: add_seen
          sql: ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT clock_timestamp()
          rollback: ALTER TABLE orders DROP COLUMN seen
        - id: idx
          sql: CREATE INDEX CONCURRENTLY orders_amount_idx ON orders (amount)
          rollback: DROP INDEX CONCURRENTLY orders_amount_idx
        """)
    from migtui.lint import TableSizes
    from migtui.lint.sizes import TableSize

    prod = TableSizes(tables={"public.orders": TableSize(12_000_000, 10**9, 2 * 10**9)})
    report = trace_plan(plan, orders, production=prod)
    assert report.applied and report.rolled_back, report.message
    passes = [(t.step_id, t.which) for t in report.traces]
    assert passes == [("add_seen", "sql"), ("idx", "sql"), ("idx", "rollback"),
                      ("add_seen", "rollback")]
    cost = report.costs[0]
    assert cost.startswith("ACCESS EXCLUSIVE on public.orders for ")
    assert "(2k rows); production has 12M rows: expect about" in cost
    text = report.text()
    assert "took ACCESS EXCLUSIVE on table public.orders" in text
    assert "rewrote: index public.orders_pkey, table public.orders" in text
    assert report.to_dict()["statements"][0]["projection"] == cost


def test_project_cost_scales_with_rows() -> None:
    from migtui.trace.model import LockHeld

    tr = StatementTrace(step_id="s", which="sql", index=0, line=1, statement="x",
                        autocommit=False, held_seconds=3.2,
                        locks=[LockHeld("ACCESS EXCLUSIVE", "public.orders", "table")])
    assert project_cost(tr, 40_000, 12_000_000) == (
        "ACCESS EXCLUSIVE on public.orders for 3.2 s on staging (40k rows); production has "
        "12M rows: expect about 16m")
