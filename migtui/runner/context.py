"""What every step executor gets from the Runner: connections, guards, and who is running."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from migtui.control import RunControl
from migtui.dsn import DsnError, parse_dsn
from migtui.events import Emit
from migtui.plan.model import Plan, Step
from migtui.runner import advisory
from migtui.runner.conn import connect, first_line
from migtui.runner.errors import LockLost
from migtui.runner.history import history_plan_id

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


def dsn_schema(dsn: str) -> str | None:
    """The Prisma ``?schema=`` the connection string names, if any (a malformed string has
    none here: connecting reports it)."""
    try:
        return parse_dsn(dsn).schema
    except DsnError:
        return None


def ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


class WorkSession:
    """The connection that runs the statements and, when ``exclusive``, holds the run lock.

    Holding the lock where the work happens means nothing this run commits can commit after
    the lock is gone: the lock dies with the session, and so does any open transaction. A
    session that was killed is replaced on next use, taking the lock again (LockLost if
    another run has it now). Between ``pin()`` (the start of an apply or a rollback) and its
    end, ``verify()`` (before every step and every backfill batch) fails if the lock is gone
    or the session was replaced meanwhile: the run then stops instead of going on blind.
    """

    def __init__(self, dsn: str, *, exclusive: bool = False, database: str | None = None
                 ) -> None:
        self.dsn = dsn
        self.exclusive = exclusive
        self.database = database or "?"
        self.schema = dsn_schema(dsn)  # a Prisma ?schema= target: its own history and lock
        self.lock_key = advisory.key_for(self.schema)
        self._conn: psycopg.Connection | None = None
        self.pid: int | None = None
        self.generation = 0  # sessions opened so far
        self._pinned: int | None = None
        self._had_lock = False
        self._lock = threading.RLock()

    @property
    def conn(self) -> psycopg.Connection:
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._reconnect()
            assert self._conn is not None
            return self._conn

    def _reconnect(self) -> None:
        self._drop()
        conn = connect(self.dsn)
        try:
            if self.exclusive:
                advisory.acquire(conn, self.database, schema=self.schema, again=self._had_lock)
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.pid = int(row[0]) if row else None
        self.generation += 1
        self._had_lock = self.exclusive

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def pin(self) -> None:
        """Work starts: a session that died while idle is replaced now (nothing was in
        flight); from here on, losing the lock or the session stops the work."""
        with self._lock:
            conn = self.conn
            if self.exclusive:
                try:
                    ok = advisory.held(conn, self.lock_key)
                except psycopg.Error:
                    ok = False
                if not ok:
                    self._reconnect()
            self._pinned = self.generation

    def verify(self) -> None:
        """One round-trip: raise LockLost, naming why, unless this session still holds the
        run lock and is the one pinned. On loss the session is dropped, so that whatever
        is written next (the failure's history row) is written under the lock again."""
        if not self.exclusive:
            return
        with self._lock:
            try:
                self._check()
            except LockLost:
                self._drop()
                raise

    def _check(self) -> None:
        conn = self._conn
        if self._pinned is not None and self.generation != self._pinned:
            raise advisory.lost("the session that held the run lock died during the run and "
                                "was replaced")
        if conn is None or conn.closed or conn.broken:
            raise advisory.lost("the session that held the run lock was closed")
        try:
            ok = advisory.held(conn, self.lock_key)
        except psycopg.Error as e:
            if conn.closed or conn.broken:
                raise advisory.lost(f"the run lock's session was terminated ({first_line(e)}; "
                                    f"an idle timeout, pg_terminate_backend or a network "
                                    f"failure?)") from None
            try:  # the session lives (e.g. a cancel arrived just then): ask once more
                ok = advisory.held(conn, self.lock_key)
            except psycopg.Error as e2:
                raise advisory.lost(f"the run lock cannot be verified ({first_line(e2)})") \
                    from None
        if not ok:
            raise advisory.lost("migtui's session no longer holds the run lock (a statement "
                                "released it, e.g. DISCARD ALL or pg_advisory_unlock_all())")

    def close(self) -> None:
        with self._lock:
            conn = self._conn
            if conn is not None and self.exclusive and not (conn.closed or conn.broken):
                with contextlib.suppress(psycopg.Error):
                    advisory.unlock(conn, self.lock_key)
            self._drop()
            self._pinned = None
            self._had_lock = False


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

    def check_lock(self) -> None:
        """Before every step and backfill batch: LockLost if the run lock is gone."""
        self.work.verify()

    @property
    def plan_id(self) -> str:
        """The history key: the plan id, with ``@SCHEMA`` when the connection string names
        a Prisma ``?schema=`` (each tenant schema of a database has its own history)."""
        return history_plan_id(self.plan.id or self.plan.title, self.work.schema)
