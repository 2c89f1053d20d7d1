"""Check steps and checklist checks: one query, one value, one expectation.

The query runs in a READ ONLY transaction under the plan's timeouts. Its value is the first
column of the first row (NULL when there is no row). ``capture: name`` keeps the value for a
later ``expect: "= @name"``; the Runner stores captured values in the history row, so a run
resumed in a new process still has them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from migtui.plan.values import Expectation
from migtui.runner.context import Ctx, Timeouts
from migtui.runner.errors import StepError
from migtui.runner.sqlstep import _fail, set_timeouts


def _plain(v: Any) -> Any:
    """A JSON-friendly value: numbers stay numbers, the rest becomes text."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return str(v)


def query_value(ctx: Ctx, sql: str, t: Timeouts) -> Any:
    conn = ctx.work.conn
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            set_timeouts(conn, t, local=True)
            row = conn.execute(sql).fetchone()
    except psycopg.Error as e:
        raise _fail(e, ctx, sql) from None
    return _plain(row[0]) if row else None


def evaluate(expect: Expectation, value: Any, captured: dict[str, Any], sql: str) -> str:
    """Describe the result; raise StepError when the expectation does not hold."""
    try:
        ok = expect.evaluate(value, captured)
    except KeyError as e:
        raise StepError(f"the expectation {expect} refers to @{e.args[0]}, which no step has "
                        f"captured yet: apply the check step with 'capture: {e.args[0]}' first",
                        statement=sql) from None
    shown = f"{value!r}" + (f" (@{expect.ref} = {captured[expect.ref]!r})" if expect.ref else "")
    if not ok:
        raise StepError(f"check failed: got {shown}, expected {expect}", statement=sql)
    return f"{shown} {expect}"
