"""What a sample reads about the sessions and the plan's own checks: who waits on a lock
(and who blocks them), and the smoke queries and integrity checks of ``monitoring``."""

from __future__ import annotations

from typing import Any

import psycopg

from migtui.fmt import first_line, shorten
from migtui.plan.model import Monitoring
from migtui.sampler.probes import TAG
from migtui.sampler.snapshot import CheckFailure, LockWait, Session

QUERY_CHARS = 300


def lock_waits(conn: psycopg.Connection[Any], version: int | None) -> list[LockWait]:
    """Backends of this database waiting on a lock: how long, and who blocks them."""
    started = "a.query_start"
    if version is not None and version >= 140000:  # pg_locks.waitstart
        started = ("coalesce((SELECT min(waitstart) FROM pg_locks "
                   "WHERE pid = a.pid AND NOT granted), a.query_start)")
    rows = conn.execute(
        f"""SELECT {TAG} a.pid, coalesce(a.application_name, ''), coalesce(a.usename, ''),
               left(coalesce(a.query, ''), {QUERY_CHARS}),
               extract(epoch FROM clock_timestamp() - {started})::float8,
               pg_blocking_pids(a.pid)
            FROM pg_stat_activity a
            WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
              AND a.datname = current_database()
            ORDER BY 5 DESC NULLS LAST""").fetchall()
    if not rows:
        return []
    blocker_pids = sorted({p for r in rows for p in (r[5] or [])})
    named: dict[int, Session] = {}
    if blocker_pids:
        for pid, app, user, query, state in conn.execute(
                f"""SELECT {TAG} pid, coalesce(application_name, ''), coalesce(usename, ''),
                       left(coalesce(query, ''), {QUERY_CHARS}), coalesce(state, '')
                    FROM pg_stat_activity WHERE pid = ANY(%s)""", (blocker_pids,)):
            named[pid] = Session(pid, app, query, state, user)
    return [
        LockWait(waiter=Session(pid, app, query, "active", user), seconds=max(0.0, secs or 0),
                 blockers=tuple(named.get(p, Session(p, "", "")) for p in (blocked or [])))
        for pid, app, user, query, secs, blocked in rows
    ]



def run_checks(conn: psycopg.Connection[Any], mon: Monitoring,
               captured: dict[str, Any]) -> tuple[int | None, int | None, tuple[CheckFailure, ...]]:
    """The smoke queries and integrity checks: (smoke failing, integrity failing, failures)."""
    failures: list[CheckFailure] = []
    smoke_failed = 0
    for q in mon.smoke:
        try:
            cur = conn.execute(q)  # type: ignore[call-overload]
            if cur.description is not None:
                cur.fetchall()
        except psycopg.Error as e:
            if conn.closed or conn.broken:
                raise
            smoke_failed += 1
            failures.append(CheckFailure(shorten(q, 60), first_line(e)))
    integrity_failed = 0
    for check in mon.integrity:
        name = check.name or shorten(check.sql, 60)
        try:
            row = conn.execute(check.sql).fetchone()  # type: ignore[call-overload]
            actual = row[0] if row else None
            ok = check.expect.evaluate(actual, captured)
            if not ok:
                integrity_failed += 1
                failures.append(CheckFailure(name, f"got {actual!r}, expected {check.expect}"))
        except KeyError as e:
            failures.append(CheckFailure(name, f"not evaluated: @{e.args[0]} not captured yet"))
        except psycopg.Error as e:
            if conn.closed or conn.broken:
                raise
            integrity_failed += 1
            failures.append(CheckFailure(name, first_line(e)))
    return (smoke_failed if mon.smoke else None,
            integrity_failed if mon.integrity else None, tuple(failures))



