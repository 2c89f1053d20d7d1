"""Timing the plan's probes: on the server where possible, else a bare client timing.

A probe's latency, timed in this process, is the database's time *plus* this client's
scheduling: on a loaded machine (or beside busy Python threads holding the GIL) a 2 ms
query reads 30 ms. So where ``pg_stat_statements`` is available (and the server is 14+,
whose ``EXPLAIN VERBOSE`` names a statement's query id), a probe's time is the server's:
the delta of ``total_exec_time / calls`` of the probe's query id between two samples.

The probe is still timed on the client, around the libpq call only (``PGconn.exec_``,
which releases the GIL while it waits; no Python work inside the timed path). That time
counts instead of the server's when

* the server cannot tell (no extension, an old server, the probe failed or its entry was
  evicted): the snapshot says ``latency_source = "client"`` and a note says why;
* the probe waited well beyond its execution (``CLIENT_GAP``): a lock wait before the
  executor started is not execution time, but the application feels it too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq

TAG = "/* migtui-sampler */"
# a client time this much above the server's is a wait (a lock), not scheduling noise
CLIENT_GAP = 0.1  # seconds
_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY)


@dataclass(frozen=True)
class ProbeRound:
    times: tuple[float, ...]  # per probe, the time that counts (seconds)
    client: tuple[float, ...]  # per probe, the client-side round trip
    failures: int
    source: str  # "server" when every probe's time is the server's, else "client"
    db_time: float  # client time of the pg_stat_statements reads
    note: str = ""


class ProbeTimer:
    """Runs the probes of one connection; ``reset()`` when the connection changes."""

    def __init__(self, probes: Sequence[str]) -> None:
        self.probes = list(probes)
        self._sql = [p.encode() for p in self.probes]
        self.reset()

    def reset(self) -> None:
        self._ids: list[int | None] | None = None  # per probe; None: unknown
        self._last: dict[int, tuple[float, float]] = {}
        self._read = ""
        self._note = ""

    # ------------------------------------------------------------ server side

    def _setup(self, conn: psycopg.Connection[Any], server: dict[str, Any]) -> None:
        self._ids = [None] * len(self.probes)
        if not server.get("pgss"):
            self._note = (f"latency timed client-side: {server.get('pgss_note') or 'no pg_stat_statements'}")
            return
        if server.get("version", 0) < 140000:
            self._note = "latency timed client-side: the server is older than 14 (no query ids)"
            return
        missing = 0
        for i, probe in enumerate(self.probes):
            try:
                row = conn.execute(f"EXPLAIN {TAG} (VERBOSE, FORMAT JSON) {probe}").fetchone()
                plan = row[0] if row else None
                if isinstance(plan, str):
                    plan = json.loads(plan)
                qid = plan[0].get("Query Identifier") if plan else None
                self._ids[i] = int(qid) if qid else None
            except psycopg.Error:
                if conn.closed or conn.broken:
                    raise
            missing += self._ids[i] is None
        if missing == len(self.probes):
            self._note = ("latency timed client-side: no query ids "
                          "(compute_query_id is off, or the probes cannot be explained)")
        elif missing:
            self._note = f"latency of {missing} probe(s) timed client-side: no query id"
        else:
            self._note = ""
        col = "total_exec_time"
        self._read = (
            f"SELECT {TAG} queryid, sum(calls)::float8, sum({col})::float8 "
            f"FROM pg_stat_statements(false) "
            f"WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            f" AND queryid = ANY(%s::bigint[]) GROUP BY queryid")

    def _counters(self, conn: psycopg.Connection[Any]) -> dict[int, tuple[float, float]]:
        ids = sorted({q for q in self._ids or [] if q is not None})
        if not ids or not self._read:
            return {}
        try:
            rows = conn.execute(self._read, (ids,)).fetchall()  # type: ignore[arg-type]
        except psycopg.Error:
            if conn.closed or conn.broken:
                raise
            return {}
        return {int(q): (float(c), float(t)) for q, c, t in rows}

    # ------------------------------------------------------------ one round

    def run(self, conn: psycopg.Connection[Any], server: dict[str, Any]) -> ProbeRound:
        if self._ids is None:
            self._setup(conn, server)
        db_time = 0.0
        if self._read and not self._last:  # the first round: counters before it
            t0 = time.perf_counter()
            self._last = self._counters(conn)
            db_time += time.perf_counter() - t0
        client: list[float] = []
        failed: list[bool] = []
        pgconn = conn.pgconn
        for sql in self._sql:
            # only the libpq call is timed: it waits with the GIL released
            t0 = time.perf_counter()
            res = pgconn.exec_(sql)
            t1 = time.perf_counter()
            client.append(t1 - t0)
            ok = res.status in _OK
            res.clear()
            if not ok and pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection was lost during a probe")
            failed.append(not ok)
        times = list(client)
        server_timed = [False] * len(times)
        if self._read:
            t0 = time.perf_counter()
            now = self._counters(conn)
            db_time += time.perf_counter() - t0
            for i, qid in enumerate(self._ids or []):
                if qid is None or failed[i] or qid not in now or qid not in self._last:
                    continue
                d_calls = now[qid][0] - self._last[qid][0]
                d_ms = now[qid][1] - self._last[qid][1]
                if d_calls < 1 or d_ms < 0:  # not counted, or the entry was reset
                    continue
                mean = d_ms / d_calls / 1000.0
                if client[i] - mean > CLIENT_GAP:  # waited outside execution: a lock
                    continue
                times[i], server_timed[i] = mean, True
            self._last = now
        source = "server" if times and all(server_timed) else "client"
        return ProbeRound(tuple(times), tuple(client), sum(failed), source, db_time,
                          self._note)
