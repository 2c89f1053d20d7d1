"""Prisma Migrate bookkeeping: ``_prisma_migrations`` rows written as ``prisma migrate deploy``.

A step with ``prisma: {migration_name, checksum}`` records, when applied, the row Prisma
writes for a migration it applied itself:

* ``id``: a random UUID (text, 36 characters);
* ``checksum``: the lowercase, zero-padded hex SHA-256 of ``migration.sql``'s bytes;
* ``migration_name``: the migration's directory name;
* ``logs`` NULL, ``rolled_back_at`` NULL, ``applied_steps_count`` 1;
* ``started_at`` when the step began, ``finished_at`` when it finished.

The table is created with Prisma's own DDL when it is missing. The row is inserted in the
step's transaction (with migtui's history row), so Prisma and migtui can never disagree.
Rolling the step back deletes the row, so ``prisma migrate status`` shows the migration as
not yet applied and ``prisma migrate deploy`` would apply it again.

Prisma itself sends migration.sql as one script without wrapping it in a transaction;
migtui runs it in ONE transaction (all or nothing) unless it holds a statement that cannot
run in one, in which case that statement must be alone in the migration (see sqlstep).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from migtui.runner.history import body_diff, schema_exists

# Prisma's DDL for PostgreSQL (prisma-engines, sql-migration-connector, postgres flavour).
PRISMA_DDL = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)
"""


def checksum_bytes(data: bytes) -> str:
    """Prisma's migration checksum: SHA-256, each byte as two lowercase hex digits."""
    return "".join(f"{b:02x}" for b in hashlib.sha256(data).digest())


def checksum_file(path: str | Path) -> str:
    return checksum_bytes(Path(path).read_bytes())


def record_applied(conn: psycopg.Connection, migration_name: str, checksum: str,
                   started_at: datetime) -> str:
    """Insert the row on ``conn`` (inside the caller's transaction). Returns its id."""
    conn.execute(PRISMA_DDL)
    row_id = str(uuid.uuid4())
    conn.execute(
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, '
        "rolled_back_at, started_at, applied_steps_count) "
        "VALUES (%s, %s, clock_timestamp(), %s, NULL, NULL, %s, 1)",
        (row_id, checksum, migration_name, started_at))
    return row_id


def record_rolled_back(conn: psycopg.Connection, migration_name: str) -> int:
    """Delete the applied rows of the migration. Returns how many were deleted."""
    exists = conn.execute("SELECT to_regclass('\"_prisma_migrations\"') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    cur = conn.execute('DELETE FROM "_prisma_migrations" WHERE migration_name = %s '
                       "AND rolled_back_at IS NULL", (migration_name,))
    return max(cur.rowcount or 0, 0)


@dataclass(frozen=True)
class AppliedRow:
    migration_name: str
    checksum: str
    finished_at: datetime | None


def applied_rows(conn: psycopg.Connection) -> dict[str, AppliedRow]:
    """The migrations Prisma (or migtui) recorded as applied and not rolled back, by name.

    Empty when ``_prisma_migrations`` does not exist. A migration applied twice (after a
    ``prisma migrate resolve --rolled-back``) is represented by its latest finished row.
    """
    exists = conn.execute("SELECT to_regclass('\"_prisma_migrations\"') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" '
        "WHERE rolled_back_at IS NULL AND finished_at IS NOT NULL "
        "ORDER BY finished_at").fetchall()
    return {r[0]: AppliedRow(r[0], r[1], r[2]) for r in rows}


def checksum_conflict(name: str, in_database: str, in_files: str,
                      applied: AppliedBody | None = None, now: str | None = None) -> str:
    """Refuse a migration changed after it was applied: with the diff when migtui applied
    it (its history keeps the SQL it ran), else say why there is none (Prisma keeps only
    a checksum)."""
    head = (f"migration {name} was modified after it was applied: _prisma_migrations has "
            f"checksum {in_database[:16]}…, the migration now has {in_files[:16]}…. "
            f"Restore the applied migration.sql, or resolve it as Prisma would "
            f"('prisma migrate resolve')")
    if applied is not None and now is not None:
        return head + (f". What changed since migtui applied it (plan {applied.plan_id}"
                       f"{applied.when}):\n" + body_diff(name, applied.body, now))
    return head + (". Prisma keeps only the checksum of what it applied, so there is no "
                   f"text to compare with here: see the file's history (git log -p -- "
                   f"prisma/migrations/{name}/migration.sql)")


@dataclass(frozen=True)
class AppliedBody:
    body: str
    plan_id: str
    when: str  # ', 2026-05-01 10:00' or ''


def applied_body(conn: psycopg.Connection, step_id: str) -> AppliedBody | None:
    """The SQL migtui's history recorded for step ``step_id``'s newest apply still in
    force, in any plan (a re-imported folder is a new plan); None when migtui never
    applied it."""
    if not schema_exists(conn):
        return None
    row = conn.execute(
        "SELECT step_body, plan_id, finished_at FROM migtui.history h WHERE step_id = %s "
        "AND action = 'apply' AND status = 'applied' AND NOT EXISTS (SELECT 1 FROM "
        "migtui.history r WHERE r.plan_id = h.plan_id AND r.step_id = h.step_id AND "
        "r.action = 'rollback' AND r.status = 'rolled_back' AND r.id > h.id) "
        "ORDER BY id DESC LIMIT 1", (step_id,)
    ).fetchone()
    if row is None or not row[0]:
        return None
    return AppliedBody(row[0], row[1], f", {row[2]:%Y-%m-%d %H:%M}" if row[2] else "")
