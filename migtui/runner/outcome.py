"""What a Runner call returns (Outcome), what a dry run lists (PlannedStatement), and the
bookkeeping of the one step in flight (RunningStep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | rolled_back | cancelled | rollback_requested
    message: str = ""
    failed_step: str | None = None
    steps: tuple[str, ...] = ()  # steps applied (or rolled back) by this call

    @property
    def ok(self) -> bool:
        return self.status in ("done", "rolled_back")


@dataclass(frozen=True)
class PlannedStatement:
    step_id: str
    kind: str  # sql | backfill | check | command | manual
    index: int
    sql: str  # statement text, or the command / instruction
    autocommit: bool
    lock: str
    note: str = ""


@dataclass
class RunningStep:
    started: datetime
    row_id: int | None = None  # a committed 'running' row (non-transactional steps)
    body: tuple[str, str] | None = None
    rows: int | None = None
    retries: int = 0

