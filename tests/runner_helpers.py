"""Helpers for the runner tests: small plans written inline, and database queries."""

from __future__ import annotations

import textwrap
from typing import Any

import psycopg

from migtui.plan import Plan, load_plan_text


def plan_text(steps: str, *, settings: str = "", env: str = "development",
              plan_id: str = "t-plan", phases: str = "") -> str:
    body = f"""\
migtui: 1
id: {plan_id}
title: Test plan
type: schema_change
agent: tester
targets:
  main: {{dsn_env: MIGTUI_TEST_TARGET_URL, environment: {env}}}
"""
    if settings:
        body += "settings:\n" + textwrap.indent(textwrap.dedent(settings).strip(), "  ") + "\n"
    body += "steps:\n" + textwrap.indent(textwrap.dedent(steps).strip(), "  ") + "\n"
    if phases:
        body += "phases:\n" + textwrap.indent(textwrap.dedent(phases).strip(), "  ") + "\n"
    return body


def make_plan(steps: str, **kw: Any) -> Plan:
    return load_plan_text(plan_text(steps, **kw))


def q(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(sql, params)
        return cur.fetchall() if cur.description else []


def one(url: str, sql: str, params: Any = None) -> Any:
    rows = q(url, sql, params)
    return rows[0][0] if rows else None


def column_exists(url: str, table: str, column: str) -> bool:
    return bool(one(url, "SELECT count(*) FROM information_schema.columns WHERE table_name = %s "
                         "AND column_name = %s", (table, column)))


def history(url: str, plan_id: str = "t-plan") -> list[tuple[Any, ...]]:
    return q(url, "SELECT step_id, action, status, error FROM migtui.history WHERE plan_id = %s "
                  "ORDER BY id", (plan_id,))


def wait_until(predicate: Any, tries: int = 400, interval: float = 0.05) -> bool:
    """Poll until ``predicate()`` is true (bounded); never used to assert a duration."""
    import time

    for _ in range(tries):
        if predicate():
            return True
        time.sleep(interval)
    return False
