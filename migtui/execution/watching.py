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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from migtui.events import EVENT_TYPES, Event, StepProgress
from migtui.execution.follow import Holder, JournalFollower
from migtui.plan.model import Plan
from migtui.runner import Runner, StepStatus, history
from migtui.runner.advisory import LOCK_CLASS, LOCK_OBJ, doing
from migtui.runner.conn import connect

WATCH_EVERY = 3.0  # seconds between polls
NOTHING_RUN = "holds the plan, no step running"  # and no run open in its journal


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


@dataclass(frozen=True)
class LockHolder:
    """The session holding the run lock, from pg_locks and pg_stat_activity."""

    pid: int
    client: str  # its address, or "local socket"
    since: str  # its backend's start, "2026-12-03 09:01:02"
    doing: str  # "running a statement", "no statement running (…)", ...
    idle: bool = False  # its session is idle (no statement, no transaction open)

    def text(self) -> str:
        return f"pid {self.pid} on {self.client}, connected since {self.since}, {self.doing}"


def lock_holder(conn: psycopg.Connection) -> LockHolder | None:
    """Who holds the run lock on this database (None: nobody, it is free)."""
    row = conn.execute(
        """SELECT a.pid, host(a.client_addr),
                  to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS'), a.state
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid
             AND l.objid = %s::oid AND l.objsubid = 2
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           LIMIT 1""", (LOCK_CLASS, LOCK_OBJ)).fetchone()
    if row is None:
        return None
    pid, addr, since, state = row
    return LockHolder(int(pid), addr or "local socket", str(since or "?"), doing(state),
                      state == "idle")


@dataclass(frozen=True)
class WatchUpdate:
    """One poll: the journal's new records (as records and as events), the history's step
    statuses, who holds the lock and what the other run is doing, and whether it is free."""

    records: list[dict[str, Any]]
    events: list[Event]
    statuses: list[StepStatus]
    holder: LockHolder | None  # None once the lock is free
    doing: str  # from the journal: "run by alice since ..., running step x (apply)"
    step: str  # the step the other run is on ("" between steps)
    pid: int = 0  # its migtui process and machine, from its journal (0: not journaled)
    host: str = ""
    activity: Holder | None = None  # the journal's view, to say "for 1m05s" as time goes on

    @property
    def step_since(self) -> dt.datetime | None:
        """When ``step`` started, from its journal (None between steps)."""
        a = self.activity
        return a.since if a is not None and a.step and self.step else None

    @property
    def free(self) -> bool:
        return self.holder is None

    @property
    def process(self) -> str:
        """'migtui pid 4242 on dba-laptop', '' when its journal does not say."""
        if not self.pid:
            return ""
        return f"migtui pid {self.pid}" + (f" on {self.host}" if self.host else "")

    def doing_now(self, now: dt.datetime | None = None) -> str:
        """``doing`` with its durations as of ``now`` (the header redraws every second)."""
        if now is not None and self.activity is not None and self.activity.running:
            return self.activity.doing(now)
        return self.doing

    def summary(self, now: dt.datetime | None = None) -> str:
        """'running step fill (apply) · migtui pid 4242 on dba-laptop since 09:01:02' (what
        it does first: a narrow header cuts the tail); without its journal, its database
        session: 'backend pid 5678 from 10.0.0.5'."""
        if self.holder is None:
            return "the other run ended: the lock is free"
        h = self.holder
        who = self.process or f"backend pid {h.pid} from {h.client}"
        return f"{self.doing_now(now)} · {who} since {h.since[11:] or h.since}"

    def how_to_stop(self) -> str:
        """What the operator does to take over, naming the process when it is known."""
        if self.holder is None:
            return "the lock is free: take over"
        if self.pid:
            kill = f"kill {self.pid}" + (f" on {self.host}" if self.host else "")
            where = f"{self.process}: q in its app, Ctrl+C in its terminal, or {kill}"
        else:
            where = "its migtui process where it runs (q in its app, Ctrl+C in its terminal)"
        return (f"to take over, stop {where}; as a last resort, end its database session: "
                f"SELECT pg_terminate_backend({self.holder.pid}) (it stops before its next "
                f"step or batch, the history stays consistent). This app offers to take "
                f"over once the lock is free")


class Watching:
    def __init__(self, plan: Plan, dsn: str, journal: str | Path, known: int,
                 locked: str = "", plan_id: str = "") -> None:
        """``known``: how many of the journal's records the session has already folded
        in (they feed ``Holder`` only); ``locked``: the RunLocked message."""
        self.dsn = dsn
        self.plan = plan
        self.plan_id = plan_id or plan.id
        self.locked = locked
        self._rows: tuple[str, int, float] | None = None  # backfill: step, rows, when
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
        who = lock_holder(self._lock_conn())
        h = self.holder
        if who is not None and h.step:
            progress = self._backfill(h.step, h.action)
            if progress is not None:
                events.append(progress)
        if who is not None and h.step:  # its history row says 'running' (read: failed)
            running = "rolling_back" if h.action == "rollback" else "running"
            statuses = [dataclasses.replace(st, state=running) if st.step_id == h.step else st
                        for st in statuses]
        # what it does: from its journal while a run is open there, else from pg_stat_activity
        # (an idle session with no run open: a process that holds the plan, an app just
        # opened on it, and has run nothing)
        now = dt.datetime.now(dt.UTC)
        if h.running:
            what = h.doing(now)
        elif who is not None and who.idle:
            what = NOTHING_RUN
        else:
            what = who.doing if who is not None else ""
        running = who is not None and h.running
        self.last = WatchUpdate(fresh, events, statuses, who, what,
                                h.step if who is not None else "",
                                h.pid if running else 0, h.host,
                                dataclasses.replace(h) if running else None)
        return self.last

    def _backfill(self, step_id: str, action: str) -> StepProgress | None:
        """A running backfill's progress from its checkpoint in migtui.progress (the other
        run does not journal its batches): rows so far, and the rate since the last poll."""
        try:
            step = self.plan.step(step_id)
        except KeyError:
            return None
        rollback = action == "rollback"
        bf = step.rollback_backfill if rollback else step.backfill
        if bf is None:
            return None
        saved = history.progress(self._lock_conn(), self.plan_id, step_id,
                                 "rollback" if rollback else "apply")
        if saved is None:
            return None
        rows, now = saved[1], time.monotonic()
        est = self._lock_conn().execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            (bf.table,)).fetchone()
        total = int(est[0]) if est and est[0] and est[0] > 0 else None
        rate = 0.0
        if self._rows is not None and self._rows[0] == step_id and now > self._rows[2]:
            rate = max(0.0, (rows - self._rows[1]) / (now - self._rows[2]))
        self._rows = (step_id, rows, now)
        eta = (total - rows) / rate if total and rate > 0 and total > rows else None
        return StepProgress(step_id=step_id, done=rows, total=total, rate=rate, eta=eta)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.close()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
