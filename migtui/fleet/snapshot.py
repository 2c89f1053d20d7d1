"""One read of a rollout for a live view: the rollout, its waves and members, and the
control database's clock (for the gate countdown), read in one transaction. Imports no UI;
the app's fleet view polls it from a worker thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from migtui.fleet.control import ControlDb
from migtui.fleet.members import Member
from migtui.plan.model import Plan


@dataclass(frozen=True)
class FleetSnapshot:
    rollout: dict[str, Any]
    waves: list[dict[str, Any]]
    members: list[dict[str, Any]]
    now: datetime | None = None
    queries: int = 0  # control statements this read sent
    extra: dict[str, Any] = field(default_factory=dict)


def read_snapshot(db: ControlDb, rollout_id: str) -> FleetSnapshot:
    """The rollout as it stands; LookupError when it is gone."""
    before = db.queries
    with db.tx():
        now = db.q("SELECT now() AS now")[0]["now"]
        r = db.rollout(rollout_id)
        if r is None:
            raise LookupError(f"rollout {rollout_id} is not in the control database")
        waves, members = db.waves(rollout_id), db.members(rollout_id)
    return FleetSnapshot(dict(r.__dict__), waves, members, now, db.queries - before)


def roll_back(db: ControlDb, rollout_id: str, fleet_name: str, plan: Plan,
              members: dict[str, Member], workdir: Path, *, member: str | None = None,
              wave: int | None = None, operator: str = "operator",
              log: Any = lambda _s: None, heartbeat: float = 2.0) -> tuple[int, list[str],
                                                                            list[str]]:
    """What ``fleet rollback --member M`` (``--wave N``) does: mark the members and roll
    them back with a rollback-only worker. (marked, rolled back, failed)."""
    from migtui.fleet.worker import Worker, WorkerOptions

    n = db.request_rollback(rollout_id, wave, member)
    worker = Worker(db, rollout_id, fleet_name, plan, members, WorkerOptions(
        heartbeat=heartbeat, operator=operator, workdir=workdir, log=log, only_rollbacks=True))
    res = worker.run()
    return n, res.rolled_back, res.failed
