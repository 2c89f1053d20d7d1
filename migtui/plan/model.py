"""The typed model of a migration plan: every section of the migration plan template.

The YAML format maps one to one onto these models. Unknown keys are rejected
(``extra="forbid"``) so a typo is an error, never silently ignored.

The models live by theme (``basics``, ``settings``, ``checklists``, ``steps``, ``monitoring``,
``sections``); this module holds ``Plan`` and re-exports them all, so
``from migtui.plan.model import X`` works for every model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
)

from migtui.plan.basics import (
    METRIC_LABELS,
    PLAN_ID_RE,
    Environment,
    Metric,
    MigrationType,
    RiskLevel,
    Strict,
    slug,
)
from migtui.plan.checklists import (
    Action,
    Checklist,
    ChecklistItem,
    Phase,
    RunBaseline,
    RunCheck,
    RunCommand,
    RunRehearse,
    RunSteps,
    RunWatch,
    checklist_items,
)
from migtui.plan.monitoring import (
    IntegrityCheck,
    MetricAlert,
    Monitoring,
    Trigger,
)
from migtui.plan.outline import CHECKLISTS, checklist_title, phase_title
from migtui.plan.sections import (
    CodeChange,
    CodeChanges,
    CommEntry,
    DataMigration,
    DataToMigrate,
    FieldChange,
    HighRisk,
    NewTable,
    Risks,
    SchemaChanges,
    TableChange,
    Testing,
    TimelineRow,
    ZeroDowntime,
)
from migtui.plan.settings import (
    MetricsEndpoint,
    Pacing,
    Settings,
    Target,
)
from migtui.plan.steps import (
    Backfill,
    Check,
    Command,
    Prisma,
    RollbackBackfill,
    RollbackSpec,
    Step,
)

# ---------------------------------------------------------------- the plan

__all__ = [
    "Action",
    "Backfill",
    "Check",
    "Checklist",
    "ChecklistItem",
    "CodeChange",
    "CodeChanges",
    "CommEntry",
    "Command",
    "DataMigration",
    "DataToMigrate",
    "Environment",
    "FieldChange",
    "HighRisk",
    "IntegrityCheck",
    "METRIC_LABELS",
    "Metric",
    "MetricAlert",
    "MetricsEndpoint",
    "MigrationType",
    "Monitoring",
    "NewTable",
    "PLAN_ID_RE",
    "Pacing",
    "Phase",
    "Plan",
    "Prisma",
    "RiskLevel",
    "Risks",
    "RollbackBackfill",
    "RollbackSpec",
    "RunBaseline",
    "RunCheck",
    "RunCommand",
    "RunRehearse",
    "RunSteps",
    "RunWatch",
    "SchemaChanges",
    "Settings",
    "Step",
    "Strict",
    "TableChange",
    "Target",
    "Testing",
    "TimelineRow",
    "Trigger",
    "ZeroDowntime",
    "slug",
]


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
        lambda cls, v: checklist_items(v))

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
        out: list[tuple[str, str, list[ChecklistItem]]] = []
        for key in CHECKLISTS:
            items: Any = self
            for part in key.split("."):
                items = getattr(items, part)
            out.append((key, checklist_title(key), items))
            if key == "overview":  # the phases come next, under Migration Strategy
                out += [(f"phases.{ph.key}", phase_title(i, ph.name), ph.items)
                        for i, ph in enumerate(self.phases, 1)]
        return out
