"""The safe alternatives are real SQL: they run on PostgreSQL and lint clean."""

from __future__ import annotations

import psycopg

from migtui.lint import lint_plan
from migtui.sql import split
from tests.lint_helpers import plan_with

CASES = [  # (unsafe statement on the shop schema, rule)
    ("CREATE INDEX orders_shipped_idx ON orders (shipped_at)", "index-not-concurrent"),
    ("DROP INDEX orders_customer_id_idx", "drop-index-not-concurrent"),
    ("REINDEX TABLE order_items", "reindex-not-concurrent"),
    ("ALTER TABLE order_items ADD CONSTRAINT items_order_fk FOREIGN KEY (order_id) "
     "REFERENCES orders (id)",
     "foreign-key-not-valid"),
    ("ALTER TABLE orders ADD CHECK (total_cents >= 0)", "check-not-valid"),
    ("ALTER TABLE customers ADD CONSTRAINT customers_email_name_key UNIQUE NULLS NOT DISTINCT "
     "(email) INCLUDE (full_name)",
     "unique-without-using-index"),
    ("ALTER TABLE orders ALTER COLUMN status SET NOT NULL", "set-not-null"),
    ("ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()",
     "add-column-volatile-default"),
    ("TRUNCATE order_items CASCADE", "truncate-cascade"),
    ("VACUUM FULL customers", "vacuum-full"),
]


def test_safe_alternatives_run_on_postgres(shop_db):
    with psycopg.connect(shop_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE orders ADD COLUMN status text DEFAULT 'pending'")
        for unsafe, rule in CASES:
            (f,) = [f for f in lint_plan(plan_with({"sql": unsafe})) if f.rule == rule]
            for st in split(f.safe_alternative):
                conn.execute(st.text)  # raises on invalid SQL
            again = lint_plan(plan_with({"sql": f.safe_alternative}))
            assert not [g for g in again if g.rule == rule], f.safe_alternative
        row = conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'u' AND "
                           "conrelid = 'customers'::regclass").fetchone()
        assert row and row[0] == 2  # the original email key and the one built concurrently
