"""One migtui run per database: a session-level advisory lock, and who holds it.

Advisory locks are scoped to the current database, so runs against different databases
of one server do not block each other. The lock is held by a dedicated connection for
the whole life of a Runner and dies with its session, so a killed run never leaves it.
"""

from __future__ import annotations

import psycopg

from migtui.runner.errors import RunLocked

# pg_try_advisory_lock(int4, int4): 'migt' and 1. In pg_locks: classid, objid, objsubid=2.
LOCK_CLASS = 0x6D696774
LOCK_OBJ = 1


def try_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJ)).fetchone()
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
            f"connected since {started}, {state}")


def acquire(conn: psycopg.Connection, database: str) -> None:
    if not try_lock(conn):
        raise RunLocked(f"another migtui run holds the lock on database {database!r}: "
                        f"{holder(conn)}. Wait for it to finish, or stop it.")
