"""INVALID indexes left by a failed or interrupted concurrent build, and their bounded cleanup.

A ``CREATE INDEX CONCURRENTLY`` (or ``REINDEX CONCURRENTLY``) that fails leaves its index
behind, INVALID: not used by queries but still maintained by every write. The runner drops
it with ``DROP INDEX CONCURRENTLY``, which waits for every transaction that uses the table;
behind an idle-in-transaction session it would wait forever. So the drop runs under the
step's lock timeout and retries like any statement, is reported (``NoteAdded``), and when it
cannot finish the step fails with what is left, who holds it, and the statement to run.

A run that finds an INVALID index named by a step whose previous attempt failed (or died
while running) drops it first, in the same bounded way, then builds it again.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from migtui.control import RunControl
from migtui.events import NoteAdded
from migtui.runner.conn import first_line
from migtui.runner.context import Ctx, Timeouts, ms
from migtui.runner.errors import RunnerError, StepError
from migtui.runner.retry import LockTimeoutExhausted, with_retries
from migtui.sql import Statement

INVALID_INDEXES = """SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid"""


def invalid_indexes(conn: psycopg.Connection) -> set[str]:
    """Schema-qualified names of the INVALID indexes of the database."""
    return {r[0] for r in conn.execute(INVALID_INDEXES).fetchall()}


def index_name(st: Statement) -> str | None:
    """The name a ``CREATE INDEX CONCURRENTLY`` statement builds, as written (may be None)."""
    node = st.node
    name = getattr(node, "idxname", None)
    if type(node).__name__ != "IndexStmt" or not name:
        return None
    schema = getattr(getattr(node, "relation", None), "schemaname", None)
    return f'"{schema}"."{name}"' if schema else f'"{name}"'


def leftover_of(conn: psycopg.Connection, st: Statement) -> str | None:
    """The INVALID index this statement builds, if one exists and no build is running."""
    qname = index_name(st)
    if qname is None or not getattr(st.node, "concurrent", False):
        return None
    row = conn.execute(
        """SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE i.indexrelid = to_regclass(%s) AND NOT i.indisvalid
             AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p
                             WHERE p.index_relid = i.indexrelid)""", (qname,)).fetchone()
    return row[0] if row else None


def refuse_invalid_index(conn: psycopg.Connection, st: Statement) -> None:
    """``CREATE INDEX ... IF NOT EXISTS`` succeeds without building when an INVALID index
    of that name was left by an interrupted build (a killed run, a restart): not applied."""
    qname = index_name(st)
    if qname is None:
        return
    row = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                       (qname,)).fetchone()
    if row is not None and not row[0]:
        raise StepError(f"index {qname} exists but is INVALID (left by an interrupted or failed "
                        f"build), so it was not built; drop it with DROP INDEX CONCURRENTLY "
                        f"{qname} and run the step again", statement=st.text)


def holders(conn: psycopg.Connection, index: str) -> list[str]:
    """Who holds locks on the index's table (what the drop waits for), e.g.
    'pid 123 (idle in transaction, application app)'."""
    try:
        rows = conn.execute(
            """SELECT DISTINCT a.pid, coalesce(a.state, '?'), coalesce(a.application_name, '')
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
                 AND l.relation = (SELECT indrelid FROM pg_index
                                   WHERE indexrelid = to_regclass(%s))
               ORDER BY a.pid LIMIT 5""", (index,)).fetchall()
    except psycopg.Error:
        return []
    return [f"pid {pid} ({state}" + (f", application {app})" if app else ")")
            for pid, state, app in rows]


def drop_invalid_indexes(ctx: Ctx, step_id: str, names: Iterable[str], t: Timeouts,
                         why: str) -> None:
    """Drop these INVALID indexes under the lock timeout and retries; report each one.

    Raises StepError with an instruction for those that could not be dropped. Runs even
    after a cancel (with its own RunControl): it is bounded, and it leaves nothing behind."""
    left: list[str] = []
    for name in sorted(names):
        ctx.emit(NoteAdded(text=f"{step_id}: dropping the INVALID index {name} left by {why} "
                                f"(DROP INDEX CONCURRENTLY, lock_timeout {ms(t.lock)}, "
                                f"{t.retries} retries)", author="migtui"))
        try:
            with_retries(lambda _n, name=name: _drop(ctx, name, t), step_id=step_id,
                         timeouts=t, emit=ctx.emit, control=RunControl())
        except LockTimeoutExhausted as e:
            left.append(_instruction(ctx, name, f"lock timeout {ms(t.lock)}, {e.tries} tries"))
            continue
        except (psycopg.Error, RunnerError) as e:
            left.append(_instruction(ctx, name, first_line(e)))
            continue
        ctx.emit(NoteAdded(text=f"{step_id}: dropped the INVALID index {name}",
                           author="migtui"))
    if left:
        raise StepError("; ".join(left))


def _drop(ctx: Ctx, name: str, t: Timeouts) -> None:
    conn = ctx.work.conn  # reconnects if the failure killed the session
    conn.execute("SELECT set_config('lock_timeout', %s, false), "
                 "set_config('statement_timeout', %s, false)", (ms(t.lock), ms(t.statement)))
    try:
        conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(name)))
    finally:
        if not conn.broken:
            conn.execute("RESET lock_timeout; RESET statement_timeout")


def _instruction(ctx: Ctx, name: str, why: str) -> str:
    try:
        who = holders(ctx.work.conn, name)
    except Exception:  # noqa: BLE001 - the instruction must be given whatever happens
        who = []
    once = (f"once {', '.join(who)} {'is' if len(who) == 1 else 'are'} gone" if who
            else "once the sessions holding locks on its table are gone")
    return (f"the INVALID index {name} is left: the cleanup could not drop it ({why}); drop "
            f"it with DROP INDEX CONCURRENTLY {name} {once}, or run the step again (migtui "
            f"drops it first)")
