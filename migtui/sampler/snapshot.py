"""What one sample measured: a frozen, UI-agnostic record of the database's health.

A ``Snapshot`` is published by the sampler every interval. It is never journaled (it is
too frequent); the guard turns it into journaled ``ThresholdChanged`` events instead.
Every value may be ``None`` when it could not be measured this time, and ``notes`` says
which gauges are inactive and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from migtui.plan.model import Metric


@dataclass(frozen=True)
class Session:
    """A backend, named the way a DBA looks for it."""

    pid: int
    application_name: str
    query: str
    state: str = ""
    user: str = ""

    def __str__(self) -> str:
        app = self.application_name or "?"
        return f"pid {self.pid} ({app}): {self.query}"


@dataclass(frozen=True)
class LockWait:
    """A backend waiting on a heavyweight lock, and who blocks it (pg_blocking_pids)."""

    waiter: Session
    seconds: float
    blockers: tuple[Session, ...] = ()


@dataclass(frozen=True)
class PoolStat:
    """One row of PgBouncer's SHOW POOLS."""

    database: str
    user: str
    cl_active: int
    cl_waiting: int
    sv_active: int
    sv_idle: int
    maxwait: float
    pool_mode: str = ""


@dataclass(frozen=True)
class CheckFailure:
    """A smoke query or integrity check that failed this round."""

    name: str
    reason: str


@dataclass(frozen=True)
class Snapshot:
    taken_at: dt.datetime  # wall clock (UTC) at the end of the sample
    mono: float  # time.monotonic() at the end of the sample: sustain timers use it
    elapsed: float | None  # measured seconds since the previous sample; None on the first
    duration: float  # how long this sample took (client side)
    db_time: float = 0.0  # time spent waiting on the database, probes excluded
    seq: int = 0
    error: str | None = None  # the sample failed; the sampler reconnects on the next tick

    # latency: probe round time, over the sliding window
    latency_last: float | None = None  # this sample's probe round (seconds)
    latency_p50: float | None = None
    latency_p95: float | None = None
    probe_times: tuple[float, ...] = ()  # per probe, the time that counted (seconds)
    # "server": pg_stat_statements' execution time of the probes; "client": the libpq
    # round trip timed here (no extension, or a probe waited outside execution, e.g. on
    # a lock); "" when no probe ran
    latency_source: str = ""
    probe_client_times: tuple[float, ...] = ()  # per probe, the client-side round trip
    latency_samples: int = 0  # probe rounds in the sliding window
    latency_min_samples: int = 0  # rounds needed before the guard judges latency
    probes_run: int = 0
    probe_failures: int = 0
    statement_mean: float | None = None  # pg_stat_statements: mean exec time (s) this window
    statement_mean_change: float | None = None  # percent vs. the mean since sampling started

    # errors and throughput, over the rate window
    error_rate: float | None = None  # percent
    tps: float | None = None
    commits: int | None = None  # deltas over the rate window
    rollbacks: int | None = None

    # connections
    backends: int | None = None
    max_connections: int | None = None  # usable: max − reserved
    pool_pct: float | None = None
    pgbouncer: tuple[PoolStat, ...] = ()
    pgbouncer_waiting: int | None = None

    # disk
    disk_pct: float | None = None
    disk_source: str = ""  # "filesystem" | "capacity" | ""
    database_size: int | None = None  # bytes
    disk_growth: int | None = None  # bytes since the sampler started

    # locks
    lock_waiters: int | None = None
    longest_wait: float | None = None  # seconds
    lock_waits: tuple[LockWait, ...] = ()

    # smoke queries and integrity checks (run every few samples)
    smoke_failures: int | None = None
    integrity_failures: int | None = None
    failures: tuple[CheckFailure, ...] = ()

    notes: tuple[str, ...] = field(default_factory=tuple)

    def metric(self, metric: Metric | str) -> float | None:
        """The value a threshold on ``metric`` is compared with, in the metric's unit."""
        m = Metric(metric) if not isinstance(metric, Metric) else metric
        match m:
            case Metric.latency:
                return self.latency_p95
            case Metric.error_rate:
                return self.error_rate
            case Metric.connection_pool:
                return self.pool_pct
            case Metric.disk:
                return self.disk_pct
            case Metric.lock_waits:
                return self.longest_wait
            case Metric.tps:
                return self.tps
            case Metric.smoke:
                return None if self.smoke_failures is None else float(self.smoke_failures)
            case Metric.integrity:
                return (None if self.integrity_failures is None
                        else float(self.integrity_failures))
        return None  # pragma: no cover

    def value(self, name: Metric | str) -> float | None:
        """A metric (``latency``) or any numeric field (``latency_p50``, ``backends``)."""
        if name in Metric.__members__ or isinstance(name, Metric):
            return self.metric(name)
        v = getattr(self, str(name), None)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def format_value(metric: Metric | str, value: float | None) -> str:
    """A metric's value in its unit: '12ms', '3.5%', '42 tps', '2 failing'."""
    if value is None:
        return "n/a"
    m = Metric(metric)
    if m in (Metric.latency, Metric.lock_waits):
        if value < 0.01:
            return f"{value * 1000:.1f}ms"
        return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.1f}s"
    if m in (Metric.error_rate, Metric.connection_pool, Metric.disk):
        return f"{value:.1f}%"
    if m is Metric.tps:
        return f"{value:.0f} tps"
    return f"{value:.0f} failing"
