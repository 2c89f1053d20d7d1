"""The history of applied steps, kept in the database in the ``migtui`` schema.

``migtui.history`` has one row per attempt (apply or rollback) of a step; the newest row
of a (plan, step) pair says what state the step is in. ``migtui.progress`` holds the last
committed key of a backfill, written in the same transaction as each batch, per direction:
an ``apply`` row for the forward backfill, a ``rollback`` row for a rollback written as a
backfill, so resuming one never starts from the other's key.

For a transactional step the history row is inserted inside the step's own transaction,
so a crash can never leave the schema changed and the history silent (or the reverse).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from migtui.dsn import tenant_schema
from migtui.plan.model import Step

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS migtui;
CREATE TABLE IF NOT EXISTS migtui.history (
    id            bigserial PRIMARY KEY,
    run_id        uuid NOT NULL,
    plan_id       text NOT NULL,
    plan_checksum text,
    step_id       text NOT NULL,
    step_checksum text NOT NULL,
    step_body     text NOT NULL,
    action        text NOT NULL CHECK (action IN ('apply', 'rollback')),
    status        text NOT NULL CHECK (status IN ('running', 'applied', 'failed', 'rolled_back')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    operator      text NOT NULL,
    rows          bigint,
    error         text,
    captured      jsonb
);
CREATE INDEX IF NOT EXISTS history_plan_step_idx ON migtui.history (plan_id, step_id, id);
CREATE TABLE IF NOT EXISTS migtui.progress (
    plan_id    text NOT NULL,
    step_id    text NOT NULL,
    direction  text NOT NULL DEFAULT 'apply' CHECK (direction IN ('apply', 'rollback')),
    last_key   text NOT NULL,
    rows_done  bigint NOT NULL,
    rows_changed bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, step_id, direction)
);
DO $upgrade$ BEGIN  -- a progress table of migtui before rollbacks could be backfills
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'migtui.progress'::regclass
                   AND attname = 'direction' AND NOT attisdropped) THEN
        ALTER TABLE migtui.progress ADD COLUMN direction text NOT NULL DEFAULT 'apply'
            CHECK (direction IN ('apply', 'rollback'));
        ALTER TABLE migtui.progress DROP CONSTRAINT progress_pkey,
            ADD PRIMARY KEY (plan_id, step_id, direction);
    END IF;
END $upgrade$;
"""

DIRECTIONS = ("apply", "rollback")


def history_plan_id(plan_id: str, schema: str | None) -> str:
    """The key a plan's rows are kept under: ``migtui.history`` is one table per database,
    so a run on a tenant schema (Prisma's ``?schema=``) keeps its history apart from the
    other schemas of that database, under ``PLAN-ID@SCHEMA``."""
    schema = tenant_schema(schema)
    return f"{plan_id}@{schema}" if schema else plan_id

STATES = ("pending", "applied", "failed", "rolled_back")


@dataclass(frozen=True)
class HistoryRow:
    id: int
    run_id: str
    plan_id: str
    plan_checksum: str | None
    step_id: str
    step_checksum: str
    step_body: str
    action: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    operator: str
    rows: int | None
    error: str | None
    captured: dict[str, Any] | None


@dataclass(frozen=True)
class StepStatus:
    step_id: str
    state: str  # pending | applied | failed | rolled_back
    changed: bool  # applied with a different body than the plan's now
    last: HistoryRow | None
    diff: str = ""  # unified diff applied → now, when changed
    # a rollback written as a backfill that stopped part-way: (last key, rows changed).
    # The step keeps its state ('applied': its apply is not wholly undone); ``migtui
    # rollback`` resumes it from that key, and ``run`` refuses to go on until it finished.
    rolling_back: tuple[str, int] | None = None


def step_body(step: Step) -> str:
    """What a step does, as text: the thing whose change after applying is refused."""
    if step.sql is not None:
        body = step.sql
    elif step.backfill is not None:
        body = json.dumps(step.backfill.model_dump(mode="json"), indent=1, sort_keys=True)
    elif step.check is not None:
        body = json.dumps(step.check.model_dump(mode="json"), indent=1, sort_keys=True)
    elif step.command is not None:
        body = json.dumps(step.command.model_dump(mode="json"), indent=1, sort_keys=True)
    else:
        body = step.manual or ""
    return body.strip() + "\n"


def step_checksum(step: Step) -> str:
    return hashlib.sha256(step_body(step).encode()).hexdigest()


def body_diff(step_id: str, applied: str, now: str) -> str:
    return "".join(difflib.unified_diff(
        applied.splitlines(keepends=True), now.splitlines(keepends=True),
        fromfile=f"{step_id} (applied)", tofile=f"{step_id} (plan now)"))


def ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(SCHEMA_DDL)


def schema_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('migtui.history') IS NOT NULL").fetchone()
    return bool(row and row[0])


def rows_for(conn: psycopg.Connection, plan_id: str) -> list[HistoryRow]:
    if not schema_exists(conn):
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, run_id::text AS run_id, plan_id, plan_checksum, step_id, "
                    "step_checksum, step_body, action, status, started_at, finished_at, "
                    "operator, rows, error, captured FROM migtui.history "
                    "WHERE plan_id = %s ORDER BY id", (plan_id,))
        return [HistoryRow(**r) for r in cur.fetchall()]


