"""``app_latency``: the application's own mean execution time per call, from
``pg_stat_statements`` deltas over the rate window, weighted by calls.

What is left out, by query id:

* the sampler's monitoring reads (``/* migtui-sampler */`` in their text);
* the plan's smoke queries and integrity checks (their ids from ``EXPLAIN (VERBOSE)``);
* every statement a migtui connection (``application_name`` starting with ``migtui``:
  the runner's DDL and batches) is seen running, from ``pg_stat_activity.query_id``
  (PostgreSQL 14+). An id, once seen, stays left out.

The probes are the application's representative queries and count as the application's.
Each sample is one query on ``pg_stat_statements(false)`` (no query text). When the set of
left-out ids grows, that sample only re-bases the sums, so a migtui statement's time never
leaks into a delta. Every ``risers_every`` samples, the per-statement sums are read to name
the statements whose mean rose most against their mean before sampling began (or when first
seen, for a statement the application started running later); only then,
and only for those few, is the query-text file read.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from typing import Any

import psycopg

from migtui.sampler.snapshot import StatementRise

TAG = "/* migtui-sampler */"
QUERY_CHARS = 200
_DB = "(SELECT oid FROM pg_database WHERE datname = current_database())"


class AppLatencyReader:
    def __init__(self, rate_window: float = 5.0, *, risers_every: int = 10,
                 top: int = 3, own_sql: tuple[str, ...] = ()) -> None:
        self.rate_window = rate_window
        self.risers_every = max(1, risers_every)
        self.top = top
        self.own_sql = own_sql  # smoke and integrity queries: migtui's, not the application's
        self.note = ""  # why the gauge is inactive (said once per connection)
        self.active = False
        self._excluded: set[int] = set()
        self._prev: tuple[float, float] | None = None
        self._steps: deque[tuple[float, float, float]] = deque()
        self._ref: dict[int, tuple[float, float]] | None = None
        self._last: dict[int, tuple[float, float]] = {}
        self._texts: dict[int, str] = {}
        self._risers: tuple[StatementRise, ...] = ()
        self._sql = self._ids_sql = ""

    # ------------------------------------------------------------ connection

    def connect(self, conn: psycopg.Connection[Any], version: int) -> None:
        self.active = False
        self._prev, self._ref = None, None
        self._steps.clear()
        self._last.clear()
        row = conn.execute(f"SELECT {TAG} (SELECT extversion FROM pg_extension "
                           f"WHERE extname = 'pg_stat_statements')").fetchone()
        if row is None or row[0] is None:
            self.note = ("app_latency inactive: pg_stat_statements not installed "
                         "(CREATE EXTENSION pg_stat_statements); probes remain the latency "
                         "source")
            return
        col = "total_exec_time" if version >= 130000 else "total_time"
        activity = "'{}'::bigint[]"
        if version >= 140000:
            activity = ("(SELECT coalesce(array_agg(DISTINCT query_id), '{}') FROM pg_stat_activity"
                        " WHERE application_name LIKE 'migtui%%' AND query_id IS NOT NULL"
                        " AND pid <> pg_backend_pid() AND datname = current_database())")
        # one row: the migtui sessions' ids now, and the sums of every other statement
        self._sql = (
            f"WITH own AS (SELECT {activity} AS ids) "
            f"SELECT {TAG} own.ids, coalesce(sum(s.calls), 0)::float8, "
            f"coalesce(sum(s.{col}), 0)::float8 "
            f"FROM own LEFT JOIN pg_stat_statements(false) s ON s.dbid = {_DB} "
            f"AND NOT coalesce(s.queryid, 0) = ANY(own.ids || %s::bigint[]) GROUP BY own.ids")
        self._ids_sql = (
            f"SELECT {TAG} s.queryid, sum(s.calls)::float8, sum(s.{col})::float8 "
            f"FROM pg_stat_statements(false) s WHERE s.dbid = {_DB} "
            f"AND NOT coalesce(s.queryid, 0) = ANY(%s::bigint[]) GROUP BY s.queryid")
        try:
            conn.execute(self._sql, ([],)).fetchone()
        except psycopg.Error as e:
            if conn.closed or conn.broken:
                raise
            self.note = ("app_latency inactive: pg_stat_statements installed but not loaded "
                         "(shared_preload_libraries); probes remain the latency source")
            if "permission" in str(e).lower():
                self.note = f"app_latency inactive: {str(e).strip().splitlines()[0]}"
            return
        self.active, self.note = True, ""
        self._excluded |= self._explained_ids(conn)
        self._excluded |= self._tagged_ids(conn)

    def _explained_ids(self, conn: psycopg.Connection[Any]) -> set[int]:
        """The query ids of the plan's smoke and integrity SQL, planned, never run."""
        ids: set[int] = set()
        for sql in self.own_sql:
            with contextlib.suppress(psycopg.Error, LookupError, TypeError, ValueError):
                row = conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}").fetchone()  # type: ignore[call-overload]
                plan = row[0] if row else None
                if isinstance(plan, str):
                    plan = json.loads(plan)
                qid = plan[0].get("Query Identifier") if plan else None
                if qid:
                    ids.add(int(qid))
        return ids

    def _tagged_ids(self, conn: psycopg.Connection[Any]) -> set[int]:
        """The sampler's own reads (reads the query-text file: rarely)."""
        row = conn.execute(
            f"SELECT {TAG} coalesce(array_agg(DISTINCT queryid), '{{}}') FROM pg_stat_statements "
            f"WHERE dbid = {_DB} AND query LIKE '%%migtui-sampler%%'").fetchone()
        return {int(i) for i in (row[0] if row else []) if i is not None}

    # ------------------------------------------------------------ one sample

    def read(self, conn: psycopg.Connection[Any], mono: float, seq: int) -> dict[str, Any]:
        if not self.active:
            return {}
        if seq <= 2 or seq % self.risers_every == 0:
            self._excluded |= self._tagged_ids(conn)
        row = conn.execute(self._sql, (sorted(self._excluded),)).fetchone()
        if row is None:
            return {}
        seen, calls, total_ms = {int(i) for i in row[0] or []}, float(row[1]), float(row[2])
        prev, self._prev = self._prev, (calls, total_ms)
        if not seen <= self._excluded:  # a new migtui statement: re-base, no step
            self._excluded |= seen
        elif prev is not None and calls >= prev[0] and total_ms >= prev[1]:
            self._steps.append((mono, calls - prev[0], total_ms - prev[1]))
        while self._steps and self._steps[0][0] <= mono - self.rate_window:
            self._steps.popleft()
        out: dict[str, Any] = {}
        d_calls = sum(s[1] for s in self._steps)
        if d_calls > 0:
            out.update(app_latency=sum(s[2] for s in self._steps) / d_calls / 1000.0,
                       app_calls=int(d_calls))
        if seq % self.risers_every == 0 or self._ref is None:
            self._read_risers(conn)
        out["app_risers"] = self._risers
        return out

    def _read_risers(self, conn: psycopg.Connection[Any]) -> None:
        now = {int(q): (float(c), float(t))
               for q, c, t in conn.execute(self._ids_sql, (sorted(self._excluded),))
               if q is not None and int(q) not in self._excluded}
        if self._ref is None:
            self._ref, self._last = now, now
            return
        for qid, sums in now.items():  # first seen after sampling began: its mean so far
            self._ref.setdefault(qid, sums)
        rises: list[tuple[float, StatementRise]] = []
        for qid, (calls, total) in now.items():
            ref, last = self._ref.get(qid), self._last.get(qid)
            if not ref or not last or ref[0] <= 0 or calls <= last[0] or total < last[1]:
                continue
            before = ref[1] / ref[0] / 1000.0
            mean = (total - last[1]) / (calls - last[0]) / 1000.0
            if mean > before:
                rises.append((mean - before, StatementRise(qid, "", before, mean,
                                                           int(calls - last[0]))))
        self._last = now
        top = [r for _d, r in sorted(rises, key=lambda x: -x[0])[: self.top]]
        missing = [r.queryid for r in top if r.queryid not in self._texts]
        if missing:
            for qid, text in conn.execute(
                    f"SELECT {TAG} queryid, left(query, {QUERY_CHARS}) FROM pg_stat_statements "
                    f"WHERE dbid = {_DB} AND queryid = ANY(%s)", (missing,)):
                self._texts[int(qid)] = " ".join(str(text or "").split())
        self._risers = tuple(StatementRise(r.queryid, self._texts.get(r.queryid, ""),
                                           r.mean_before, r.mean_now, r.calls) for r in top)
