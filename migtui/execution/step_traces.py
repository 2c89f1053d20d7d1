"""A step's measured locks, from the journal: the traces of the newest rehearsal of this
plan text (issue 17).

A rehearsal traces every statement of its first apply and rollback (``docs/trace.md``);
``RehearsalFinished`` keeps them in ``report["traces"]``. The app shows a step's traces
beside the lint's findings for it, with the lint's disagreements marked. No Textual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migtui.rehearsal.report import locks_taken_lines


@dataclass(frozen=True)
class StepTraces:
    """What the newest rehearsal of this plan text measured for one step."""

    step_id: str
    target: str
    database: str
    at: str  # the rehearsal's end (ISO)
    traces: list[dict[str, Any]] = field(default_factory=list)  # this step's statements

    @property
    def disagreements(self) -> list[str]:
        return [d for t in self.traces for d in t.get("disagreements", [])]

    def lines(self) -> list[str]:
        """One line per statement ('apply line 1: ACCESS EXCLUSIVE on table public.orders
        for 0.041 s'), its projection, and '✗ lint disagrees: ...' lines."""
        out = []
        for line in locks_taken_lines(self.traces)[1:]:
            text = line.strip()
            if text.startswith(f"{self.step_id} "):
                text = text[len(self.step_id) + 1:]
            out.append(("  " if line.startswith("    ") else "") + text)
        return out


def step_traces(rehearsals: Iterable[Mapping[str, Any]], plan_checksum: str,
                step_id: str) -> StepTraces | None:
    """The step's traces from the newest rehearsal of ``plan_checksum`` that traced any
    (``rehearsals``: the journal's RehearsalFinished records, oldest first); None when no
    rehearsal of this text measured anything, or that one ran no statement of the step."""
    for rec in reversed(list(rehearsals)):
        if rec.get("plan_checksum") != plan_checksum:
            continue
        traces = (rec.get("report") or {}).get("traces") or []
        if not traces:
            continue
        mine = [t for t in traces if t.get("step_id") == step_id]
        if not mine:
            return None
        return StepTraces(step_id, str(rec.get("target", "")), str(rec.get("database", "")),
                          str(rec.get("at", "")), mine)
    return None
