"""``blocked_by_migtui``: application backends waiting on a lock a migtui connection holds.

One query per sample: the backends of the target database waiting on a heavyweight lock
whose ``application_name`` does not start with ``migtui``, joined with their
``pg_blocking_pids`` that are migtui connections (``application_name`` starting with
``migtui``: the runner, its batches, the sampler). It is the direct measure of what a
batch or a DDL step costs the application: how many of its backends wait, and the
longest wait so far (``pg_locks.waitstart`` on PostgreSQL 14+, else the query's start).

Without ``pg_read_all_stats`` (or superuser), other users' rows of ``pg_stat_activity``
hide their wait events, so only this user's backends are seen; the gauge says so.
"""

from __future__ import annotations

from typing import Any

import psycopg

from migtui.sampler.snapshot import LockWait, Session

TAG = "/* migtui-sampler */"
QUERY_CHARS = 300


def query(version: int) -> str:
    started = "a.query_start"
    if version >= 140000:
        started = ("coalesce((SELECT min(l.waitstart) FROM pg_locks l "
                   "WHERE l.pid = a.pid AND NOT l.granted), a.query_start)")
    return f"""SELECT {TAG} a.pid, coalesce(a.application_name, ''), coalesce(a.usename, ''),
           left(coalesce(a.query, ''), {QUERY_CHARS}),
           extract(epoch FROM clock_timestamp() - {started})::float8,
           b.pid, b.application_name, coalesce(b.usename, ''),
           left(coalesce(b.query, ''), {QUERY_CHARS}), coalesce(b.state, '')
        FROM pg_stat_activity a
        CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bp(pid)
        JOIN pg_stat_activity b ON b.pid = bp.pid
        WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()
          AND coalesce(a.application_name, '') NOT LIKE 'migtui%'
          AND b.application_name LIKE 'migtui%'
        ORDER BY 5 DESC NULLS LAST, a.pid"""


class BlockingReader:
    def __init__(self) -> None:
        self.sql = query(140000)
        self.note = ""

    def connect(self, version: int, privileged: bool) -> None:
        self.sql = query(version)
        self.note = "" if privileged else (
            "blocked_by_migtui sees only this user's backends: pg_read_all_stats needed "
            "for other users' rows")

    def read(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        waits: dict[int, tuple[Session, float, list[Session]]] = {}
        for pid, app, user, q, secs, bpid, bapp, buser, bq, bstate in conn.execute(self.sql):
            if pid not in waits:
                waits[pid] = (Session(pid, app, q, "active", user), max(0.0, secs or 0.0), [])
            waits[pid][2].append(Session(bpid, bapp, bq, bstate, buser))
        blocked = tuple(LockWait(w, s, tuple(b)) for w, s, b in waits.values())
        return {"blocked_count": len(blocked), "blocked_waits": blocked,
                "blocked_longest": max((w.seconds for w in blocked), default=0.0)}
