"""Autovacuum that stands in a migration's way.

A big UPDATE (a backfill or its rollback) wakes autovacuum on that table, and its SHARE
UPDATE EXCLUSIVE lock blocks DDL. PostgreSQL cancels such a worker itself, but only after
``deadlock_timeout`` (1 s by default) — the same time as migtui's default lock_timeout, so
the DDL often times out first, on every retry. After a lock timeout the runner therefore
cancels the autovacuum workers (never an anti-wraparound one) that hold locks on the
relations the statement names, as PostgreSQL would, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from migtui.sql import Statement, relation_names

_BLOCKERS = """
WITH rel AS (
    SELECT c.oid FROM unnest(%(names)s::text[]) AS n(name)
    JOIN pg_class c ON c.oid = to_regclass(n.name)
    UNION
    SELECT i.indrelid FROM unnest(%(names)s::text[]) AS n(name)
    JOIN pg_index i ON i.indexrelid = to_regclass(n.name)
)
SELECT DISTINCT a.pid, coalesce(l.relation::regclass::text, '?')
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.backend_type = 'autovacuum worker'
  AND l.relation IN (SELECT oid FROM rel)
  AND a.query NOT ILIKE '%%to prevent wraparound%%'
"""


def cancel_blocking_autovacuum(conn: psycopg.Connection, stmts: Sequence[Statement]) -> str:
    """Cancel autovacuum workers on the statements' relations. Returns what it did, or ''."""
    names = [n for st in stmts for n in relation_names(st.node)]
    if not names:
        return ""
    try:
        rows = conn.execute(_BLOCKERS, {"names": names}).fetchall()
        done = []
        for pid, rel in rows:
            ok = conn.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()
            if ok and ok[0]:
                done.append(f"{rel} (pid {pid})")
    except psycopg.Error:
        return ""  # e.g. no privilege to signal it: the retry goes on as before
    if not done:
        return ""
    return ("cancelled autovacuum of " + ", ".join(done)
            + " that held the lock, as PostgreSQL does after deadlock_timeout")
