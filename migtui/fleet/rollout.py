"""Open a rollout: resolve the fleet, connect to its control database, create (or join)
the rollout of one plan across it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from migtui.dsn import parse_dsn
from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.loader import FleetError, LoadedFleet
from migtui.fleet.members import Member, resolve, resolve_waves
from migtui.plan.model import Plan


def without_baseline(plan: Plan) -> list[str]:
    """The plan's relative limits (``+50%``): a member's run takes no baseline, so in a
    fleet they stay inactive (while it runs and during the soak). Absolute limits, smoke
    and integrity checks act."""
    out = [t.label for t in plan.risks.rollback_triggers
           if t.above is not None and t.above.kind == "relative"]
    out += [f"{a.metric.value} alert {a.alert}" for a in plan.monitoring.metrics
            if a.alert.kind == "relative"]
    return out


def rollout_id(fleet_name: str, plan_id: str) -> str:
    return f"{fleet_name}/{plan_id}"


def control_dsn(loaded: LoadedFleet, override: str | None = None,
                members: list[Member] | None = None) -> str:
    """--control, else the fleet file's ``control``, else the first member's database."""
    if override:
        return parse_dsn(override).conninfo()
    src = loaded.fleet.control
    if src is not None:
        text = src.dsn if src.dsn is not None else os.environ.get(src.dsn_env or "")
        if not text:
            raise FleetError([loaded.problem(("control", "dsn_env"), f"the environment "
                              f"variable {src.dsn_env!r} is not set; expected it to hold the "
                              f"control database's connection string")])
        return parse_dsn(text).conninfo()
    members = members if members is not None else resolve(loaded)
    return parse_dsn(members[0].dsn).conninfo()


@dataclass
class Opened:
    db: ControlDb
    rollout: Rollout
    members: dict[str, Member]
    created: bool


def open_rollout(loaded: LoadedFleet, plan: Plan, checksum: str,
                 control: str | None = None) -> Opened:
    """Resolve members and waves (FleetError when the file is wrong), then create the
    rollout in the control database, or join the one that exists."""
    members, cut = resolve_waves(loaded)
    f = loaded.fleet
    db = ControlDb(control_dsn(loaded, control, members))
    db.ensure_schema()
    rid = rollout_id(f.name, plan.id or "")
    proto = Rollout(rid, f.name, plan.id or "", "running", f.on_failure.value,
                    f.concurrency.overall, f.concurrency.per_server, f.gate.soak,
                    f.workers.timeout, None)
    created = db.create_rollout(proto, checksum, cut)
    got = db.rollout(rid)
    assert got is not None
    return Opened(db, got, {m.name: m for m in members}, created)
