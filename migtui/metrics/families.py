"""The metric families migtui exports, named by Prometheus conventions.

Every name has the ``migtui_`` prefix and ends in its base unit (seconds, bytes, ratio,
rows); counters end in ``_total``. Each gauge of the plan (``Metric``) gets a value and a
baseline family in base units: a percent becomes a ratio (0..1), megabytes become bytes.

Every family carries a ``member`` label: empty for a single run (Prometheus treats an empty
label as absent), the member's name in a fleet. No label ever holds a connection string.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge

from migtui.plan.model import Metric

MEGABYTE = 1024 * 1024
GAUGE_STATES = ["ok", "warn", "trip", "inactive"]
RUN_STATES = ["idle", "running", "rolling_back", "done", "failed", "rolled_back", "cancelled"]


@dataclass(frozen=True)
class GaugeUnit:
    """How one plan gauge is exported: the family's stem, unit and the factor that turns
    the snapshot's value (the metric's own unit) into the base unit."""

    stem: str
    unit: str
    scale: float = 1.0
    doc: str = ""

    def name(self, baseline: bool = False) -> str:
        mid = "_baseline" if baseline else ""
        return f"migtui_{self.stem}{mid}_{self.unit}"


GAUGE_UNITS: dict[Metric, GaugeUnit] = {
    Metric.latency: GaugeUnit("probe_latency_p95", "seconds", doc="probe round time, p95"),
    Metric.error_rate: GaugeUnit("transaction_error", "ratio", 0.01,
                                 "rolled-back transactions and failed probes"),
    Metric.connection_pool: GaugeUnit("connection_pool_usage", "ratio", 0.01,
                                      "backends over usable connections"),
    Metric.disk: GaugeUnit("disk_usage", "ratio", 0.01, "data directory filesystem use"),
    Metric.lock_waits: GaugeUnit("lock_wait_longest", "seconds", doc="longest lock wait"),
    Metric.tps: GaugeUnit("transactions", "per_second", doc="transactions per second"),
    Metric.smoke: GaugeUnit("smoke_failing", "checks", doc="failing smoke queries"),
    Metric.integrity: GaugeUnit("integrity_failing", "checks", doc="failing integrity checks"),
    Metric.app_latency: GaugeUnit("app_statement_mean", "seconds",
                                  doc="the application's mean time per statement"),
    Metric.blocked_by_migtui: GaugeUnit("blocked_by_migtui_longest", "seconds",
                                        doc="longest wait of a backend blocked by migtui"),
    Metric.replication_lag: GaugeUnit("replication_lag", "seconds",
                                      doc="worst replay lag of a connected standby"),
    Metric.slot_retained: GaugeUnit("replication_slot_retained", "bytes", MEGABYTE,
                                    "most WAL retained by one replication slot"),
    Metric.wal_rate: GaugeUnit("wal_written", "bytes_per_second", MEGABYTE,
                               "WAL written per second"),
}


def to_base(metric: Metric | str, value: float | None) -> float | None:
    if value is None:
        return None
    return value * GAUGE_UNITS[Metric(metric)].scale


class Families:
    """Every family, registered in one registry (one per exporter)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        m = ["member"]
        self.gauge_value: dict[Metric, Gauge] = {}
        self.gauge_baseline: dict[Metric, Gauge] = {}
        for metric, u in GAUGE_UNITS.items():
            self.gauge_value[metric] = Gauge(
                u.name(), f"{metric.label}: {u.doc}, current value", m, registry=r)
            self.gauge_baseline[metric] = Gauge(
                u.name(baseline=True), f"{metric.label}: {u.doc}, baseline median", m,
                registry=r)
        self.gauge_state = Enum(
            "migtui_gauge_state", "Each gauge's state: ok, warn (an alert), trip (a rollback "
            "trigger) or inactive (a relative threshold without a baseline)",
            [*m, "gauge"], states=GAUGE_STATES, registry=r)
        self.trigger_active = Gauge(
            "migtui_trigger_active", "1 while this alert (level warn) or rollback trigger "
            "(level trip) governs its gauge, else 0", [*m, "gauge", "level", "trigger"],
            registry=r)
        self.threshold_changes = Counter(
            "migtui_threshold_changes", "Gauge state changes, by the state entered",
            [*m, "gauge", "state"], registry=r)
        self.run_state = Enum(
            "migtui_run_state", "The run's state", m, states=RUN_STATES, registry=r)
        self.run_info = Gauge(
            "migtui_run_info", "The plan and target of the run (1)", [*m, "plan", "target"],
            registry=r)
        self.current_step = Gauge(
            "migtui_current_step", "1 for the step running now (action apply or rollback)",
            [*m, "step", "action"], registry=r)
        self.steps_applied = Counter(
            "migtui_steps_applied", "Steps applied in this run", m, registry=r)
        self.steps_rolled_back = Counter(
            "migtui_steps_rolled_back", "Steps rolled back in this run", m, registry=r)
        self.steps_failed = Counter(
            "migtui_steps_failed", "Steps that failed in this run", [*m, "action"], registry=r)
        self.lock_retries = Counter(
            "migtui_lock_timeout_retries", "Statements retried after a lock timeout (55P03)",
            [*m, "step"], registry=r)
        self.backfill_done = Gauge(
            "migtui_backfill_done_rows", "Rows the backfill has done", [*m, "step"], registry=r)
        self.backfill_estimated = Gauge(
            "migtui_backfill_estimated_rows", "Rows the backfill expects in all (NaN: unknown)",
            [*m, "step"], registry=r)
        self.backfill_rate = Gauge(
            "migtui_backfill_rate_rows_per_second", "Backfill rows per second, measured",
            [*m, "step"], registry=r)
        self.backfill_eta = Gauge(
            "migtui_backfill_eta_seconds", "Estimated seconds left (NaN: unknown)",
            [*m, "step"], registry=r)
        self.backfill_batch = Gauge(
            "migtui_backfill_batch_size_rows", "Rows in the backfill's current batch",
            [*m, "step"], registry=r)
        self.backfill_limited = Gauge(
            "migtui_backfill_limited", "1 for what limits the backfill's rate now: 'none' or "
            "the reason it is throttled", [*m, "step", "reason"], registry=r)
        self.throttle = Gauge(
            "migtui_throttle_ratio", "The run's backfill throttle factor (1: full speed)",
            m, registry=r)
        self.paused = Gauge("migtui_paused", "1 while the run is paused", m, registry=r)
        self.samples = Counter(
            "migtui_samples", "Gauge samples taken", m, registry=r)
        self.sample_errors = Counter(
            "migtui_sample_errors", "Gauge samples that failed", m, registry=r)
        self.last_sample = Gauge(
            "migtui_last_sample_timestamp_seconds", "When the last sample was taken (Unix time)",
            m, registry=r)
