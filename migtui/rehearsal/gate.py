"""The production gate: has this exact plan text been rehearsed successfully?

It reads the plan's journal for ``RehearsalFinished`` records. The newest one for the
current plan checksum decides; a plan edited after its rehearsal has none, and is stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from migtui.journal import journal_path, read_journal
from migtui.plan import Plan

GateStatus = Literal["ok", "missing", "stale", "failed"]


def rehearsals(plan: Plan, plan_path: str | Path) -> list[dict[str, Any]]:
    """Every RehearsalFinished record of the plan's journal, oldest first."""
    path = journal_path(plan_path, plan.id or Path(plan_path).stem)
    return [r for r in read_journal(path) if r.get("kind") == "RehearsalFinished"]


def _when(rec: dict[str, Any]) -> str:
    at = str(rec.get("at") or rec.get("ts") or "")
    return at[:16].replace("T", " ") + " UTC" if at else "an unknown time"


def rehearsal_gate(plan: Plan, plan_path: str | Path, plan_checksum: str
                   ) -> tuple[GateStatus, str]:
    """("ok" | "missing" | "stale" | "failed", a message for the operator)."""
    recs = rehearsals(plan, plan_path)
    current = [r for r in recs if r.get("plan_checksum") == plan_checksum]
    if current:
        last = current[-1]
        where = f"on target {last.get('target')} (database {last.get('database')})"
        if last.get("ok"):
            return "ok", f"rehearsed clean {where} at {_when(last)}"
        return "failed", (f"the last rehearsal of this plan {where} at {_when(last)} failed: "
                          f"{last.get('summary', '')}")
    if recs:
        return "stale", (f"the plan changed since its last rehearsal ({_when(recs[-1])}); "
                         f"no rehearsal exists for its current text: run migtui rehearse "
                         f"--target staging")
    return "missing", ("this plan was never rehearsed: run migtui rehearse --target staging "
                       "first")
