"""What a trace records for one statement, and how lock modes compare."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Table lock modes from weakest to strongest (PostgreSQL docs, "Explicit Locking").
MODES = ("ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
         "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE")
_PG_NAMES = {m.title().replace(" ", "") + "Lock": m for m in MODES}


def mode_name(pg_mode: str) -> str:
    """``AccessExclusiveLock`` → ``ACCESS EXCLUSIVE`` (unknown names pass through)."""
    return _PG_NAMES.get(pg_mode, pg_mode)


def strength(mode: str) -> int:
    """0 for ACCESS SHARE … 7 for ACCESS EXCLUSIVE; -1 for anything else ('none' …)."""
    return MODES.index(mode) if mode in MODES else -1


def strongest(modes: list[str]) -> str:
    known = [m for m in modes if m in MODES]
    return max(known, key=strength) if known else "none"


@dataclass(frozen=True)
class LockHeld:
    mode: str  # ACCESS EXCLUSIVE, ...
    relation: str  # schema.name
    kind: str  # table, index, sequence, view, materialized view, ...

    def __str__(self) -> str:
        return f"{self.mode} on {self.kind} {self.relation}"


@dataclass
class StatementTrace:
    step_id: str
    which: str  # sql | rollback
    index: int
    line: int
    statement: str
    autocommit: bool
    locks: list[LockHeld] = field(default_factory=list)  # first taken by this statement
    # locks the transaction already held, before this statement, on the relations it names
    held_before: list[LockHeld] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)  # relations given a new relfilenode
    changes: list[str] = field(default_factory=list)  # indexes and constraints added, ...
    held_seconds: float | None = None  # statement start → commit (or end, in autocommit)
    rows: int | None = None  # estimated rows of the most strongly locked table, before
    sampled: bool = False  # locks seen from a second connection (autocommit statements)
    predicted_lock: str = ""
    predicted_rewrite: bool = False
    disagreements: list[str] = field(default_factory=list)

    @property
    def table_locks(self) -> list[LockHeld]:
        return [lk for lk in self.locks if lk.kind in ("table", "partitioned table",
                                                       "materialized view")]

    @property
    def strongest(self) -> LockHeld | None:
        locks = self.table_locks or self.locks
        return max(locks, key=lambda lk: strength(lk.mode), default=None)

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        top = self.strongest
        d["strongest"] = str(top) if top else "none"
        return d
