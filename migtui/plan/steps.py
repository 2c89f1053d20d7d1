"""A plan's steps: SQL, backfill, check, command or manual, with their rollbacks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from migtui.backfill_sql import set_clause, where_clause
from migtui.plan.basics import STEP_ID_RE, Strict
from migtui.plan.values import Duration, ExpectationValue

# ---------------------------------------------------------------- steps


class Backfill(Strict):
    table: str
    key: str = Field("id", description="Unique, indexed, orderable column for keyset batches.")
    set: str = Field(description="The SET clause, e.g. \"status = 'pending'\".")
    where: str | None = Field(None, description="Which rows still need it, e.g. 'status IS NULL'.")
    batch_size: int = Field(1000, ge=1, description="First batch size; it then adapts.")
    min_batch: int = Field(100, ge=1)
    max_batch: int = Field(50000, ge=1)
    target: Duration | None = Field(None, description="Target time per batch (default 0.5s).")
    sleep: Duration = Field(0.0, description="Pause between batches.")

    @field_validator("set")
    @classmethod
    def _set(cls, v: str) -> str:
        set_clause(v)  # FragmentError is a ValueError: a located plan problem
        return v

    @field_validator("where")
    @classmethod
    def _where(cls, v: str | None) -> str | None:
        if v is not None:
            where_clause(v)
        return v


class RollbackBackfill(Strict):
    """A rollback that is itself a backfill: keyset batches, throttled, resumable.

    ``rollback: {backfill: {table, key, set, where, batch_size}}`` undoes a backfill under
    the same guards as the backfill itself, instead of one UPDATE holding every row it
    touches until it commits. Its progress is kept apart from the forward backfill's.
    """

    backfill: Backfill


def _rollback_kind(v: Any) -> str | None:
    if isinstance(v, str):
        return "sql"
    if isinstance(v, dict | RollbackBackfill):
        return "backfill"
    return None


RollbackSpec = Annotated[
    Annotated[str, Tag("sql")] | Annotated[RollbackBackfill, Tag("backfill")],
    Discriminator(
        _rollback_kind,
        custom_error_type="rollback_kind",
        custom_error_message=(
            "expected the SQL that undoes the step, or {backfill: {table, key, set, where}} "
            "to undo it in keyset batches"),
    ),
]


class Check(Strict):
    sql: str
    expect: ExpectationValue | None = None
    capture: str | None = Field(None, description="Keep the value under this name for '= @name'.")

    @model_validator(mode="after")
    def _one(self) -> Check:
        if self.expect is None and self.capture is None:
            raise ValueError("a check needs 'expect', 'capture', or both")
        return self


class Command(Strict):
    run: str
    timeout: Duration | None = None
    cwd: str | None = None


class Prisma(Strict):
    migration_name: str
    checksum: str = Field(pattern=r"^[0-9a-f]{64}$")
    line_endings: Literal["lf", "crlf"] = Field(
        "lf", description="migration.sql's line endings; 'crlf' restores them, so the plan's "
                          "SQL (a literal block, LF) is the file byte for byte.")


class Step(Strict):
    id: str
    description: str | None = None
    sql: str | None = None
    backfill: Backfill | None = None
    check: Check | None = None
    command: Command | None = None
    manual: str | None = Field(None, description="Instruction the operator confirms.")
    rollback: RollbackSpec | None = Field(
        None, description="SQL that undoes this step, or {backfill: {...}} to undo it in "
                          "keyset batches.")
    irreversible: str | None = Field(None, description="Why this step cannot be undone.")
    lock_timeout: Duration | None = None
    statement_timeout: Duration | None = None
    retries: int | None = Field(None, ge=0, le=100)
    lint_ignore: dict[str, str] = Field(
        default_factory=dict, description="Lint rule id → reason for suppressing it.")
    prisma: Prisma | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not STEP_ID_RE.match(v):
            raise ValueError(f"a step id is letters, digits, '_', '.', '-'; found {v!r}")
        return v

    @model_validator(mode="after")
    def _line_endings(self) -> Step:
        if self.prisma is not None and self.prisma.line_endings == "crlf" and self.sql:
            self.sql = self.sql.replace("\r\n", "\n").replace("\n", "\r\n")
        return self

    @model_validator(mode="after")
    def _shape(self) -> Step:
        kinds = [k for k in ("sql", "backfill", "check", "command", "manual")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"a step has exactly one of sql, backfill, check, command or manual; found {found}")
        if self.rollback is not None and self.irreversible is not None:
            raise ValueError("a step has either 'rollback' or 'irreversible', not both")
        if self.rollback is None and self.irreversible is None and self.kind in ("sql", "backfill"):
            raise ValueError(
                "this step changes the database but has no 'rollback'; add the SQL that undoes "
                "it, or mark it 'irreversible' with the reason")
        return self

    @property
    def rollback_sql(self) -> str | None:
        """The rollback as SQL text; None when there is none or it is a backfill."""
        return self.rollback if isinstance(self.rollback, str) else None

    @property
    def rollback_backfill(self) -> Backfill | None:
        """The rollback's backfill spec, when the rollback is one."""
        return self.rollback.backfill if isinstance(self.rollback, RollbackBackfill) else None

    @property
    def kind(self) -> str:
        for k in ("sql", "backfill", "check", "command", "manual"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated step without a kind")  # pragma: no cover
