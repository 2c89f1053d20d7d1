"""Which steps a rollback undoes, and in what order.

Reverse plan order over the steps that are applied, plus backfills that failed part-way
or were killed part-way (``partial``: they have a row in migtui.progress): their committed
batches changed rows, so their rollback SQL must run too. ``to`` names
the last step to undo (inclusive); it need not itself be applied.
"""

from __future__ import annotations

from migtui.plan.model import Plan, Step
from migtui.runner.history import StepStatus


def needs_undo(step: Step, st: StepStatus, partial: set[str] | frozenset[str] = frozenset()
               ) -> bool:
    return undoes(step, st.state, step.id in partial)


def undoes(step: Step, state: str, partial: bool = False) -> bool:
    """Whether a rollback undoes ``step`` in ``state``: applied, or a backfill that failed
    or was killed part-way (its committed batches changed rows). What the app counts and
    lists before R is this rule too."""
    if state == "applied":
        return True
    if step.backfill is None:
        return False
    return state == "failed" or partial


def rollback_order(plan: Plan, statuses: dict[str, StepStatus], to: str | None,
                   partial: set[str] | frozenset[str] = frozenset()) -> list[Step]:
    steps = list(plan.steps)
    if to is not None:
        ids = [s.id for s in steps]
        if to not in ids:
            raise KeyError(to)
        steps = steps[ids.index(to):]
    return [s for s in reversed(steps) if needs_undo(s, statuses[s.id], partial)]
