"""Rollback when a trigger or the operator asks for it.

A trigger (the guard's ``rollback`` policy, or a headless ``offer``) and the operator
(the app's ``r``, the headless run's --auto-rollback) only *request* a rollback on the run's
``RunControl``: the forward work stops at its next safe point. Then the run's owner calls
``rollback_if_requested`` (headless) or ``Runner.rollback`` directly (the app's one-key
rollback), and ``untick_rolled_back`` keeps the checklists honest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from migtui.control import RunControl
from migtui.plan.model import ChecklistItem, Plan, RunSteps
from migtui.runner import Outcome, Runner
from migtui.state import RunState


def rollback_if_requested(runner: Runner, control: RunControl, outcome: Outcome) -> Outcome:
    """When a rollback was requested during the forward work: reset the control, roll every
    applied step back, and report it as the run's outcome. Otherwise ``outcome`` as is."""
    if not control.rollback_requested:
        return outcome
    reason = control.rollback_reason
    control.reset()
    rb = runner.rollback(reason=reason)
    status = "rolled_back" if rb.ok else "failed"
    return Outcome(status, f"{reason}; {rb.message}", rb.failed_step, rb.steps)


def untick_rolled_back(plan: Plan, state: RunState, steps: Iterable[str],
                       tick: Callable[[str, ChecklistItem, bool, str], None]) -> None:
    """A ticked item whose steps were rolled back is no longer done: untick it."""
    gone = set(steps)
    for key, _heading, items in plan.checklists():
        for item in items:
            if (isinstance(item.run, RunSteps) and gone & set(item.run.steps)
                    and state.is_done(key, item)):
                tick(key, item, False, "rolled back: " + ", ".join(
                    s for s in item.run.steps if s in gone))
