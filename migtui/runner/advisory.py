"""One migtui run per database: a session-level advisory lock, and who holds it.

Advisory locks are scoped to the current database, so runs against different databases
of one server do not block each other. The lock is held by the session that does the
work (``WorkSession``): it dies with that session, so a killed run never leaves it, and
nothing the run commits can commit after the lock is gone. ``held`` is the one round-trip
with which the runner verifies it before every step and every backfill batch.
"""

from __future__ import annotations

import psycopg

from migtui.runner.errors import LockLost, RunLocked

# pg_try_advisory_lock(int4, int4): 'migt' and 1. In pg_locks: classid, objid, objsubid=2.
LOCK_CLASS = 0x6D696774
LOCK_OBJ = 1


def try_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJ)).fetchone()
    return bool(row and row[0])


def held(conn: psycopg.Connection) -> bool:
    """Whether this session still holds the lock (a statement such as DISCARD ALL or
    pg_advisory_unlock_all() releases it). Raises psycopg.Error if the session died."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()
             AND locktype = 'advisory' AND granted AND classid = %s::oid AND objid = %s::oid
             AND objsubid = 2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))""",
        (LOCK_CLASS, LOCK_OBJ)).fetchone()
    return bool(row and row[0])


def unlock(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_OBJ))


def holder(conn: psycopg.Connection) -> str:
    """Describe the session holding the lock, from pg_locks and pg_stat_activity."""
    row = conn.execute(
        """SELECT a.pid, a.application_name, a.usename, host(a.client_addr),
                  to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), a.state
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid
             AND l.objid = %s::oid AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           LIMIT 1""", (LOCK_CLASS, LOCK_OBJ)).fetchone()
    if row is None:
        return "another session (it released the lock meanwhile; try again)"
    pid, app, user, addr, started, state = row
    where = addr or "local socket"
    return (f"pid {pid}, application_name {app or '(none)'}, user {user}, client {where}, "
            f"connected since {started}, {doing(state)}")


def doing(state: str | None) -> str:
    """The holder's pg_stat_activity state in the run's words: the lock is held by the
    run's work session, which is "idle" between steps."""
    return {"idle": "between steps", "active": "running a statement",
            "idle in transaction": "inside a step's transaction",
            "idle in transaction (aborted)": "inside a failed step's transaction",
            }.get(state or "", state or "state unknown")


def acquire(conn: psycopg.Connection, database: str, *, again: bool = False) -> None:
    """Take the lock, or raise RunLocked (LockLost when ``again``: this run had it before)."""
    if try_lock(conn):
        return
    if again:
        raise LockLost(f"the run lock was lost with migtui's session, and another migtui run "
                       f"holds the lock now on database {database!r}: {holder(conn)}. {STOPPED} "
                       f"when that run is done")
    raise RunLocked(f"another migtui run holds the lock on database {database!r}: "
                    f"{holder(conn)}. Wait for it to finish, or stop it.")


STOPPED = "This run stopped: nothing more was applied; re-run to resume"
SESSION_DIED = (f"that session held the run lock, so another migtui run may have started. "
                f"{STOPPED}")


def lost(why: str) -> LockLost:
    """The error for a lock found gone: why, what it means, what to do."""
    return LockLost(f"{why}, so another migtui run may have started. {STOPPED}", reason=why)
