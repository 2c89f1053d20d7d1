"""The plan model's shared ground: the strict base model, the enumerations (migration
type, risk level, environment, metric) and the rules for ids.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class MigrationType(StrEnum):
    schema_change = "schema_change"
    data_migration = "data_migration"
    index_addition = "index_addition"

    @property
    def label(self) -> str:
        return {"schema_change": "Schema Change", "data_migration": "Data Migration",
                "index_addition": "Index Addition"}[self.value]


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Environment(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class Metric(StrEnum):
    latency = "latency"            # probe query latency, p95 over the window (seconds)
    error_rate = "error_rate"      # rolled-back transactions + failed probes (percent)
    connection_pool = "connection_pool"  # backends / usable connections (percent)
    disk = "disk"                  # data directory filesystem use (percent)
    lock_waits = "lock_waits"      # longest lock wait (seconds)
    tps = "tps"                    # transactions per second
    smoke = "smoke"                # failing smoke queries ("critical functionality broken")
    integrity = "integrity"        # failing integrity checks ("data corruption detected")
    app_latency = "app_latency"    # pg_stat_statements: the application's mean per call (s)
    blocked_by_migtui = "blocked_by_migtui"  # longest wait of a backend blocked by migtui (s)
    replication_lag = "replication_lag"  # worst replay lag of a connected standby (s)
    slot_retained = "slot_retained"  # most WAL retained by one replication slot (MB)
    wal_rate = "wal_rate"          # WAL written per second (MB/s)

    @property
    def label(self) -> str:
        return METRIC_LABELS[self]


METRIC_LABELS = {
    Metric.latency: "Query Performance",
    Metric.error_rate: "Error Rate",
    Metric.connection_pool: "Connection Pool",
    Metric.disk: "Disk Space",
    Metric.lock_waits: "Lock Waits",
    Metric.tps: "Throughput",
    Metric.smoke: "Critical Functionality",
    Metric.integrity: "Data Integrity",
    Metric.app_latency: "Application Latency",
    Metric.blocked_by_migtui: "Blocked by migtui",
    Metric.replication_lag: "Replication Lag",
    Metric.slot_retained: "Slot Retention",
    Metric.wal_rate: "WAL Rate",
}

STEP_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A plan id names files (.migtui/<id>.journal.jsonl) and history rows: no path separators,
# no leading dot, no control characters, short enough for a file name.
PLAN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "item"
