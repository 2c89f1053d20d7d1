"""Derived risk levels, the author's override, and zero-downtime flags."""

from __future__ import annotations

from migtui.lint import Finding, derived_risks, lint_plan, zero_downtime_flags
from migtui.lint.risk import level_of
from migtui.plan.model import RiskLevel
from tests.lint_helpers import plan_with


def _f(**kw) -> Finding:
    base = {"rule": "change-column-type", "severity": "error", "step_id": "s", "which": "sql",
            "line": 1, "statement": "", "message": "", "lock": "ACCESS EXCLUSIVE"}
    return Finding(**{**base, **kw})


def test_level_of_severity_and_duration():
    assert level_of(_f()) == RiskLevel.high
    assert level_of(_f(seconds=600.0)) == RiskLevel.critical
    assert level_of(_f(seconds=600.0, lock="ROW EXCLUSIVE")) == RiskLevel.high
    assert level_of(_f(severity="warning")) == RiskLevel.medium
    assert level_of(_f(severity="info")) == RiskLevel.low


def test_derived_risks_per_table_and_override():
    plan = plan_with(
        {"sql": "CREATE INDEX orders_a_idx ON orders (a);"},
        {"sql": "ALTER TABLE customers RENAME COLUMN full_name TO name;"},
        {"sql": "ALTER TABLE order_items ADD COLUMN note text;"},
        {"sql": "CREATE INDEX customers_b ON customers (b);",
         "lint_ignore": {"index-not-concurrent": "customers is tiny"}},
        tables=[{"table": "orders", "change": "index"},
                {"table": "public.customers", "change": "rename", "risk": "high",
                 "risk_reason": "three services read full_name"},
                {"table": "order_items", "change": "add column"}])
    risks = derived_risks(plan, lint_plan(plan))
    assert list(risks) == ["orders", "public.customers", "order_items"]
    assert risks["orders"] == (RiskLevel.high, "index-not-concurrent in s1")
    level, why = risks["public.customers"]
    assert level == RiskLevel.high and "three services" in why and "(lint: medium" in why
    assert risks["order_items"] == (RiskLevel.low, "no lint findings")


def test_zero_downtime_flags_drops_and_renames():
    plan = plan_with(
        {"sql": "ALTER TABLE customers DROP COLUMN legacy;"},
        {"sql": "ALTER TABLE orders ADD COLUMN status text;",
         "rollback": "ALTER TABLE orders DROP COLUMN status;"},
        {"sql": "ALTER TABLE orders RENAME TO purchases;"},
        {"sql": "DROP TABLE old_carts;", "lint_ignore": {"drop-table": "unused since 2024"}},
        {"sql": "CREATE INDEX i ON orders (a);"})
    flags = zero_downtime_flags(plan, lint_plan(plan))
    old = [f for f in flags if f.startswith("Old code works with new schema: ")]
    assert [f.split(": ")[1:3] for f in old] == [["s1", "drop-column"], ["s3", "rename-table"]]
    assert any(f.startswith("Index creation strategies: s5: index-not-concurrent") for f in flags)
    assert not any(": s2" in f or ": s4" in f for f in flags)


def test_example_plans_have_no_findings():
    from migtui.plan import load_plan
    from tests.conftest import PLANS

    for path in sorted(PLANS.glob("*.yaml")):
        plan = load_plan(path)
        assert lint_plan(plan) == [], path.name
        assert zero_downtime_flags(plan, []) == []
