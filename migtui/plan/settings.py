"""A plan's targets and settings: where it runs, the endpoints it reads, how backfills pace.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from migtui.plan.basics import Environment, Strict
from migtui.plan.values import Duration

# ---------------------------------------------------------------- targets & settings


class Target(Strict):
    """Where a plan runs. The DSN itself never lives in the plan: only where to find it."""

    dsn_env: str = Field("DATABASE_URL", description="Environment variable holding the URL.")
    environment: Environment = Environment.production
    database: str | None = Field(
        None, description="Expected database name; a production run asks to type it.")
    disk_capacity: str | None = Field(
        None, description="Capacity for disk %, when the server is remote, e.g. '500GB'.")
    pgbouncer_dsn_env: str | None = Field(
        None, description="Environment variable with a PgBouncer admin DSN for SHOW POOLS.")


class MetricsEndpoint(Strict):
    """Where a run serves its Prometheus ``/metrics`` (``--metrics-port`` overrides it)."""

    port: int = Field(ge=0, le=65535, description="TCP port of /metrics; 0 picks a free one.")
    host: str = Field("127.0.0.1", description="Address to bind; localhost by default.")


class Pacing(Strict):
    """How backfills yield to the application (docs/execution.md, "Pacing")."""

    lock_budget: Duration = Field(
        0.1, description="Longest an application writer may wait behind one backfill "
        "batch; batches aim at half of it. 0 turns it off.")
    replica_lag: Duration = Field(
        1.0, description="Replica lag the backfill slows down at, unless a "
        "replication_lag alert says otherwise.")
    app_latency: float = Field(
        25.0, ge=0, description="Rise of app_latency (percent over its baseline) the backfill "
        "slows down at, unless an app_latency alert says otherwise.")
    stale_after: Duration = Field(
        5.0, description="A throttling signal unread this long pauses the backfill.")
    min_duty: float = Field(
        0.05, gt=0, le=1, description="Smallest share of time a backfill keeps running.")


class Settings(Strict):
    """Guards for execution. Per-step values override these."""

    lock_timeout: Duration = Field(
        1.0, description="SET LOCAL lock_timeout for every transactional statement.")
    statement_timeout: Duration = Field(
        0.0, description="SET LOCAL statement_timeout; 0 disables it.")
    retries: int = Field(10, ge=0, le=100, description="Retries on lock timeout (55P03).")
    retry_base: Duration = Field(0.1, description="First retry delay; doubles each try.")
    retry_max: Duration = Field(3.2, description="Largest retry delay.")
    sample_interval: Duration = Field(1.0, description="Gauge sampling period, 0.25s–10s.")
    latency_window: Duration = Field(
        30.0, description="Sliding window of probe timings for latency p50/p95.")
    batch_target: Duration = Field(0.5, description="Target time of one backfill batch.")
    require_rehearsal: Literal["off", "warn", "refuse"] = Field(
        "warn", description="What a production run does without a clean rehearsal.")
    metrics: MetricsEndpoint | None = Field(
        None, description="Serve Prometheus metrics of the run: {port, host}.")
    pacing: Pacing = Field(default_factory=Pacing,
                           description="How backfills yield to the application.")

    @field_validator("sample_interval")
    @classmethod
    def _interval(cls, v: float) -> float:
        if not 0.25 <= v <= 10:
            raise ValueError(f"sample_interval must be between 0.25s and 10s, found {v:g}s")
        return v
