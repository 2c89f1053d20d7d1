"""The SQL reads behind one sample, on one psycopg connection.

``Collector`` keeps what must survive between samples (the previous counters, the probe
timings window, the size at start) and turns one round of reads into a ``Snapshot``.
Every monitoring query carries the ``/* migtui-sampler */`` tag right after ``SELECT``
(PostgreSQL 17+ drops leading comments from ``pg_stat_statements``), so its query ids can
be found and excluded from the statement mean. Per sample the statement sums are read
with ``pg_stat_statements(false)``, which does not read the query-text file.

The connection is in autocommit mode, read-only by default (``default_transaction_read_only``)
and bounded by ``statement_timeout`` so a probe stuck behind a lock cannot hang the sampler.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import psutil
import psycopg

from migtui import secrets
from migtui.plan.model import Plan, Target
from migtui.sampler.activity import lock_waits, run_checks
from migtui.sampler.gauge_readers import GaugeReaders
from migtui.sampler.pgbouncer import PgBouncer
from migtui.sampler.probes import TAG, ProbeTimer
from migtui.sampler.snapshot import CheckFailure, Snapshot
from migtui.sampler.window import Window

APPLICATION_NAME = "migtui-sampler"

_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def parse_size(text: str) -> int:
    """Bytes from '500GB', '1.5 TB', '800MB' (1024-based, as pg_size_bytes)."""
    s = text.strip().lower().replace(" ", "")
    num = s.rstrip("kmgtpb")
    unit = s[len(num):] or "b"
    if unit in ("k", "m", "g", "t", "p"):
        unit += "b"
    try:
        value = float(num)
    except ValueError:
        raise ValueError(f"expected a size such as 500GB, found {text!r}") from None
    if unit not in _SIZE_UNITS or value <= 0:
        raise ValueError(f"expected a size such as 500GB, found {text!r}")
    return int(value * _SIZE_UNITS[unit])


def is_local(host: str | None) -> bool:
    """True for a Unix socket (a path or no host) or a loopback address."""
    if not host or host.startswith("/") or host.startswith("@"):
        return True
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_TRANSACTIONS = 50  # in the rate window, before the rollback ratio counts


class Collector:
    """Reads one sample. Not thread-safe: the sampler's thread owns it."""

    def __init__(self, plan: Plan, target: Target | None = None, *, window: float = 30.0,
                 rate_window: float = 5.0, check_every: int = 5,
                 captured: Callable[[], dict[str, Any]] | None = None,
                 local_disk: bool | None = None, min_samples: int = 0) -> None:
        self.plan = plan
        self.probes = ProbeTimer(plan.monitoring.probes)
        self.min_samples = min_samples  # probe rounds in the window before latency counts
        self.local_disk = local_disk  # None: detect; False: always size vs. disk_capacity
        self.target = target
        self.latency = Window(window)
        self.rate_window = rate_window
        self.check_every = max(1, check_every)
        self.captured = captured or dict
        self._counters: deque[tuple[float, int, int]] = deque()
        self._pgss: deque[tuple[float, float, float]] = deque()
        self._pgss_start: tuple[float, float] | None = None
        self._pgss_own: list[int] | None = None  # query ids of the sampler's own reads
        self._size_start: int | None = None
        self._last_mono: float | None = None
        self._server: dict[str, Any] | None = None
        self._bouncer = PgBouncer(target.pgbouncer_dsn_env if target else None)
        self._checks: tuple[int | None, int | None, tuple[CheckFailure, ...]] = (None, None, ())
        self._size: int | None = None
        self.capacity: int | None = None
        self._capacity_note = ""
        self.readers = GaugeReaders(plan, rate_window)  # app, blocking, replication, WAL
        if target is not None and target.disk_capacity:
            try:
                self.capacity = parse_size(target.disk_capacity)
            except ValueError as e:
                self._capacity_note = f"disk capacity ignored: {e}"

    # ------------------------------------------------------------ connection

    def on_connect(self, conn: psycopg.Connection[Any], probe_timeout: float) -> None:
        ms = max(1, int(probe_timeout * 1000))
        conn.execute(f"SET statement_timeout = {ms}")
        conn.execute(f"SET lock_timeout = {ms}")
        conn.execute("SET default_transaction_read_only = on")
        # a database's idle_session_timeout shorter than the interval must not kill the
        # session between samples (a failed sample counts the smoke queries as failed)
        conn.execute("SET idle_in_transaction_session_timeout = 0")
        if conn.info.server_version >= 140000:
            conn.execute("SET idle_session_timeout = 0")
        self._server = self._server_facts(conn)
        self._counters.clear()
        self._pgss.clear()
        self._pgss_start = None
        self._pgss_own = None
        self.readers.connect(conn)
        self.probes.reset()

    def _server_facts(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        row = conn.execute(
            f"""SELECT {TAG} current_setting('server_version_num')::int,
                   current_setting('max_connections')::int,
                   current_setting('superuser_reserved_connections')::int,
                   coalesce(current_setting('reserved_connections', true), '0')::int,
                   (SELECT setting FROM pg_settings WHERE name = 'data_directory'),
                   (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements')
            """).fetchone()
        assert row is not None
        version, max_conn, su_reserved, reserved, data_dir, pgss = row
        facts: dict[str, Any] = {
            "version": version, "usable": max(1, max_conn - su_reserved - reserved),
            "data_dir": None, "pgss": None, "pgss_note": "",
        }
        local = is_local(conn.info.host) if self.local_disk is None else self.local_disk
        if data_dir and local and os.path.isdir(data_dir):
            try:
                psutil.disk_usage(data_dir)
                facts["data_dir"] = data_dir
            except OSError:
                pass
        if pgss is None:
            facts["pgss_note"] = "pg_stat_statements not installed"
        else:
            col = "total_exec_time" if version >= 130000 else "total_time"
            facts["pgss"] = (
                f"SELECT {TAG} coalesce(sum(calls), 0)::float8, coalesce(sum({col}), 0)::float8 "
                f"FROM pg_stat_statements(false) s "
                f"WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                f" AND s.queryid <> ALL(%s::bigint[])")
            facts["pgss_own"] = (
                f"SELECT {TAG} coalesce(array_agg(DISTINCT queryid), '{{}}') "
                f"FROM pg_stat_statements WHERE query LIKE '%{TAG}%' "
                f"AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
            try:
                conn.execute(facts["pgss"], ([],)).fetchone()
            except psycopg.Error:
                facts["pgss"] = None
                facts["pgss_note"] = ("pg_stat_statements installed but not loaded "
                                      "(shared_preload_libraries)")
        return facts

    def close(self) -> None:
        self._bouncer.close()

    # ------------------------------------------------------------ one sample

    def sample(self, conn: psycopg.Connection[Any], seq: int) -> Snapshot:
        assert self._server is not None, "on_connect() first"
        started = time.monotonic()  # the same clock as ``mono``: start = mono - duration
        notes: list[str] = []
        db_time = 0.0
        out: dict[str, Any] = {}

        # probes: the application's representative queries, timed on the server where
        # pg_stat_statements can tell (see migtui.sampler.probes)
        probes = self.plan.monitoring.probes
        failures = 0
        if probes:
            rnd = self.probes.run(conn, self._server)
            failures = rnd.failures
            db_time += rnd.db_time
            round_time = sum(rnd.times)
            self.latency.add(time.monotonic(), round_time)
            out.update(latency_last=round_time, latency_p50=self.latency.percentile(50),
                       latency_p95=self.latency.percentile(95), probe_times=rnd.times,
                       probe_client_times=rnd.client, latency_source=rnd.source,
                       latency_samples=len(self.latency), latency_min_samples=self.min_samples,
                       probes_run=len(probes), probe_failures=failures)
            notes.append(rnd.note)
        else:
            notes.append("latency inactive: the plan has no monitoring.probes")

        # counters: commits, rollbacks, backends
        t0 = time.perf_counter()
        row = conn.execute(
            f"""SELECT {TAG} d.xact_commit, d.xact_rollback,
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')
                FROM pg_stat_database d WHERE d.datname = current_database()""").fetchone()
        db_time += time.perf_counter() - t0
        mono = time.monotonic()
        if row is not None:
            commit, rollback, backends = int(row[0]), int(row[1]), int(row[2])
            out.update(self._rates(mono, commit, rollback, failures, len(probes)))
            usable = self._server["usable"]
            out.update(backends=backends, max_connections=usable,
                       pool_pct=100.0 * backends / usable)

        # statement mean time from pg_stat_statements
        if self._server["pgss"]:
            t0 = time.perf_counter()
            if seq % self.check_every == 0 or self._pgss_own is None:
                own = conn.execute(self._server["pgss_own"]).fetchone()
                ids = sorted(own[0]) if own else []
                if ids != self._pgss_own:  # a new own query: restart the sums
                    self._pgss_own = ids
                    self._pgss.clear()
                    self._pgss_start = None
            prow = conn.execute(self._server["pgss"], (self._pgss_own,)).fetchone()
            db_time += time.perf_counter() - t0
            if prow is not None:
                out.update(self._statement_mean(mono, float(prow[0]), float(prow[1])))
        else:
            notes.append(self._server["pgss_note"])

        # lock waits and their blockers
        t0 = time.perf_counter()
        waits = lock_waits(conn, self._server["version"] if self._server else None)
        db_time += time.perf_counter() - t0
        out.update(lock_waiters=len(waits), lock_waits=tuple(waits),
                   longest_wait=max((w.seconds for w in waits), default=0.0))

        # disk, database size, smoke queries and integrity checks: every few samples
        periodic = seq % self.check_every == 0
        if periodic or self._size is None:
            t0 = time.perf_counter()
            srow = conn.execute(f"SELECT {TAG} pg_database_size(current_database())").fetchone()
            db_time += time.perf_counter() - t0
            self._size = int(srow[0]) if srow else None
            if self._size_start is None:
                self._size_start = self._size
        out.update(self._disk(notes))
        if periodic or self._checks[0] is None:
            self._checks = run_checks(conn, self.plan.monitoring, self.captured())
        smoke, integrity, check_failures = self._checks
        out.update(smoke_failures=smoke, integrity_failures=integrity, failures=check_failures)
        if not self.plan.monitoring.smoke:
            notes.append("smoke inactive: the plan has no monitoring.smoke")
        if not self.plan.monitoring.integrity:
            notes.append("integrity inactive: the plan has no monitoring.integrity")

        # PgBouncer pools
        out.update(self._bouncer.read(notes))
        db_time += self.readers.read(conn, seq, out, notes)

        end_mono = time.monotonic()
        elapsed = None if self._last_mono is None else end_mono - self._last_mono
        self._last_mono = end_mono
        return Snapshot(taken_at=dt.datetime.now(dt.UTC), mono=end_mono, elapsed=elapsed,
                        duration=end_mono - started, db_time=db_time, seq=seq,
                        notes=distinct_notes(notes), **out)

    def failed(self, seq: int, error: str, unreachable: bool) -> Snapshot:
        """The snapshot of a sample that could not be taken."""
        mono = time.monotonic()
        elapsed = None if self._last_mono is None else mono - self._last_mono
        self._last_mono = mono
        # a database lost after it was reached breaks every smoke query; integrity stays
        # unknown. One never reached (a wrong port, a server still down when the app
        # opened) says nothing of the application: its smoke stays unknown, and trips no
        # rollback trigger with nothing applied.
        smoke = self.plan.monitoring.smoke if self._server is not None else []
        return Snapshot(taken_at=dt.datetime.now(dt.UTC), mono=mono, elapsed=elapsed,
                        duration=0.0, seq=seq, error=secrets.scrub(error),
                        unreachable=unreachable,
                        smoke_failures=len(smoke) if smoke and unreachable else None,
                        notes=("sample failed; reconnecting on the next tick",))

    # ------------------------------------------------------------ pieces

    def _rates(self, mono: float, commit: int, rollback: int, probe_failures: int,
               probes: int) -> dict[str, Any]:
        """TPS and error rate over the rate window, on measured time (never the nominal)."""
        self._counters.append((mono, commit, rollback))
        while len(self._counters) > 2 and self._counters[1][0] <= mono - self.rate_window:
            self._counters.popleft()
        first = self._counters[0]
        probe_rate = 100.0 * probe_failures / probes if probes else 0.0
        if first[0] == mono:
            return {"error_rate": probe_rate if probe_failures else None}
        elapsed = mono - first[0]
        d_commit = max(0, commit - first[1])
        d_rollback = max(0, rollback - first[2])
        total = d_commit + d_rollback
        # no traffic, no errors; and a handful of transactions (often the gauges' own) is
        # too few to judge: one rollback in 20 is not a 5% error rate of an application
        db_rate = 100.0 * d_rollback / total if total >= MIN_TRANSACTIONS else 0.0
        return {"error_rate": max(db_rate, probe_rate), "tps": total / elapsed,
                "commits": d_commit, "rollbacks": d_rollback}

    def _statement_mean(self, mono: float, calls: float, total_ms: float) -> dict[str, Any]:
        if self._pgss_start is None:
            self._pgss_start = (calls, total_ms)
        self._pgss.append((mono, calls, total_ms))
        while len(self._pgss) > 2 and self._pgss[1][0] <= mono - self.rate_window:
            self._pgss.popleft()
        _, c0, t0 = self._pgss[0]
        d_calls, d_ms = calls - c0, total_ms - t0
        if d_calls <= 0 or d_ms < 0:  # no statements, or entries were deallocated
            return {}
        mean = d_ms / d_calls / 1000.0
        out: dict[str, Any] = {"statement_mean": mean}
        s_calls, s_ms = calls - self._pgss_start[0], total_ms - self._pgss_start[1]
        if s_calls > 0 and s_ms > 0:
            since_start = s_ms / s_calls / 1000.0
            out["statement_mean_change"] = 100.0 * (mean - since_start) / since_start
        return out

    def _disk(self, notes: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"database_size": self._size}
        if self._size is not None and self._size_start is not None:
            out["disk_growth"] = self._size - self._size_start
        data_dir = self._server["data_dir"] if self._server else None
        if data_dir:
            try:
                out.update(disk_pct=psutil.disk_usage(data_dir).percent, disk_source="filesystem")
                return out
            except OSError as e:
                notes.append(f"data directory unreadable: {e.strerror}")
        if self.capacity and self._size is not None:
            out.update(disk_pct=100.0 * self._size / self.capacity, disk_source="capacity")
        else:
            notes.append(self._capacity_note or
                         "disk % inactive: the server is not local and the target has no "
                         "disk_capacity")
        return out


def distinct_notes(notes: list[str]) -> tuple[str, ...]:
    """The notes worth reading, in order: a note already said inside another ("pg_stat_
    statements not installed" after "latency timed client-side: pg_stat_statements not
    installed") and a repeated one are dropped."""
    kept = [n for n in dict.fromkeys(notes) if n]
    return tuple(n for n in kept if not any(n != o and n in o for o in kept))
