"""The gauges on the application's side and the replicas' side of a run, read per sample:
``app_latency``, ``blocked_by_migtui``, ``replication_lag`` / ``slot_retained`` and
``wal_rate``. One query per source per sample.

A source that cannot be read says why in the snapshot's notes (decided once per
connection: extension missing, not preloaded, ``pg_read_all_stats`` needed), and a read
that fails is a note too: it never fails the sample, unless the connection itself broke.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from migtui.fmt import first_line
from migtui.plan.model import Plan
from migtui.sampler.app_latency import AppLatencyReader
from migtui.sampler.blocking import BlockingReader
from migtui.sampler.replication import ReplicationReader

TAG = "/* migtui-sampler */"


class GaugeReaders:
    def __init__(self, plan: Plan, rate_window: float = 5.0) -> None:
        mon = plan.monitoring
        own = tuple(mon.smoke) + tuple(c.sql for c in mon.integrity)
        self.app = AppLatencyReader(rate_window, own_sql=own)
        self.blocking = BlockingReader()
        self.replication = ReplicationReader(rate_window)
        self._connected = False

    def connect(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            f"""SELECT {TAG} current_setting('server_version_num')::int,
                   coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
                   OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')""").fetchone()
        version, privileged = (int(row[0]), bool(row[1])) if row else (0, False)
        self.blocking.connect(version, privileged)
        self.replication.connect(privileged)
        try:
            self.app.connect(conn, version)
        except psycopg.Error as e:
            if conn.closed or conn.broken:
                raise
            self.app.active = False
            self.app.note = f"app_latency inactive: {first_line(e)}"
        self._connected = True

    def read(self, conn: psycopg.Connection[Any], seq: int, out: dict[str, Any],
             notes: list[str]) -> float:
        """Adds the gauges' values to ``out`` and their notes; returns the time spent waiting
        on the database."""
        if not self._connected:
            self.connect(conn)
        spent = 0.0
        for name, reader in (("app_latency", self._app), ("blocked_by_migtui", self._blocked),
                             ("replication", self._replication)):
            t0 = time.perf_counter()
            try:
                out.update(reader(conn, seq))
            except psycopg.Error as e:
                if conn.closed or conn.broken:
                    raise
                notes.append(f"{name} not read: {first_line(e)}")
            spent += time.perf_counter() - t0
        if self.app.note:
            notes.append(self.app.note)
        if self.blocking.note:
            notes.append(self.blocking.note)
        notes.extend(self.replication.notes(out))
        return spent

    def _app(self, conn: psycopg.Connection[Any], seq: int) -> dict[str, Any]:
        return self.app.read(conn, time.monotonic(), seq)

    def _blocked(self, conn: psycopg.Connection[Any], seq: int) -> dict[str, Any]:
        return self.blocking.read(conn)

    def _replication(self, conn: psycopg.Connection[Any], seq: int) -> dict[str, Any]:
        return self.replication.read(conn, time.monotonic())