def latest(rows: list[HistoryRow]) -> dict[str, HistoryRow]:
    out: dict[str, HistoryRow] = {}
    for r in rows:
        out[r.step_id] = r
    return out


def state_of(row: HistoryRow | None) -> str:
    if row is None:
        return "pending"
    if row.action == "apply":
        # 'running' survives only when a run died inside a non-transactional statement:
        # its effect is unknown, so it counts as failed (a re-run applies it again).
        return "applied" if row.status == "applied" else "failed"
    if row.status == "rolled_back":
        return "rolled_back"
    return "applied"  # a failed rollback leaves the step applied


def status_of(step: Step, row: HistoryRow | None,
              rolling_back: tuple[str, int] | None = None) -> StepStatus:
    state = state_of(row)
    changed = False
    diff = ""
    if state == "applied" and row is not None and row.step_checksum != step_checksum(step):
        # a failed rollback row carries the body of the apply it tried to undo
        changed = True
        diff = body_diff(step.id, row.step_body, step_body(step))
    return StepStatus(step.id, state, changed, row, diff, rolling_back)


def captured_values(rows: list[HistoryRow]) -> dict[str, Any]:
    """Values captured by check steps that are still applied (newest wins)."""
    out: dict[str, Any] = {}
    for r in sorted(latest(rows).values(), key=lambda r: r.id):
        if r.captured and r.action == "apply" and r.status == "applied":
            out.update(r.captured)
    return out


def insert(conn: psycopg.Connection, *, run_id: str, plan_id: str, plan_checksum: str | None,
           step: Step, action: str, status: str, started_at: datetime, operator: str,
           rows: int | None = None, error: str | None = None,
           captured: dict[str, Any] | None = None, finished: bool = True,
           body: tuple[str, str] | None = None) -> int:
    """Insert a history row on ``conn`` (inside the caller's transaction, if any)."""
    checksum, text = body or (step_checksum(step), step_body(step))
    row = conn.execute(
        "INSERT INTO migtui.history (run_id, plan_id, plan_checksum, step_id, step_checksum, "
        "step_body, action, status, started_at, finished_at, operator, rows, error, captured) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, CASE WHEN %s THEN clock_timestamp() END, "
        "%s, %s, %s, %s) RETURNING id",
        (run_id, plan_id, plan_checksum, step.id, checksum, text, action, status, started_at,
         finished, operator, rows, error,
         json.dumps(captured, default=str) if captured is not None else None)).fetchone()
    assert row is not None
    return int(row[0])


def finish(conn: psycopg.Connection, row_id: int, status: str, *, rows: int | None = None,
           error: str | None = None) -> None:
    conn.execute("UPDATE migtui.history SET status = %s, finished_at = clock_timestamp(), "
                 "rows = %s, error = %s WHERE id = %s", (status, rows, error, row_id))


# ---------------------------------------------------------------- backfill progress


def _has_direction(conn: psycopg.Connection) -> bool:
    """Whether migtui.progress has its direction column (a reader may meet an older one)."""
    row = conn.execute("SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = "
                       "'migtui.progress'::regclass AND attname = 'direction' "
                       "AND NOT attisdropped)").fetchone()
    return bool(row and row[0])


def progress(conn: psycopg.Connection, plan_id: str, step_id: str, direction: str = "apply"
             ) -> tuple[str, int, int] | None:
    """(last key, rows scanned, rows changed) of a backfill stopped part-way, or None."""
    assert direction in DIRECTIONS
    if not schema_exists(conn):
        return None
    if not _has_direction(conn):
        if direction != "apply":
            return None
        row = conn.execute("SELECT last_key, rows_done, rows_changed FROM migtui.progress "
                           "WHERE plan_id = %s AND step_id = %s", (plan_id, step_id)).fetchone()
    else:
        row = conn.execute("SELECT last_key, rows_done, rows_changed FROM migtui.progress "
                           "WHERE plan_id = %s AND step_id = %s AND direction = %s",
                           (plan_id, step_id, direction)).fetchone()
    return (row[0], int(row[1]), int(row[2])) if row else None


def save_progress(conn: psycopg.Connection, plan_id: str, step_id: str, last_key: str,
                  rows_done: int, rows_changed: int, direction: str = "apply") -> None:
    assert direction in DIRECTIONS
    conn.execute(
        "INSERT INTO migtui.progress (plan_id, step_id, direction, last_key, rows_done, "
        "rows_changed) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (plan_id, step_id, direction) DO UPDATE SET "
        "last_key = EXCLUDED.last_key, rows_done = EXCLUDED.rows_done, "
        "rows_changed = EXCLUDED.rows_changed, updated_at = now()",
        (plan_id, step_id, direction, last_key, rows_done, rows_changed))


def clear_progress(conn: psycopg.Connection, plan_id: str, step_id: str,
                   direction: str = "apply") -> None:
    assert direction in DIRECTIONS
    conn.execute("DELETE FROM migtui.progress WHERE plan_id = %s AND step_id = %s "
                 "AND direction = %s", (plan_id, step_id, direction))
