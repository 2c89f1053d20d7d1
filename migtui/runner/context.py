"""What every step executor gets from the Runner: connections, guards, and who is running."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from migtui.control import RunControl
from migtui.events import Emit
from migtui.plan.model import Plan, Step
from migtui.runner.conn import connect

if TYPE_CHECKING:
    from migtui.trace import Tracer


@dataclass(frozen=True)
class Timeouts:
    lock: float  # seconds; 0 disables
    statement: float
    retries: int
    retry_base: float
    retry_max: float

    @classmethod
    def for_step(cls, plan: Plan, step: Step | None) -> Timeouts:
        s = plan.settings
        return cls(
            lock=step.lock_timeout if step and step.lock_timeout is not None else s.lock_timeout,
            statement=(step.statement_timeout if step and step.statement_timeout is not None
                       else s.statement_timeout),
            retries=step.retries if step and step.retries is not None else s.retries,
            retry_base=s.retry_base, retry_max=s.retry_max)


def ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


class WorkSession:
    """The connection that runs the statements. Reconnects after it was killed."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None
        self.pid: int | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> psycopg.Connection:
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                if self._conn is not None:
                    self._conn.close()
                self._conn = connect(self.dsn)
                row = self._conn.execute("SELECT pg_backend_pid()").fetchone()
                self.pid = int(row[0]) if row else None
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@dataclass
class Ctx:
    plan: Plan
    dsn: str
    emit: Emit
    control: RunControl
    operator: str
    run_id: str
    plan_checksum: str | None
    workdir: Path
    work: WorkSession
    captured: dict[str, object] = field(default_factory=dict)
    tracer: Tracer | None = None  # a traced run (migtui trace, the rehearsal)

    @property
    def plan_id(self) -> str:
        return self.plan.id or self.plan.title
