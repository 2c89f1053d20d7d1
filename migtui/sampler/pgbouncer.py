"""PgBouncer's pools (``SHOW POOLS``), when the target names its admin console's URL."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import psycopg

from migtui import secrets
from migtui.dsn import DsnError, conninfo
from migtui.fmt import first_line
from migtui.sampler.snapshot import PoolStat


def libpq_dsn(dsn: str) -> str:
    """What psycopg connects with (``migtui.dsn``: any accepted form, Prisma's schema)."""
    try:
        return conninfo(dsn)
    except DsnError:
        return dsn  # libpq refuses it with its own (scrubbed) error, as for any bad target


class PgBouncer:
    """``SHOW POOLS`` from the target's PgBouncer admin console, on a connection of its own."""

    def __init__(self, env: str | None) -> None:
        self.env = env
        self._conn: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def read(self, notes: list[str]) -> dict[str, Any]:
        env = self.env
        if not env:
            return {}
        dsn = os.environ.get(env)
        if not dsn:
            notes.append(f"PgBouncer pools inactive: {env} is not set")
            return {}
        secrets.register_url(dsn)
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(libpq_dsn(dsn), autocommit=True,
                                         connect_timeout=5)
            cur = self._conn.execute("SHOW POOLS")
            cols = [c.name for c in cur.description or []]
            pools = []
            for row in cur.fetchall():
                r = dict(zip(cols, row, strict=False))
                wait = float(r.get("maxwait") or 0) + float(r.get("maxwait_us") or 0) / 1e6
                pools.append(PoolStat(str(r.get("database", "")), str(r.get("user", "")),
                                      int(r.get("cl_active") or 0), int(r.get("cl_waiting") or 0),
                                      int(r.get("sv_active") or 0), int(r.get("sv_idle") or 0),
                                      wait, str(r.get("pool_mode") or "")))
            return {"pgbouncer": tuple(pools),
                    "pgbouncer_waiting": sum(p.cl_waiting for p in pools)}
        except psycopg.Error as e:
            self.close()
            notes.append(f"PgBouncer unreachable: {secrets.scrub(first_line(e))}")
            return {}

