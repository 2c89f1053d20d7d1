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
    if st.state == "applied":
        return True
    if step.backfill is None:
        return False
    # a backfill that failed, or whose process died, has committed batches to undo
    return st.state == "failed" or step.id in partial


def rollback_order(plan: Plan, statuses: dict[str, StepStatus], to: str | None,
                   partial: set[str] | frozenset[str] = frozenset()) -> list[Step]:
    steps = list(plan.steps)
    if to is not None:
        ids = [s.id for s in steps]
        if to not in ids:
            raise KeyError(to)
        steps = steps[ids.index(to):]
    return [s for s in reversed(steps) if needs_undo(s, statuses[s.id], partial)]
