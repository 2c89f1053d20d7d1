"""The rollout's state, in PostgreSQL: the control database is the coordinator.

Tables in the ``migtui_fleet`` schema of the control database: one ``rollout`` row (its
state and settings), one ``wave`` row per wave, one ``member`` row per member (state,
step, worker, heartbeat, error), and one ``worker`` row per worker process (its heartbeat
and how many control queries it sent). Workers claim members with ``FOR UPDATE SKIP
LOCKED`` inside a transaction that holds the rollout row, so the concurrency limits hold
across workers and hosts; a member whose worker stopped heartbeating is claimable again.
No password is stored: members are known by name, server, database and schema.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from migtui.fleet.members import Member
from migtui.fleet.tick_sql import CLAIM_FUNCTION

DDL = """
CREATE SCHEMA IF NOT EXISTS migtui_fleet;
CREATE TABLE IF NOT EXISTS migtui_fleet.rollout (
    id            text PRIMARY KEY,
    fleet         text NOT NULL,
    plan_id       text NOT NULL,
    plan_checksum text,
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'paused', 'failed', 'done')),
    on_failure    text NOT NULL,
    concurrency   int NOT NULL,
    per_server    int,
    soak          float8 NOT NULL DEFAULT 0,
    timeout       float8 NOT NULL,
    message       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE TABLE IF NOT EXISTS migtui_fleet.wave (
    rollout     text NOT NULL REFERENCES migtui_fleet.rollout ON DELETE CASCADE,
    n           int NOT NULL,
    size        int NOT NULL,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'soaking', 'done', 'failed', 'stopped')),
    started_at  timestamptz,
    finished_at timestamptz,
    gate_until  timestamptz,
    message     text,
    PRIMARY KEY (rollout, n)
);
CREATE TABLE IF NOT EXISTS migtui_fleet.member (
    rollout     text NOT NULL REFERENCES migtui_fleet.rollout ON DELETE CASCADE,
    name        text NOT NULL,
    ord         int NOT NULL,
    wave        int NOT NULL,
    server      text NOT NULL,
    database    text NOT NULL,
    schema      text,
    lock_group  text NOT NULL,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'applied', 'failed', 'rollback_pending',
                                 'rolling_back', 'rolled_back')),
    step        text,
    worker      text,
    heartbeat   timestamptz,
    attempts    int NOT NULL DEFAULT 0,
    error       text,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (rollout, name)
);
-- what the app's fleet view shows per member, sent with the heartbeat
ALTER TABLE migtui_fleet.member ADD COLUMN IF NOT EXISTS progress text,
    ADD COLUMN IF NOT EXISTS gauge text;
-- a rollback of the member was tried since it last ran forward: a member whose rollback
-- failed ('failed' again) is not marked for rollback again by the failure policy
ALTER TABLE migtui_fleet.member ADD COLUMN IF NOT EXISTS rollback_tried boolean NOT NULL
    DEFAULT false;
CREATE INDEX IF NOT EXISTS member_wave_idx ON migtui_fleet.member (rollout, wave, ord);
CREATE TABLE IF NOT EXISTS migtui_fleet.worker (
    id         text PRIMARY KEY,
    rollout    text NOT NULL,
    host       text NOT NULL,
    pid        int NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat  timestamptz NOT NULL DEFAULT now(),
    queries    bigint NOT NULL DEFAULT 0
);
ALTER TABLE migtui_fleet.worker ADD COLUMN IF NOT EXISTS ticks bigint NOT NULL DEFAULT 0;
-- the worker samples gauges (the plan has some, no --no-gauges): it can take a soak
ALTER TABLE migtui_fleet.worker ADD COLUMN IF NOT EXISTS soaker boolean NOT NULL
    DEFAULT false;
-- the soak gate: the worker sampling a soaking wave's gauges, and its heartbeat; a wave
-- left running or soaking by a stopped rollout is 'stopped'
ALTER TABLE migtui_fleet.wave ADD COLUMN IF NOT EXISTS worker text,
    ADD COLUMN IF NOT EXISTS heartbeat timestamptz;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'wave_state_check' AND
                   conrelid = 'migtui_fleet.wave'::regclass AND
                   pg_get_constraintdef(oid) LIKE '%stopped%') THEN
        ALTER TABLE migtui_fleet.wave DROP CONSTRAINT IF EXISTS wave_state_check;
        ALTER TABLE migtui_fleet.wave ADD CONSTRAINT wave_state_check
            CHECK (state IN ('pending', 'running', 'soaking', 'done', 'failed', 'stopped'));
    END IF;
