"""What a journal says about a run: ticks, notes, step results, baseline and trips.

A pure fold over journal records, shared by the exporter, the TUI and ``status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.plan.model import ChecklistItem, Plan


@dataclass
class Tick:
    done: bool
    operator: str
    at: str
    evidence: str = ""


@dataclass
class RunState:
    ticks: dict[str, Tick] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)  # run log notes
    communication: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # last result per step
    results: list[dict[str, Any]] = field(default_factory=list)  # every step result, in order
    baseline: dict[str, dict[str, float]] | None = None
    trips: list[dict[str, Any]] = field(default_factory=list)
    rehearsals: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    gauges: list[dict[str, Any]] = field(default_factory=list)  # GaugeSample, for plots
    rollbacks: list[dict[str, Any]] = field(default_factory=list)  # RollbackStarted/Finished

    @classmethod
    def from_records(cls, records: Any) -> RunState:
        st = cls()
        for rec in records:
            st.apply(rec)
        return st

    def apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "ItemTicked":
            self.ticks[str(rec.get("item"))] = Tick(
                bool(rec.get("done")), str(rec.get("operator", "")),
                str(rec.get("at") or rec.get("ts", "")), str(rec.get("evidence", "")))
        elif kind == "NoteAdded":
            entry = {"at": rec.get("at") or rec.get("ts"), "author": rec.get("author", ""),
                     "text": rec.get("text", "")}
            (self.communication if rec.get("channel") == "communication"
             else self.notes).append(entry)
        elif kind in ("StepFinished", "StepFailed", "StepSkipped"):
            self.steps[str(rec.get("step_id"))] = rec
            self.results.append(rec)
        elif kind == "BaselineRecorded":
            self.baseline = rec.get("metrics")
        elif kind == "ThresholdChanged" and rec.get("state") == "trip":
            self.trips.append(rec)
        elif kind == "RehearsalFinished":
            self.rehearsals.append(rec)
        elif kind in ("RunStarted", "RunFinished"):
            self.runs.append(rec)
        elif kind == "GaugeSample":
            self.gauges.append(rec)
        elif kind in ("RollbackStarted", "RollbackFinished"):
            self.rollbacks.append(rec)

    def is_done(self, checklist_key: str, item: ChecklistItem) -> bool:
        t = self.ticks.get(f"{checklist_key}/{item.key}")
        return t.done if t is not None else item.done

    def completion(self, plan: Plan) -> dict[str, tuple[int, int]]:
        return {key: (sum(self.is_done(key, i) for i in items), len(items))
                for key, _h, items in plan.checklists()}
