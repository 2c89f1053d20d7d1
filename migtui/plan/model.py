"""The typed model of a migration plan: every section of the migration plan template.

The YAML format maps one to one onto these models. Unknown keys are rejected
(``extra="forbid"``) so a typo is an error, never silently ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from migtui.backfill_sql import set_clause, where_clause
from migtui.plan.values import Duration, ExpectationValue, Threshold, ThresholdValue


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

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# A plan id names files (.migtui/<id>.journal.jsonl) and history rows: no path separators,
# no leading dot, no control characters, short enough for a file name.
PLAN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "item"


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


# ---------------------------------------------------------------- checklists & actions


class RunSteps(Strict):
    steps: list[str] = Field(min_length=1, description="Step ids to execute, in order.")


class RunBaseline(Strict):
    baseline: Duration = Field(description="How long to sample before recording the baseline.")


class RunCheck(Strict):
    check: str = Field(description="Verification query returning one value.")
    expect: ExpectationValue = Field(description="What it must return, e.g. '= 0'.")


class RunCommand(Strict):
    command: str = Field(description="Shell command; its exit code must be 0.")
    timeout: Duration | None = None


class RunWatch(Strict):
    watch: Duration = Field(description="Watch the gauges this long; fails if a trigger trips.")


class RunRehearse(Strict):
    rehearse: Literal[True] = Field(description="Rehearse apply→rollback→apply on staging.")


def _action_kind(v: Any) -> str | None:
    keys = ("steps", "baseline", "check", "command", "rehearse", "watch")
    if isinstance(v, dict):
        found = [k for k in keys if k in v]
        return found[0] if len(found) == 1 else None
    for k, cls in zip(keys, (RunSteps, RunBaseline, RunCheck, RunCommand, RunRehearse,
                             RunWatch), strict=True):
        if isinstance(v, cls):
            return k
    return None


Action = Annotated[
    Annotated[RunSteps, Tag("steps")] | Annotated[RunBaseline, Tag("baseline")]
    | Annotated[RunCheck, Tag("check")] | Annotated[RunCommand, Tag("command")]
    | Annotated[RunRehearse, Tag("rehearse")] | Annotated[RunWatch, Tag("watch")],
    Discriminator(
        _action_kind,
        custom_error_type="action_kind",
        custom_error_message=(
            "expected exactly one action: steps: [ids], baseline: 30s, "
            "check: SQL with expect, command: shell command, watch: 2m, or rehearse: true"),
    ),
]


class ChecklistItem(Strict):
    """A checkbox of the template. Manual unless ``run`` binds it to an action."""

    text: str = Field(min_length=1)
    id: str | None = Field(None, description="Stable id for the journal; default: from text.")
    done: bool = Field(False, description="Ticked by the author when the plan was written.")
    run: Action | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        return self.id or slug(self.text)


def _items(v: Any) -> Any:
    """A checklist may be written as plain strings."""
    if isinstance(v, list):
        return [{"text": x} if isinstance(x, str) else x for x in v]
    return v


Checklist = Annotated[list[ChecklistItem], Field(default_factory=list)]


class Phase(Strict):
    name: str
    id: str | None = None
    items: Checklist

    norm_items = field_validator("items", mode="before")(lambda cls, v: _items(v))

    @property
    def key(self) -> str:
        return self.id or slug(self.name)


# ---------------------------------------------------------------- steps


class Backfill(Strict):
    table: str
    key: str = Field("id", description="Unique, indexed, orderable column for keyset batches.")
    set: str = Field(description="The SET clause, e.g. \"status = 'pending'\".")
    where: str | None = Field(None, description="Which rows still need it, e.g. 'status IS NULL'.")
    batch_size: int = Field(1000, ge=1, description="First batch size; it then adapts.")
    min_batch: int = Field(100, ge=1)
    max_batch: int = Field(50000, ge=1)
    target: Duration | None = Field(None, description="Target time per batch (default 0.5s).")
    sleep: Duration = Field(0.0, description="Pause between batches.")

    @field_validator("set")
    @classmethod
    def _set(cls, v: str) -> str:
        set_clause(v)  # FragmentError is a ValueError: a located plan problem
        return v

    @field_validator("where")
    @classmethod
    def _where(cls, v: str | None) -> str | None:
        if v is not None:
            where_clause(v)
        return v


class RollbackBackfill(Strict):
    """A rollback that is itself a backfill: keyset batches, throttled, resumable.

    ``rollback: {backfill: {table, key, set, where, batch_size}}`` undoes a backfill under
    the same guards as the backfill itself, instead of one UPDATE holding every row it
    touches until it commits. Its progress is kept apart from the forward backfill's.
    """

    backfill: Backfill


def _rollback_kind(v: Any) -> str | None:
    if isinstance(v, str):
        return "sql"
    if isinstance(v, dict | RollbackBackfill):
        return "backfill"
    return None


RollbackSpec = Annotated[
    Annotated[str, Tag("sql")] | Annotated[RollbackBackfill, Tag("backfill")],
    Discriminator(
        _rollback_kind,
        custom_error_type="rollback_kind",
        custom_error_message=(
            "expected the SQL that undoes the step, or {backfill: {table, key, set, where}} "
            "to undo it in keyset batches"),
    ),
]


class Check(Strict):
    sql: str
    expect: ExpectationValue | None = None
    capture: str | None = Field(None, description="Keep the value under this name for '= @name'.")

    @model_validator(mode="after")
    def _one(self) -> Check:
        if self.expect is None and self.capture is None:
            raise ValueError("a check needs 'expect', 'capture', or both")
        return self


class Command(Strict):
    run: str
    timeout: Duration | None = None
    cwd: str | None = None


class Prisma(Strict):
    migration_name: str
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    line_endings: Literal["lf", "crlf"] = Field(
        "lf", description="migration.sql's line endings; 'crlf' restores them, so the plan's "
                          "SQL (a literal block, LF) is the file byte for byte.")


class Step(Strict):
    id: str
    description: str | None = None
    sql: str | None = None
    backfill: Backfill | None = None
    check: Check | None = None
    command: Command | None = None
    manual: str | None = Field(None, description="Instruction the operator confirms.")
    rollback: RollbackSpec | None = Field(
        None, description="SQL that undoes this step, or {backfill: {...}} to undo it in "
                          "keyset batches.")
    irreversible: str | None = Field(None, description="Why this step cannot be undone.")
    lock_timeout: Duration | None = None
    statement_timeout: Duration | None = None
    retries: int | None = Field(None, ge=0, le=100)
    lint_ignore: dict[str, str] = Field(
        default_factory=dict, description="Lint rule id → reason for suppressing it.")
    prisma: Prisma | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(f"a step id is letters, digits, '_', '.', '-'; found {v!r}")
        return v

    @model_validator(mode="after")
    def _line_endings(self) -> Step:
        if self.prisma is not None and self.prisma.line_endings == "crlf" and self.sql:
            self.sql = self.sql.replace("\r\n", "\n").replace("\n", "\r\n")
        return self

    @model_validator(mode="after")
    def _shape(self) -> Step:
        kinds = [k for k in ("sql", "backfill", "check", "command", "manual")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"a step has exactly one of sql, backfill, check, command or manual; found {found}")
        if self.rollback is not None and self.irreversible is not None:
            raise ValueError("a step has either 'rollback' or 'irreversible', not both")
        if self.rollback is None and self.irreversible is None and self.kind in ("sql", "backfill"):
            raise ValueError(
                "this step changes the database but has no 'rollback'; add the SQL that undoes "
                "it, or mark it 'irreversible' with the reason")
        return self

    @property
    def rollback_sql(self) -> str | None:
        """The rollback as SQL text; None when there is none or it is a backfill."""
        return self.rollback if isinstance(self.rollback, str) else None

    @property
    def rollback_backfill(self) -> Backfill | None:
        """The rollback's backfill spec, when the rollback is one."""
        return self.rollback.backfill if isinstance(self.rollback, RollbackBackfill) else None

    @property
    def kind(self) -> str:
        for k in ("sql", "backfill", "check", "command", "manual"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated step without a kind")  # pragma: no cover


# ---------------------------------------------------------------- tables of the template


class TableChange(Strict):
    table: str
    change: str = Field(description="Change type, e.g. 'add column'.")
    description: str = ""
    risk: RiskLevel | None = Field(None, description="Override of the derived risk level.")
    risk_reason: str | None = Field(None, description="Why the author overrides the lint.")


class NewTable(Strict):
    table: str
    purpose: str = ""
    relationships: str = ""
    indexes: str = ""


class FieldChange(Strict):
    table: str
    field: str
    action: Literal["add", "modify", "remove", "rename"]
    type: str = ""
    default: str = ""


class SchemaChanges(Strict):
    tables_to_modify: list[TableChange] = Field(default_factory=list)
    new_tables: list[NewTable] = Field(default_factory=list)
    fields: list[FieldChange] = Field(default_factory=list)


class ZeroDowntime(Strict):
    application_compatibility: Checklist
    database_performance: Checklist
    norm_items = field_validator("application_compatibility", "database_performance",
                            mode="before")(lambda cls, v: _items(v))


class DataToMigrate(Strict):
    source: str
    destination: str
    transformation: str = ""
    volume: str = ""


class DataMigration(Strict):
    data: list[DataToMigrate] = Field(default_factory=list)
    validation: Checklist
    norm_items = field_validator("validation", mode="before")(lambda cls, v: _items(v))


class HighRisk(Strict):
    risk: str
    impact: str = ""
    probability: str = ""
    mitigation: str = ""


_DURATION_METRICS = (Metric.latency, Metric.lock_waits, Metric.app_latency,
                     Metric.blocked_by_migtui, Metric.replication_lag)
_PERCENT_METRICS = (Metric.error_rate, Metric.connection_pool, Metric.disk)
_MEGABYTE_METRICS = (Metric.slot_retained, Metric.wal_rate)


def _check_unit(metric: Metric, t: Threshold) -> None:
    """A bare number is ambiguous for latency (ms? %?): ask for the unit."""
    if t.kind == "relative":
        return
    if metric in _DURATION_METRICS and t.unit != "s":
        raise ValueError(f"{metric.value} is a duration: write its limit as 200ms or 2s, or "
                         f"relative to the baseline as +50%; found {t}")
    if metric in _PERCENT_METRICS and t.unit == "s":
        raise ValueError(f"{metric.value} is a percentage: write its limit as 5% or +50%; "
                         f"found {t}")
    if metric in _MEGABYTE_METRICS and t.unit:
        raise ValueError(f"{metric.value} is in megabytes{'/s' if metric is Metric.wal_rate else ''}"
                         f": write its limit as a bare number such as 500, or as +50%; "
                         f"found {t}")


class Trigger(Strict):
    """A rollback trigger. It trips when ``metric`` stays beyond ``above`` for ``for``.

    A trigger without a metric is a manual one: the operator's judgement, shown as a
    checkbox; ticking it offers the rollback.
    """

    text: str | None = Field(None, description="The template's wording of the trigger.")
    metric: Metric | None = Field(None, description="Measured metric; none for a manual trigger.")
    above: ThresholdValue | None = None
    for_: Duration = Field(10.0, alias="for", description="How long the breach must last.")
    policy: Literal["offer", "pause", "rollback"] = "offer"

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        if self.metric is not None and self.above is not None:
            _check_unit(self.metric, self.above)
        if self.metric is None and not self.text:
            raise ValueError("a manual trigger (no 'metric') needs its 'text'")
        if self.metric is not None and self.above is None:
            raise ValueError(f"the {self.metric.value} trigger needs 'above', e.g. +50% or 5%")
        return self

    @property
    def label(self) -> str:
        if self.text:
            return self.text
        assert self.metric is not None
        return f"{self.metric.label} {self.above}"


class Risks(Strict):
    high_risk_areas: list[HighRisk] = Field(default_factory=list)
    rollback_triggers: list[Trigger] = Field(default_factory=list)


class Testing(Strict):
    staging: Checklist
    production_readiness: Checklist
    norm_items = field_validator("staging", "production_readiness", mode="before")(
        lambda cls, v: _items(v))


class CodeChange(Strict):
    file: str
    change: str = ""
    description: str = ""
    testing: str = ""


class CodeChanges(Strict):
    backend: list[CodeChange] = Field(default_factory=list)
    frontend: list[CodeChange] = Field(default_factory=list)


class MetricAlert(Strict):
    metric: Metric
    alert: ThresholdValue
    for_: Duration = Field(5.0, alias="for")
    baseline: str | None = Field(None, description="Expected baseline, as written by the author.")
    action: str = Field("", description="Recovery action.")

    @model_validator(mode="after")
    def _unit(self) -> MetricAlert:
        _check_unit(self.metric, self.alert)
        return self


class IntegrityCheck(Strict):
    sql: str
    expect: ExpectationValue
    name: str | None = None


class Monitoring(Strict):
    probes: list[str] = Field(
        default_factory=list, description="Representative application queries, timed each sample.")
    smoke: list[str] = Field(
        default_factory=list, description="Queries that must succeed: critical functionality.")
    integrity: list[IntegrityCheck] = Field(
        default_factory=list, description="Checks that must hold: data corruption detection.")
    metrics: list[MetricAlert] = Field(default_factory=list)


class TimelineRow(Strict):
    phase: str
    duration: str = ""
    dependencies: str = ""
    criteria: str = ""


class CommEntry(Strict):
    at: dt.datetime | str
    author: str
    text: str


# ---------------------------------------------------------------- the plan


class Plan(Strict):
    migtui: Literal[1] = Field(description="Plan format version.")
    id: str | None = Field(None, description="Plan id for history; default: the file name.")
    title: str
    date: dt.date | None = None
    type: MigrationType
    agent: str = Field(description="The database agent: who runs this migration.")
    targets: dict[str, Target] = Field(
        default_factory=lambda: {"production": Target()},
        description="Named targets, e.g. staging and production.")
    default_target: str | None = None
    settings: Settings = Field(default_factory=Settings)
    overview: Checklist
    schema_changes: SchemaChanges = Field(default_factory=SchemaChanges)
    steps: list[Step] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    zero_downtime: ZeroDowntime = Field(default_factory=ZeroDowntime)
    data_migration: DataMigration = Field(default_factory=DataMigration)
    risks: Risks = Field(default_factory=Risks)
    testing: Testing = Field(default_factory=Testing)
    code_changes: CodeChanges = Field(default_factory=CodeChanges)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    documentation: Checklist
    timeline: list[TimelineRow] = Field(default_factory=list)
    communication: list[CommEntry] = Field(default_factory=list)

    norm_items = field_validator("overview", "documentation", mode="before")(
        lambda cls, v: _items(v))

    @field_validator("id")
    @classmethod
    def _plan_id(cls, v: str | None) -> str | None:
        if v is not None and not PLAN_ID_RE.fullmatch(v):
            raise ValueError(
                f"a plan id names the journal file: 1 to 200 letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit; found {v[:80]!r}")
        return v

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def target_name(self) -> str:
        return self.default_target or next(iter(self.targets))

    def checklists(self) -> list[tuple[str, str, list[ChecklistItem]]]:
        """Every checklist as (key, heading, items), in the template's order."""
        out: list[tuple[str, str, list[ChecklistItem]]] = [
            ("overview", "Migration Overview", self.overview)]
        for i, ph in enumerate(self.phases, 1):
            out.append((f"phases.{ph.key}", f"Phase {i}: {ph.name}", ph.items))
        out += [
            ("zero_downtime.application_compatibility", "Application Compatibility",
             self.zero_downtime.application_compatibility),
            ("zero_downtime.database_performance", "Database Performance",
             self.zero_downtime.database_performance),
            ("data_migration.validation", "Data Validation", self.data_migration.validation),
            ("testing.staging", "Staging Environment", self.testing.staging),
            ("testing.production_readiness", "Production Readiness",
             self.testing.production_readiness),
            ("documentation", "Documentation Updates", self.documentation),
        ]
        return out