END $$;
"""
DDL_LOCK = 0x6D696774  # pg_advisory_xact_lock(int4, int4): 'migt', 2 while creating tables
# the schema's version, kept as its comment: a digest of what creates it
SCHEMA_VERSION = "migtui fleet control " + hashlib.sha256(
    (DDL + CLAIM_FUNCTION).encode()).hexdigest()[:16]

ACTIVE = ("running", "rolling_back")


@dataclass(frozen=True)
class Rollout:
    id: str
    fleet: str
    plan_id: str
    state: str
    on_failure: str
    concurrency: int
    per_server: int | None
    soak: float
    timeout: float
    message: str | None


class ControlDb:
    """One connection to the control database, shared by a worker's threads (serialized);
    every statement is counted, so the load a worker puts on it can be reported."""

    def __init__(self, dsn: str, application_name: str = "migtui-fleet") -> None:
        self.dsn = dsn
        self.application_name = application_name
        self._conn: psycopg.Connection | None = None
        self._lock = threading.RLock()
        self.queries = 0

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            from migtui.runner.conn import connect

            self._conn = connect(self.dsn, application_name=self.application_name)
        return self._conn

    def q(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.queries += 1
            with self.conn.cursor(row_factory=dict_row) as cur:
                cur.execute(sql, params)  # type: ignore[arg-type]
                return cur.fetchall() if cur.description else []

    @contextmanager
    def tx(self) -> Iterator[ControlDb]:
        with self._lock, self.conn.transaction():
            self.queries += 2  # BEGIN and COMMIT are statements the server sees too
            yield self

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ---------------------------------------------------------------- setup

    def ensure_schema(self) -> None:
        """Create or upgrade the control schema, once: a schema already at this version
        is left alone, so a worker starting beside one that is creating the rollout takes
        no table lock (the upgrade's ALTER TABLEs would deadlock with its inserts)."""
        with self.tx():
            self.q("SELECT pg_advisory_xact_lock(%s, 2)", (DDL_LOCK,))
            got = self.q("SELECT obj_description(to_regnamespace('migtui_fleet'), "
                         "'pg_namespace') AS v")
            if got and got[0]["v"] == SCHEMA_VERSION:
                return
            self.q(DDL)
            self.q(CLAIM_FUNCTION)
            self.q(f"COMMENT ON SCHEMA migtui_fleet IS '{SCHEMA_VERSION}'")

    def rollout(self, rollout_id: str) -> Rollout | None:
        rows = self.q("SELECT id, fleet, plan_id, state, on_failure, concurrency, per_server, "
                      "soak, timeout, message FROM migtui_fleet.rollout WHERE id = %s",
                      (rollout_id,))
        return Rollout(**rows[0]) if rows else None

    def latest_rollout(self, fleet: str) -> Rollout | None:
        rows = self.q("SELECT id FROM migtui_fleet.rollout WHERE fleet = %s "
                      "ORDER BY created_at DESC LIMIT 1", (fleet,))
        return self.rollout(rows[0]["id"]) if rows else None

    def create_rollout(self, rollout: Rollout, checksum: str,
                       waves: Sequence[Sequence[Member]]) -> bool:
        """Insert the rollout with its waves and members; False when it already exists
        (another worker created it): then it is joined as it is."""
        with self.tx():
            got = self.q(
                "INSERT INTO migtui_fleet.rollout (id, fleet, plan_id, plan_checksum, "
                "on_failure, concurrency, per_server, soak, timeout) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                (rollout.id, rollout.fleet, rollout.plan_id, checksum, rollout.on_failure,
                 rollout.concurrency, rollout.per_server, rollout.soak, rollout.timeout))
            if not got:
                return False
            ord_ = 0
            names, ords, wave_ns, servers, dbs, schemas, groups = ([] for _ in range(7))
            for n, wave in enumerate(waves, 1):
                self.q("INSERT INTO migtui_fleet.wave (rollout, n, size) VALUES (%s, %s, %s)",
                       (rollout.id, n, len(wave)))
                for m in wave:
                    ord_ += 1
                    for lst, v in ((names, m.name), (ords, ord_), (wave_ns, n),
                                   (servers, m.server), (dbs, m.database),
                                   (schemas, m.schema), (groups, m.lock_group)):
                        lst.append(v)
            self.q("INSERT INTO migtui_fleet.member (rollout, name, ord, wave, server, database, "
                   "schema, lock_group) SELECT %s, * FROM unnest(%s::text[], %s::int[], "
                   "%s::int[], %s::text[], %s::text[], %s::text[], %s::text[])",
                   (rollout.id, names, ords, wave_ns, servers, dbs, schemas, groups))
            return True

    def register_worker(self, worker: str, rollout_id: str, host: str, pid: int,
                        soaker: bool = False) -> None:
        self.q("INSERT INTO migtui_fleet.worker (id, rollout, host, pid, soaker) VALUES "
               "(%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
               (worker, rollout_id, host, pid, soaker))

    # ---------------------------------------------------------------- reading

    def members(self, rollout_id: str) -> list[dict[str, Any]]:
        return self.q("SELECT name, wave, server, database, schema, m.state, step, progress, "
                      "gauge, worker, heartbeat, attempts, m.error, started_at, m.finished_at, "
                      "heartbeat < now() - make_interval(secs => r.timeout) AS stale "
                      "FROM migtui_fleet.member m JOIN migtui_fleet.rollout r ON r.id = m.rollout "
                      "WHERE m.rollout = %s ORDER BY ord", (rollout_id,))

    def waves(self, rollout_id: str) -> list[dict[str, Any]]:
        return self.q("SELECT n, size, state, started_at, finished_at, gate_until, message "
                      "FROM migtui_fleet.wave WHERE rollout = %s ORDER BY n", (rollout_id,))

    def workers(self, rollout_id: str) -> list[dict[str, Any]]:
        return self.q("SELECT id, host, pid, started_at, heartbeat, queries, ticks FROM "
                      "migtui_fleet.worker WHERE rollout = %s ORDER BY started_at", (rollout_id,))

    # ---------------------------------------------------------------- operator commands

    def set_state(self, rollout_id: str, state: str, message: str | None = None) -> bool:
        rows = self.q("UPDATE migtui_fleet.rollout SET state = %s, message = coalesce(%s, message)"
                      " WHERE id = %s RETURNING id", (state, message, rollout_id))
        return bool(rows)

    def resume(self, rollout_id: str, message: str) -> str | None:
        """Continue a paused rollout, or retry a failed one: its failed and rolled-back
        members become pending and its failed (or stopped) waves run again. The state it
        had (None: no such rollout)."""
        with self.tx():
            rows = self.q("SELECT state FROM migtui_fleet.rollout WHERE id = %s FOR UPDATE",
                          (rollout_id,))
            if not rows:
                return None
            if rows[0]["state"] == "failed":
                self.q("UPDATE migtui_fleet.member SET state = 'pending', worker = NULL, "
                       "error = NULL, rollback_tried = false WHERE rollout = %s AND state IN ('failed', 'rolled_back')",
                       (rollout_id,))
                self.q("UPDATE migtui_fleet.wave SET state = 'running', finished_at = NULL, "
                       "message = NULL WHERE rollout = %s AND state IN ('failed', 'stopped')",
                       (rollout_id,))
            self.q("UPDATE migtui_fleet.rollout SET state = 'running', finished_at = NULL, "
                   "message = %s WHERE id = %s", (message, rollout_id))
            return str(rows[0]["state"])

    def request_rollback(self, rollout_id: str, wave: int | None = None,
                         member: str | None = None) -> int:
        """Mark applied (or failed, partly applied) members for rollback; stop forward work."""
        with self.tx():
            rows = self.q(
                "UPDATE migtui_fleet.member SET state = 'rollback_pending', worker = NULL "
                "WHERE rollout = %s AND state IN ('applied', 'failed') "
                "AND (%s::int IS NULL OR wave = %s) AND (%s::text IS NULL OR name = %s) "
                "RETURNING name", (rollout_id, wave, wave, member, member))
            what = (f"member {member}" if member else f"wave {wave}" if wave is not None
                    else "every member")
            msg = f"stopped: rollback of {what} requested by the operator"
            self.q("UPDATE migtui_fleet.rollout SET state = 'failed', message = %s WHERE id = %s",
                   (msg, rollout_id))
            self.q("UPDATE migtui_fleet.wave SET state = 'stopped', worker = NULL, finished_at = "
                   "coalesce(finished_at, now()), message = %s WHERE rollout = %s AND "
                   "state IN ('running', 'soaking')", (msg, rollout_id))
        return len(rows)
