"""Size awareness against a real database: catalog sizes, severities, estimates, risk."""

from __future__ import annotations

import dataclasses

import psycopg

from migtui.lint import TableSizes, derived_risks, lint_plan
from migtui.lint.sizes import MB
from migtui.plan.model import RiskLevel
from tests.lint_helpers import plan_with


def _big_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id bigint PRIMARY KEY, payload text)")
        conn.execute("INSERT INTO events SELECT g, repeat('x', 120) FROM generate_series(1, 60000) g")
        conn.execute("VACUUM ANALYZE events")


def test_sizes_severity_and_estimates(shop_db):
    _big_table(shop_db)
    sizes = TableSizes.read(shop_db)
    assert sizes.server_version and sizes.server_version >= 120000
    orders, events = sizes.get("orders"), sizes.get("public.events")
    assert orders and orders.rows == 5000 and orders.total_bytes > orders.heap_bytes > 0
    assert events and events.rows == 60000 and events.heap_bytes > 5 * MB
    assert sizes.index_tables["orders_customer_id_idx"] == "orders"
    assert sizes.category("customers") == "small" and sizes.category("events") == "medium"
    # a table at or above large_bytes is large: lower the threshold below the real size
    big = dataclasses.replace(sizes, large_bytes=5 * MB)
    assert big.category("events") == "large" and big.category("customers") == "small"

    plan = plan_with(
        {"sql": "ALTER TABLE customers ALTER COLUMN full_name TYPE varchar(200);"},
        {"sql": "ALTER TABLE events ALTER COLUMN id TYPE numeric;"},
        {"sql": "UPDATE customers SET email = lower(email);"},
        {"sql": "UPDATE events SET payload = upper(payload);"},
        {"sql": "SELECT 1", "rollback": "DROP INDEX orders_customer_id_idx;"},
        tables=[{"table": "customers", "change": "type"}, {"table": "events", "change": "type"},
                {"table": "orders", "change": "index", "risk": "low",
                 "risk_reason": "the index is unused"}])
    blind = {f.step_id: f for f in lint_plan(plan)}
    assert blind["s1"].severity == "warning" and blind["s2"].severity == "error"
    assert blind["s3"].severity == blind["s4"].severity == "warning"
    assert all(f.estimate is None for f in blind.values())

    found = {f.step_id: f for f in lint_plan(plan, big)}
    assert found["s1"].severity == "info" and found["s2"].severity == "error"
    assert found["s3"].severity == "info" and found["s4"].severity == "error"
    assert found["s2"].estimate.startswith("rewrites ~") and "at 30 MB/s" in found["s2"].estimate
    assert found["s2"].seconds > found["s1"].seconds > 0
    assert found["s5"].table == "orders"  # the index's table, from the catalog

    risks = derived_risks(plan, list(found.values()))
    assert risks["customers"][0] == RiskLevel.low
    assert risks["events"][0] == RiskLevel.high and "change-column-type in s2" in risks["events"][1]
    level, why = risks["orders"]
    assert level == RiskLevel.low and why.startswith("set by the author: the index is unused")
    assert "(lint: medium" in why  # the lint's own view, since it differs


def test_a_never_analyzed_table_is_judged_by_what_it_holds(db_url):
    # autovacuum off on the table: nothing analyzes it behind the test's back
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE fresh (id bigint, note varchar(20)) "
                     "WITH (autovacuum_enabled = off)")
        conn.execute("INSERT INTO fresh SELECT g, 'n' FROM generate_series(1, 300) g")
        conn.execute("CREATE TABLE empty (id bigint) WITH (autovacuum_enabled = off)")
        assert conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'fresh'"
                            ).fetchone()[0] == -1
    sizes = TableSizes.read(db_url)
    assert sizes.get("fresh").rows == 300 and sizes.get("empty").rows == 0
    assert sizes.category("fresh") == "small" and sizes.category("empty") == "small"
    assert sizes.column_type("fresh", "note") == "character varying(20)"
    plan = plan_with({"sql": "CREATE INDEX fresh_id ON fresh (id);"},
                     {"sql": "ALTER TABLE fresh ALTER COLUMN note TYPE text;"},
                     {"sql": "ALTER TABLE fresh ALTER COLUMN note TYPE varchar(10);"},
                     {"sql": "ALTER TABLE empty ADD COLUMN code text NOT NULL;"})
    found = {f.step_id: f for f in lint_plan(plan, sizes)}
    assert found["s1"].severity == "info"  # was 'error' (unknown size) before the count
    assert "s2" not in found  # varchar(20) -> text keeps the data file
    assert found["s3"].rule == "change-column-type" and found["s3"].severity == "info"
    # a required column without a default only fails on rows: an empty table takes it
    assert found["s4"].rule == "add-required-column" and found["s4"].severity == "info"
