"""A dry run: every statement an apply would run, with its transaction mode and lock."""

from __future__ import annotations

from collections.abc import Iterable

from migtui.plan.model import Step
from migtui.runner.backfill import planned_update
from migtui.runner.outcome import PlannedStatement
from migtui.sql import split


def planned_statements(steps: Iterable[Step]) -> list[PlannedStatement]:
    """What applying ``steps`` would run, in order. Changes nothing, needs no database."""
    out: list[PlannedStatement] = []
    for step in steps:
        if step.sql is not None:
            for i, st in enumerate(split(step.sql)):
                out.append(PlannedStatement(step.id, "sql", i, st.text, st.autocommit,
                                            st.lock))
        elif step.backfill is not None:
            out.append(PlannedStatement(
                step.id, "backfill", 0, planned_update(step.backfill, step.id), False,
                "ROW EXCLUSIVE",
                f"keyset batches from {step.backfill.batch_size} rows, one transaction each"))
        elif step.check is not None:
            out.append(PlannedStatement(step.id, "check", 0, step.check.sql, False,
                                        "ACCESS SHARE", "read only"))
        elif step.command is not None:
            out.append(PlannedStatement(step.id, "command", 0, step.command.run, True,
                                        "none", "shell command"))
        else:
            out.append(PlannedStatement(step.id, "manual", 0, step.manual or "", True,
                                        "none", "the operator confirms"))
    return out
