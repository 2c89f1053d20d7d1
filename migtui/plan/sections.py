"""The template's other tables: schema changes, zero-downtime, data migration, risks,
testing, code changes, timeline and communication.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from migtui.plan.basics import RiskLevel, Strict
from migtui.plan.checklists import Checklist, checklist_items
from migtui.plan.monitoring import Trigger

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
                            mode="before")(lambda cls, v: checklist_items(v))


class DataToMigrate(Strict):
    source: str
    destination: str
    transformation: str = ""
    volume: str = ""


class DataMigration(Strict):
    data: list[DataToMigrate] = Field(default_factory=list)
    validation: Checklist
    norm_items = field_validator("validation", mode="before")(lambda cls, v: checklist_items(v))


class HighRisk(Strict):
    risk: str
    impact: str = ""
    probability: str = ""
    mitigation: str = ""


class Risks(Strict):
    high_risk_areas: list[HighRisk] = Field(default_factory=list)
    rollback_triggers: list[Trigger] = Field(default_factory=list)


class Testing(Strict):
    staging: Checklist
    production_readiness: Checklist
    norm_items = field_validator("staging", "production_readiness", mode="before")(
        lambda cls, v: checklist_items(v))


class CodeChange(Strict):
    file: str
    change: str = ""
    description: str = ""
    testing: str = ""


class CodeChanges(Strict):
    backend: list[CodeChange] = Field(default_factory=list)
    frontend: list[CodeChange] = Field(default_factory=list)


class TimelineRow(Strict):
    phase: str
    duration: str = ""
    dependencies: str = ""
    criteria: str = ""


class CommEntry(Strict):
    at: dt.datetime | str
    author: str
    text: str
