"""What one sample measured: a frozen, UI-agnostic record of the database's health.

A ``Snapshot`` is published by the sampler every interval. It is never journaled (it is
too frequent); the guard turns it into journaled ``ThresholdChanged`` events instead.
Every value may be ``None`` when it could not be measured this time, and ``notes`` says
which gauges are inactive and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from migtui.fmt import duration_gauge
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
class Standby:
    """One standby streaming from the server (pg_stat_replication), or one seen earlier
    that is gone now (``state == "gone"``, lag unknown)."""

    name: str  # application_name@client address
    state: str  # streaming, catchup, ... or "gone"
    replay_lag: float | None = None  # seconds; NULL on an idle primary reads as 0
    bytes_behind: int | None = None  # pg_wal_lsn_diff(current, replay_lsn)


@dataclass(frozen=True)
class SlotRetention:
    """One replication slot and the WAL it holds back (pg_replication_slots)."""

    name: str
    slot_type: str  # physical | logical
    active: bool
    retained: int | None  # bytes of WAL kept for it (None before it reserved any)


@dataclass(frozen=True)
class StatementRise:
    """An application statement whose mean per call rose most since sampling began."""

    queryid: int
    query: str  # the text, shortened ("" when it could not be read)
    mean_before: float  # seconds per call, before sampling began
    mean_now: float  # seconds per call, over the last few samples
    calls: int  # calls over those samples


MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Snapshot:
    taken_at: dt.datetime  # wall clock (UTC) at the end of the sample
    mono: float  # time.monotonic() at the end of the sample: sustain timers use it
    elapsed: float | None  # measured seconds since the previous sample; None on the first
    duration: float  # how long this sample took (client side)
    db_time: float = 0.0  # time spent waiting on the database, probes excluded
    seq: int = 0
    error: str | None = None  # the sample failed; the sampler reconnects on the next tick
    unreachable: bool = False  # the failure was the connection: the database is gone

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

    # the application's own statements (pg_stat_statements minus migtui's), rate window
    app_latency: float | None = None  # mean seconds per call, weighted by calls
    app_calls: int | None = None  # calls in the window
    app_risers: tuple[StatementRise, ...] = ()  # refreshed every few samples

    # application backends waiting on a lock held by a migtui connection
    blocked_count: int | None = None
    blocked_longest: float | None = None  # seconds
    blocked_waits: tuple[LockWait, ...] = ()

    # replication: standbys, slots and WAL
    standbys: tuple[Standby, ...] = ()
    replication_lag: float | None = None  # worst replay lag of a connected standby (s)
    replication_bytes: int | None = None  # most bytes a connected standby is behind
    slots: tuple[SlotRetention, ...] = ()
    slot_retained_bytes: int | None = None  # most WAL one slot retains
    wal_bytes_per_sec: float | None = None

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
            case Metric.app_latency:
                return self.app_latency
            case Metric.blocked_by_migtui:
                return self.blocked_longest
            case Metric.replication_lag:
                return self.replication_lag
            case Metric.slot_retained:
                return (None if self.slot_retained_bytes is None
                        else self.slot_retained_bytes / MEGABYTE)
            case Metric.wal_rate:
                return (None if self.wal_bytes_per_sec is None
                        else self.wal_bytes_per_sec / MEGABYTE)
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
    if m in (Metric.latency, Metric.lock_waits, Metric.app_latency, Metric.blocked_by_migtui,
             Metric.replication_lag):
        return duration_gauge(value)
    if m in (Metric.error_rate, Metric.connection_pool, Metric.disk):
        return f"{value:.1f}%"
    if m is Metric.tps:
        return f"{value:.0f} tps"
    if m in (Metric.slot_retained, Metric.wal_rate):
        unit = "MB/s" if m is Metric.wal_rate else "MB"
        return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{value:.0f} failing"
