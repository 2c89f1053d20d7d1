"""Running a phase's checklist, and a run's forward part: all steps, or the phases in order.

Each item bound to an action runs through ``items.run_item``; the phase stops at the first
failure, and holds before its next item while the run is paused (an ``offer`` trip, p).
An item with no action (a manual checkbox) is reported as skipped. The app runs only the
items still to do (``select``); the headless run runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from migtui.events import NoteAdded
from migtui.execution.items import ItemActions, ItemResult, run_item
from migtui.execution.trip import hold_before
from migtui.plan.model import ChecklistItem, Phase, RunSteps
from migtui.runner import Outcome
from migtui.runner.phases import find_phase

__all__ = ["PhaseResult", "bound_steps", "find_phase", "forward", "run_phase"]


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    items: tuple[ItemResult, ...]
    outcome: Outcome


def run_phase(actions: ItemActions, phase: Phase,
              select: Callable[[ChecklistItem], bool] | None = None) -> PhaseResult:
    """Every item of ``phase`` in order (those ``select`` keeps, when given); hold before
    each next item while the run is paused; stop at the first failure."""
    results: list[ItemResult] = []
    items = [i for i in phase.items if select is None or select(i)]
    for item in items:
        held = hold_before(actions.runner.control, f"item '{item.text}'", actions.emit,
                           actions.resume_hint) if results else None
        if held is not None:
            return PhaseResult(phase.key, tuple(results), held)
        r = run_item(actions, f"phases.{phase.key}", item)
        results.append(r)
        if r.status not in ("done", "skipped"):
            o = r.outcome
            msg = f"{item.text}: {r.message}"
            return PhaseResult(phase.key, tuple(results), Outcome(
                r.status, msg, o.failed_step if o else None, o.steps if o else ()))
    skipped_n = sum(r.status == "skipped" for r in results)
    done_n = sum(r.status == "done" for r in results)
    msg = f"{done_n} item(s) done" + (f", {skipped_n} skipped" if skipped_n else "")
    manual = sum(i.run is None for i in phase.items if i not in items)
    if manual:
        msg += f"; tick the {manual} manual item(s) when they are done"
    return PhaseResult(phase.key, tuple(results), Outcome("done", msg))


def bound_steps(phases: Sequence[Phase]) -> list[str]:
    """Step ids bound to checklist items of these phases, in order."""
    return [sid for ph in phases for it in ph.items
            if isinstance(it.run, RunSteps) for sid in it.run.steps]


def forward(actions: ItemActions, phases: Sequence[Phase] | None,
            on_phase: Callable[[Phase], None] | None = None) -> Outcome:
    """All steps in plan order (``phases`` None), or the phases' checklists in order,
    stopping at a failure. ``on_phase`` is told each phase as it starts (the demo's say)."""
    runner = actions.runner
    if phases is None:
        return runner.apply()
    outcome = Outcome("done", "nothing to do")
    done = skipped = 0
    for phase in phases:
        if on_phase is not None:
            on_phase(phase)
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
