"""SQL steps: statements split by pglast, run under lock and statement timeouts.

Two modes, chosen from the parse tree (``Statement.autocommit``):

* **transactional** (the default): every statement of the step in ONE transaction, after
  ``SET LOCAL lock_timeout`` / ``statement_timeout``; the history row is inserted by
  ``record(conn, rows)`` inside that same transaction, so step and history commit together.
* **autocommit**: a statement PostgreSQL refuses inside a transaction block (``CREATE INDEX
  CONCURRENTLY``, ``VACUUM``, ``REINDEX CONCURRENTLY`` ...). The timeouts are set at
  session level and reset afterwards. If it fails, INVALID indexes it left behind (a failed
  concurrent build or reindex) are dropped, under the step's lock timeout and retries
  (``migtui.runner.invalid_indexes``).

A step may not mix the two, and may hold at most one autocommit statement: with two, a
failure of the second would leave the first applied with no honest history row. Such a
step is refused before anything runs (split it into steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import psycopg
from psycopg import errors as pgerr

from migtui import runnable
from migtui.control import Cancelled
from migtui.events import StatementStarted
from migtui.runner.autovacuum import cancel_blocking_autovacuum
from migtui.runner.conn import first_line
from migtui.runner.context import Ctx, Timeouts, ms
from migtui.runner.errors import NotExecutable, StepError
from migtui.runner.invalid_indexes import (
    drop_invalid_indexes,
    invalid_indexes,
    leftover_of,
    refuse_invalid_index,
)
from migtui.runner.retry import LockTimeoutExhausted, with_retries
from migtui.sql import Statement


def classify(step_id: str, sql: str, what: str = "sql", *, allow_empty: bool = False,
             folded: list[int] | None = None) -> tuple[bool, list[Statement]]:
    """(autocommit?, statements). Raises NotExecutable for an unsafe mix.

    The rules live in :func:`migtui.runnable.classify`, which ``check`` applies too.
    """
    try:
        return runnable.classify(sql, what, allow_empty=allow_empty, folded=folded)
    except runnable.Unrunnable as e:
        raise NotExecutable(f"step {step_id!r}: {e.message}") from None


def _fail(e: psycopg.Error, ctx: Ctx, statement: str | None, retries: int = 0) -> StepError:
    if isinstance(e, pgerr.QueryCanceled) and ctx.control.cancelled:
        raise Cancelled(ctx.control.cancel_reason or "cancelled") from None
    code = getattr(getattr(e, "diag", None), "sqlstate", None) or getattr(e, "sqlstate", None)
    msg = first_line(e)
    if isinstance(e, pgerr.QueryCanceled):
        msg = f"statement timeout: {msg}"
    elif isinstance(e, psycopg.OperationalError) and code is None:
        msg = f"lost the connection: {msg}"
    return StepError(msg, sqlstate=code, statement=statement)


def set_timeouts(conn: psycopg.Connection, t: Timeouts, local: bool) -> None:
    conn.execute("SELECT set_config('lock_timeout', %s, %s), "
                 "set_config('statement_timeout', %s, %s)",
                 (ms(t.lock), local, ms(t.statement), local))


def run_transactional(ctx: Ctx, step_id: str, action: str, stmts: Sequence[Statement],
                      t: Timeouts, record: Callable[[psycopg.Connection, int], None]
                      ) -> tuple[int, int]:
    """Run ``stmts`` and ``record`` in one transaction, retrying on lock timeout."""
    current: list[str | None] = [None]

    def attempt(_n: int) -> int:
        conn = ctx.work.conn
        rows = 0
        current[0] = None
        tracer = ctx.tracer
        with tracer.transaction() if tracer else nullcontext(), conn.transaction():
            set_timeouts(conn, t, local=True)
            for i, st in enumerate(stmts):
                ctx.control.check()
                current[0] = st.text
                ctx.emit(StatementStarted(step_id=step_id, action=action, index=i,
                                          sql=st.text, autocommit=False, lock=st.lock))
                if tracer:
                    tracer.before(conn, step_id, action, i, st, False, ctx.work.pid)
                cur = conn.execute(st.text)
                if cur.rowcount and cur.rowcount > 0:
                    rows += cur.rowcount
                if tracer:
                    tracer.after(conn, st, ctx.work.pid)
            current[0] = None
            record(conn, rows)
        return rows

    try:
        return with_retries(attempt, step_id=step_id, timeouts=t, emit=ctx.emit,
                            control=ctx.control,
                            unblock=lambda: cancel_blocking_autovacuum(ctx.work.conn, stmts))
    except LockTimeoutExhausted as e:
        raise StepError(f"lock timeout: could not take the lock within {ms(t.lock)}, "
                        f"{e.tries} tries ({e})", sqlstate="55P03",
                        statement=current[0]) from None
    except psycopg.Error as e:
        raise _fail(e, ctx, current[0]) from None


def run_autocommit(ctx: Ctx, step_id: str, action: str, st: Statement,
                   t: Timeouts, *, leftover_is_ours: bool = False) -> tuple[int, int]:
    """Run one statement outside a transaction; clean up what a failure leaves.

    With ``leftover_is_ours`` (this step's previous attempt failed or died while running),
    an INVALID index of the name the statement builds is dropped first (bounded)."""
    def attempt(_n: int) -> int:
        conn = ctx.work.conn
        before = invalid_indexes(conn)
        set_timeouts(conn, t, local=False)
        try:
            ctx.emit(StatementStarted(step_id=step_id, action=action, index=0, sql=st.text,
                                      autocommit=True, lock=st.lock))
            if ctx.tracer:
                ctx.tracer.before(conn, step_id, action, 0, st, True, ctx.work.pid)
            cur = conn.execute(st.text)
            rows = max(cur.rowcount or 0, 0)
            if ctx.tracer:
                ctx.tracer.after(conn, st, ctx.work.pid)
        except psycopg.Error as e:
            if ctx.tracer:
                ctx.tracer.failed()
            _clean_up_after(ctx, step_id, before, t, e, st)
            raise
        finally:
            if not conn.broken:
                conn.execute("RESET lock_timeout; RESET statement_timeout")
        refuse_invalid_index(conn, st)
        return rows

    try:
        if leftover_is_ours:
            left = leftover_of(ctx.work.conn, st)
            if left is not None:
                drop_invalid_indexes(ctx, step_id, [left], t,
                                     "an earlier failed attempt of this step")
        return with_retries(attempt, step_id=step_id, timeouts=t, emit=ctx.emit,
                            control=ctx.control,
                            unblock=lambda: cancel_blocking_autovacuum(ctx.work.conn, [st]))
    except LockTimeoutExhausted as e:
        raise StepError(f"lock timeout: could not take the lock within {ms(t.lock)}, "
                        f"{e.tries} tries ({e})", sqlstate="55P03", statement=st.text) from None
    except psycopg.Error as e:
        raise _fail(e, ctx, st.text) from None


def _clean_up_after(ctx: Ctx, step_id: str, before: set[str], t: Timeouts,
                    e: psycopg.Error, st: Statement) -> None:
    """Drop the INVALID indexes that appeared during the failed statement. If one cannot be
    dropped, the step fails now (no retry on top of a leftover) with the instruction."""
    try:
        new = invalid_indexes(ctx.work.conn) - before  # reconnects if the session died
    except psycopg.Error:
        return  # the database is gone too; the next attempt (or run) finds the leftover
    if not new:
        return
    try:
        drop_invalid_indexes(ctx, step_id, new, t, "the failed statement")
    except StepError as left:
        code = getattr(getattr(e, "diag", None), "sqlstate", None)
        raise StepError(f"{first_line(e)}; {left}", sqlstate=code, statement=st.text) from None
