"""Running a phase's checklist, and a run's forward part: all steps, or the phases in order.

Each item bound to an action runs through ``items.run_item``; the phase stops at the first
failure. An item with no action (a manual checkbox) is reported as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migtui.events import NoteAdded
from migtui.execution.items import ItemActions, ItemResult, run_item
from migtui.plan.model import Phase, RunSteps
from migtui.runner import Outcome
from migtui.runner.phases import find_phase

__all__ = ["PhaseResult", "bound_steps", "find_phase", "forward", "run_phase"]


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    items: tuple[ItemResult, ...]
    outcome: Outcome


def run_phase(actions: ItemActions, phase: Phase) -> PhaseResult:
    """Every item of ``phase`` in order; stop at the first failure."""
    results: list[ItemResult] = []
    for item in phase.items:
        r = run_item(actions, f"phases.{phase.key}", item)
        results.append(r)
        if r.status not in ("done", "skipped"):
            o = r.outcome
            msg = f"{item.text}: {r.message}"
            return PhaseResult(phase.key, tuple(results), Outcome(
                r.status, msg, o.failed_step if o else None, o.steps if o else ()))
    skipped_n = sum(r.status == "skipped" for r in results)
    done_n = sum(r.status == "done" for r in results)
    msg = f"phase {phase.name}: {done_n} item(s) done, {skipped_n} skipped"
    return PhaseResult(phase.key, tuple(results), Outcome("done", msg))


def bound_steps(phases: Sequence[Phase]) -> list[str]:
    """Step ids bound to checklist items of these phases, in order."""
    return [sid for ph in phases for it in ph.items
            if isinstance(it.run, RunSteps) for sid in it.run.steps]


def forward(actions: ItemActions, phases: Sequence[Phase] | None) -> Outcome:
    """All steps in plan order (``phases`` None), or the phases' checklists in order,
    stopping at a failure."""
    runner = actions.runner
    if phases is None:
        return runner.apply()
    outcome = Outcome("done", "nothing to do")
    done = skipped = 0
    for phase in phases:
        result = run_phase(actions, phase)
        outcome = result.outcome
        done += sum(r.status == "done" for r in result.items)
        skipped += sum(r.status == "skipped" for r in result.items)
        if not outcome.ok:
            break
    if outcome.ok and len(phases) > 1:
        outcome = Outcome("done", f"{len(phases)} phases: {done} item(s) done, {skipped} left "
                                  f"for the operator (tick them in the app)")
        unbound = [s.id for s in runner.plan.steps if s.id not in bound_steps(phases)]
        if unbound:
            actions.emit(NoteAdded(text=f"steps bound to no checklist item were not run: "
                                        f"{', '.join(unbound)}", author="migtui"))
    return outcome
