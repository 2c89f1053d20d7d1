"""Fleets: one plan across many databases or tenant schemas, in gated waves, coordinated
through a PostgreSQL control database. Imports no UI; ``status`` gives an app view its
table. See docs/fleet.md."""

from __future__ import annotations

from typing import Any

from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.loader import FleetError, LoadedFleet, load_fleet, load_fleet_text
from migtui.fleet.members import Member, resolve, resolve_waves, waves
from migtui.fleet.model import FailurePolicy, Fleet
from migtui.fleet.rollout import Opened, control_dsn, open_rollout, rollout_id
from migtui.fleet.worker import Worker, WorkerOptions, WorkerResult


def fleet_json_schema() -> dict[str, Any]:
    schema = Fleet.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "migtui fleet"
    return schema


__all__ = ["ControlDb", "FailurePolicy", "Fleet", "FleetError", "LoadedFleet", "Member",
           "Opened", "Rollout", "Worker", "WorkerOptions", "WorkerResult", "control_dsn",
           "fleet_json_schema", "load_fleet", "load_fleet_text",
           "open_rollout", "resolve", "resolve_waves", "rollout_id", "waves"]
