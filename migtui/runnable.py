"""What a step must be for the runner to execute it: one source for ``check`` and ``run``.

``migtui check`` (after loading the plan), ``migtui run`` (and its ``--dry-run``) and the
Runner itself all ask :func:`step_problems`, so a plan that ``check`` passes is never
refused by ``run`` for its shape. No database is needed.

The rules:

* a step's ``sql`` and ``rollback`` parse and hold at least one statement (a Prisma step
  may be an empty migration);
* they hold statements that run in one transaction, or exactly one that cannot run in a
  transaction block (``CREATE INDEX CONCURRENTLY``, ``VACUUM``...): with two, or with a
  mix, a failure could leave half a step applied;
* their own ``BEGIN``/``COMMIT`` fold into the step's transaction; ``ROLLBACK``, savepoints
  and the like are refused (see :func:`migtui.sql.fold_transaction_control`);
* a backfill's ``set`` and ``where`` are assignments and one boolean expression
  (see :mod:`migtui.backfill_sql`), and so are those of a rollback written as a backfill;
* a step imported from a Prisma migration still has that migration's SQL (its checksum).
"""

from __future__ import annotations

from dataclasses import dataclass

from migtui.backfill_sql import FragmentError, set_clause, where_clause
from migtui.fmt import shorten
from migtui.plan.model import Step
from migtui.sql import (
    SqlSyntaxError,
    Statement,
    TransactionControlError,
    fold_transaction_control,
    split,
)


class Unrunnable(ValueError):
    """SQL the runner refuses; ``line`` is the 1-based line within that SQL, if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class StepProblem:
    step_id: str
    # sql | rollback | [rollback.]backfill.set | [rollback.]backfill.where | prisma.checksum
    field: str
    message: str
    line: int | None = None  # line within the field's SQL

    def __str__(self) -> str:
        return f"step {self.step_id!r}: {self.message}"




def classify(sql: str, what: str = "sql", *, allow_empty: bool = False,
             folded: list[int] | None = None) -> tuple[bool, list[Statement]]:
    """(autocommit?, statements). Raises Unrunnable when the runner cannot run it.

    ``allow_empty``: SQL with no statement (only comments) is a step that records itself,
    as Prisma records an empty migration. ``folded`` receives the lines of the script's own
    ``BEGIN``/``COMMIT``, which are folded into the step's one transaction.
    """
    try:
        stmts = split(sql)
    except SqlSyntaxError as e:
        where = f" at line {e.line}" if e.line else ""
        raise Unrunnable(f"{what} does not parse{where}: {e.message}", e.line) from None
    try:
        stmts, lines = fold_transaction_control(stmts)
    except TransactionControlError as e:
        raise Unrunnable(f"{what}, {e}", e.line) from None
    auto = [s for s in stmts if s.autocommit]
    if lines and auto:
        raise Unrunnable(
            f"{what} wraps {shorten(auto[0].text, 60)} (line {auto[0].line}) in its own BEGIN/COMMIT, "
            f"but it cannot run in a transaction block; expected it alone in a step, without "
            f"BEGIN/COMMIT", auto[0].line)
    if folded is not None:
        folded.extend(lines)
    if not stmts and not allow_empty:
        raise Unrunnable(f"{what} holds no statement")
    if auto and len(stmts) > 1:
        first = auto[0]
        kind = "several statements that cannot run in a transaction" if len(auto) == len(
            stmts) else "statements that cannot run in a transaction with ones that can"
        raise Unrunnable(
            f"{what} mixes {kind} (line {first.line}: {shorten(first.text, 60)}); expected "
            f"statements that run in one transaction, or a single one that cannot. Put each "
            f"non-transactional statement in a step of its own, so a failure can never leave "
            f"half a step applied", first.line)
    return bool(auto), stmts


def step_problems(step: Step) -> list[StepProblem]:
    """Why the runner would refuse ``step`` as written. Empty when it can run it."""
    out: list[StepProblem] = []
    for field, sql in (("sql", step.sql), ("rollback", step.rollback_sql)):
        if sql is None:
            continue
        try:
            classify(sql, field, allow_empty=step.prisma is not None)
        except Unrunnable as e:
            out.append(StepProblem(step.id, field, e.message, e.line))
    for prefix, bf in (("", step.backfill), ("rollback.", step.rollback_backfill)):
        if bf is None:
            continue
        for field, frag, fn in ((f"{prefix}backfill.set", bf.set, set_clause),
                                (f"{prefix}backfill.where", bf.where, where_clause)):
            try:
                if frag is not None:
                    fn(frag)
            except FragmentError as e:
                out.append(StepProblem(step.id, field, f"{field}: {e}"))
    if step.prisma is not None and step.sql is not None:
        from migtui.runner.prisma import checksum_bytes  # the runner package imports this one

        actual = checksum_bytes(step.sql.encode())
        if actual != step.prisma.checksum:
            out.append(StepProblem(
                step.id, "prisma.checksum",
                f"its SQL differs from the migration.sql it was imported from: found "
                f"checksum {actual[:12]}…, expected the recorded {step.prisma.checksum[:12]}…; "
                f"import the migration again"))
    return out
