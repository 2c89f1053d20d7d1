"""One migtui run per database (per tenant schema): a session-level advisory lock, and
who holds it.

Advisory locks are scoped to the current database, so runs against different databases
of one server do not block each other. A run on a tenant schema (Prisma's ``?schema=``)
takes that schema's lock (``key_for``), so runs on two schemas of one database do not
block each other either; a run that names no schema keeps the database's lock. The lock is held by the session that does the
work (``WorkSession``): it dies with that session, so a killed run never leaves it, and
nothing the run commits can commit after the lock is gone. ``held`` is the one round-trip
with which the runner verifies it before every step and every backfill batch.
"""

from __future__ import annotations

import hashlib

import psycopg

from migtui.dsn import tenant_schema
from migtui.runner.errors import LockLost, RunLocked

# pg_try_advisory_lock(int4, int4): 'migt' and 1. In pg_locks: classid, objid, objsubid=2.
LOCK_CLASS = 0x6D696774
LOCK_OBJ = 1


def key_for(schema: str | None) -> int:
    """The lock's second int4: 1 for the database, a hash of the schema name for a tenant
    schema (never 1, so a schema run and a plain run do not share the key by chance)."""
    schema = tenant_schema(schema)
    if not schema:
        return LOCK_OBJ
    digest = hashlib.sha256(b"migtui-schema\0" + schema.encode("utf-8")).digest()
    key = int.from_bytes(digest[:4], "big", signed=True)
    return key if key != LOCK_OBJ else 2


def try_lock(conn: psycopg.Connection, key: int = LOCK_OBJ) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)",
                       (LOCK_CLASS, key)).fetchone()
    return bool(row and row[0])


def held(conn: psycopg.Connection, key: int = LOCK_OBJ) -> bool:
    """Whether this session still holds the lock (a statement such as DISCARD ALL or
    pg_advisory_unlock_all() releases it). Raises psycopg.Error if the session died."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()
             AND locktype = 'advisory' AND granted AND classid = %s::int4::oid
             AND objid = %s::int4::oid AND objsubid = 2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))""",
        (LOCK_CLASS, key)).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection, key: int = LOCK_OBJ) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", (LOCK_CLASS, key))


def holder(conn: psycopg.Connection, key: int = LOCK_OBJ) -> str:
    """Describe the session holding the lock (``key``), from pg_locks and pg_stat_activity."""
    row = conn.execute(
        """SELECT a.pid, a.application_name, a.usename, host(a.client_addr),
                  to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), a.state
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::int4::oid
             AND l.objid = %s::int4::oid AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           LIMIT 1""", (LOCK_CLASS, key)).fetchone()
    if row is None:
        return "another session (it released the lock meanwhile; try again)"
    pid, app, user, addr, started, state = row
    where = addr or "local socket"
    return (f"pid {pid}, application_name {app or '(none)'}, user {user}, client {where}, "
            f"connected since {started}, {doing(state)}")


def doing(state: str | None) -> str:
    """The holder's pg_stat_activity state in the run's words: the lock is held by the
    run's work session, which is "idle" between steps, and all along in an app that is
    open on the plan and runs nothing (so not "between steps" alone)."""
    return {"idle": "no statement running (between steps, or an app open on the plan)",
            "active": "running a statement",
            "idle in transaction": "inside a step's transaction",
            "idle in transaction (aborted)": "inside a failed step's transaction",
            }.get(state or "", state or "state unknown")


def acquire(conn: psycopg.Connection, database: str, *, schema: str | None = None,
            again: bool = False) -> None:
    """Take the lock of the database (of ``schema`` in it, if given), or raise RunLocked
    (LockLost when ``again``: this run had it before)."""
    key = key_for(schema)
    if try_lock(conn, key):
        return
    where = f"schema {schema!r} of database {database!r}" if schema else \
        f"database {database!r}"
    if again:
        raise LockLost(f"the run lock was lost with migtui's session, and another migtui run "
                       f"holds the lock now on {where}: {holder(conn, key)}. {STOPPED} "
                       f"when that run is done")
    raise RunLocked(f"another migtui run holds the lock on {where}: "
                    f"{holder(conn, key)}. Wait for it to finish, or stop it.")


STOPPED = "This run stopped: nothing more was applied; re-run to resume"
SESSION_DIED = (f"that session held the run lock, so another migtui run may have started. "
                f"{STOPPED}")


def lost(why: str) -> LockLost:
    """The error for a lock found gone: why, what it means, what to do."""
    return LockLost(f"{why}, so another migtui run may have started. {STOPPED}", reason=why)
