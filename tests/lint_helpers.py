"""Build small plans around SQL for the lint tests."""

from __future__ import annotations

from typing import Any

from migtui.plan.model import Plan


def plan_with(*steps: dict[str, Any], tables: list[dict[str, Any]] | None = None,
              new_tables: list[str] | None = None) -> Plan:
    full = []
    for i, s in enumerate(steps):
        s = {"id": f"s{i + 1}", **s}
        if "sql" in s and "rollback" not in s and "irreversible" not in s:
            s["rollback"] = "SELECT 1"
        full.append(s)
    return Plan.model_validate({
        "migtui": 1, "title": "lint test", "type": "schema_change", "agent": "tests",
        "steps": full,
        "schema_changes": {"tables_to_modify": tables or [],
                           "new_tables": [{"table": t} for t in new_tables or []]}})
