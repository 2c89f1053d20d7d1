"""Watch mode: the app opened on a plan whose run another migtui process holds.

The session cannot take the run lock, so it reads instead: the history with a
non-exclusive ``Runner`` (step statuses, as the holder writes them), the journal as it
grows (``follow.JournalFollower``; its records become events for the screens, and
``follow.Holder`` says what the other run is doing), and who holds the lock (pid, client,
since when, from ``pg_locks``). Each ``poll`` is one blocking round, for a thread worker a
few seconds apart; once the lock is free, the session can take over. No Textual.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from migtui.events import EVENT_TYPES, Event
from migtui.execution.follow import Holder, JournalFollower
from migtui.plan.model import Plan
from migtui.runner import Runner, StepStatus
from migtui.runner.advisory import LOCK_CLASS, LOCK_OBJ, holder
from migtui.runner.conn import connect

WATCH_EVERY = 3.0  # seconds between polls


def event_of(rec: dict[str, Any]) -> Event | None:
    """A journal record as the event it was (None for kinds the screens do not show)."""
    cls = EVENT_TYPES.get(str(rec.get("kind", "")))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    kw = {k: v for k, v in rec.items() if k in names}
    at = kw.get("at")
    if isinstance(at, str):
        try:
            kw["at"] = dt.datetime.fromisoformat(at)
        except ValueError:
            kw.pop("at")
    try:
        return cls(**kw)
    except TypeError:
        return None  # a record of an older shape: kept in the journal, not shown


def lock_free(conn: psycopg.Connection) -> bool:
    """Whether no session holds the run lock on this database."""
    row = conn.execute(
        """SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND classid = %s::oid AND objid = %s::oid AND objsubid = 2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))""",
        (LOCK_CLASS, LOCK_OBJ)).fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class WatchUpdate:
    """One poll: the journal's new records (as records and as events), the history's step
    statuses, who holds the lock and what the other run is doing, and whether it is free."""

    records: list[dict[str, Any]]
    events: list[Event]
    statuses: list[StepStatus]
    holder: str  # "pid 123, ... connected since ..., between steps" ("" once free)
    doing: str  # from the journal: "run by alice since ..., running step x (apply)"
    free: bool


class Watching:
    def __init__(self, plan: Plan, dsn: str, journal: str | Path, known: int,
                 locked: str = "") -> None:
        """``known``: how many of the journal's records the session has already folded
        in (they feed ``Holder`` only); ``locked``: the RunLocked message."""
        self.dsn = dsn
        self.locked = locked
        self.runner = Runner(plan, dsn, exclusive=False)
        self.follower = JournalFollower(journal)
        self.holder = Holder()
        self._skip = known
        self._conn: psycopg.Connection | None = None
        self.last: WatchUpdate | None = None

    def _lock_conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.dsn, application_name="migtui watch")
        return self._conn

    def poll(self) -> WatchUpdate:
        """One round (blocking): the journal's new records, the history, the lock."""
        recs = self.follower.poll()
        for r in recs:
            self.holder.apply(r)
        fresh = recs[self._skip:]
        self._skip = max(0, self._skip - len(recs))
        events = [e for e in map(event_of, fresh) if e is not None]
        statuses = self.runner.status()
        conn = self._lock_conn()
        free = lock_free(conn)
        who = "" if free else holder(conn)
        self.last = WatchUpdate(fresh, events, statuses, who, self.holder.describe(), free)
        return self.last

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.close()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
