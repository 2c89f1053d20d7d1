"""A fleet worker: ticks against the control database and runs the members it claimed,
each in its own thread with its own Runner (and Watch, when the plan has gauges, so a
member's sampler runs only while that member is active).

Many workers (processes, hosts) may share one rollout; see ``migtui.fleet.scheduler``.
A worker that dies loses nothing: its members' heartbeats stop, another worker claims
them, and the Runner skips the steps each member's history already records.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtui.control import RunControl
from migtui.events import StepProgress, StepStarted, ThresholdChanged
from migtui.fleet import scheduler
from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.members import Member
from migtui.journal import Journal
from migtui.plan.model import Plan
from migtui.runner import Runner
from migtui.runner.errors import RunLocked
from migtui.runner.history import history_plan_id
from migtui.sampler.snapshot import format_value
from migtui.secrets import scrub

MIN_TICK = 0.5  # seconds between ticks even when a member finishing wakes the loop
WORKER_ROW = 10.0  # seconds between updates of the worker's own row (its query count)


def member_journal(workdir: Path, fleet: str, plan_id: str, member: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", member)
    return workdir / ".migtui" / f"fleet-{fleet}" / f"{plan_id}--{safe}.journal.jsonl"


@dataclass
class Active:
    member: Member
    action: str
    control: RunControl
    thread: threading.Thread | None = None
    step: str | None = None
    progress: str | None = None  # the running backfill's rows done (of the estimate)
    gauges: dict[str, tuple[str, str]] = field(default_factory=dict)  # metric -> state, text

    def seen(self, ev: Any) -> None:
        """Keep what the fleet view shows: the current step, its backfill progress, and
        each gauge's latest state."""
        if isinstance(ev, StepStarted):
            self.step, self.progress = ev.step_id, None
        elif isinstance(ev, StepProgress):
            self.progress = backfill_text(ev.done, ev.total)
        elif isinstance(ev, ThresholdChanged):
            value = "" if ev.value is None else f" {format_value(ev.metric, ev.value)}"
            self.gauges[ev.metric] = (ev.state, f"{ev.metric}{value} {ev.state}")

    @property
    def worst_gauge(self) -> str | None:
        if not self.gauges:
            return None
        rank = {"ok": 0, "warn": 1, "trip": 2}
        return max(self.gauges.values(), key=lambda g: rank.get(g[0], 0))[1]


def backfill_text(done: int, total: int | None) -> str:
    if total:
        return f"{done:,}/{total:,} ({min(100, done * 100 // total)}%)"
    return f"{done:,} rows"


@dataclass
class WorkerOptions:
    heartbeat: float = 2.0
    operator: str = "operator"
    workdir: Path = Path(".")
    plan_checksum: str | None = None
    gauges: bool = True
    log: Callable[[str], None] = lambda _s: None
    only_rollbacks: bool = False  # `fleet rollback`: do rollback work, claim no apply
    max_threads: int | None = None


@dataclass
class WorkerResult:
    rollout: Rollout
    applied: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0


class Worker:
    def __init__(self, db: ControlDb, rollout_id: str, fleet_name: str, plan: Plan,
                 members: dict[str, Member], options: WorkerOptions) -> None:
        self.db = db
        self.rollout_id = rollout_id
        self.fleet_name = fleet_name
        self.plan = plan
        self.members = members
        self.o = options
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.active: dict[str, Active] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.result: WorkerResult | None = None

    def stop(self) -> None:
        """Stop claiming; cancel the members in flight at their next safe point."""
        self._stop.set()
        with self._lock:
            for a in self.active.values():
                a.control.cancel("the fleet worker is stopping")
        self._wake.set()

    def run(self) -> WorkerResult:
        t0 = time.monotonic()
        self.db.register_worker(self.id, self.rollout_id, socket.gethostname(), os.getpid())
        res = WorkerResult(rollout=self.db.rollout(self.rollout_id))  # type: ignore[arg-type]
        self.result = res
        last_beat = last_row = 0.0
        while True:
            now = time.monotonic()
            with self._lock:
                mine = {n: a.step for n, a in self.active.items()}
                shown = {n: (a.progress, a.worst_gauge) for n, a in self.active.items()}
            limit = self.o.max_threads or res.rollout.concurrency
            free = 0 if self._stop.is_set() else max(0, limit - len(mine))
            beat = now - last_beat >= self.o.heartbeat * 0.9
            row = now - last_row >= WORKER_ROW
            t = scheduler.tick(self.db, self.rollout_id, self.id, mine, free, heartbeat=beat,
                               worker_row=row, shown=shown)
            if beat:
                last_beat = now
            if row:
                last_row = now
            res.rollout = t.rollout
            for c in t.claims:
                if c.name not in self.members or (self.o.only_rollbacks and c.action == "apply"):
                    self._unknown(c.name, c.action)
                    continue
                self._start(c.name, c.action, c.takeover)
            with self._lock:
                busy = len(self.active)
            if not busy and not t.claims and self._finished(t):
                break
            self._wake.wait(self.o.heartbeat if busy or not self._stop.is_set() else 0.1)
            self._wake.clear()
            time.sleep(max(0.0, min(MIN_TICK, self.o.heartbeat / 2) - (time.monotonic() - now)))
        res.queries = self.db.queries
        res.seconds = time.monotonic() - t0
        self.db.q("UPDATE migtui_fleet.worker SET heartbeat = now(), queries = %s WHERE id = %s",
                  (self.db.queries + 1, self.id))
        return res

    def _finished(self, t: scheduler.TickResult) -> bool:
        if self._stop.is_set():
            return True
        state = t.rollout.state
        if self.o.only_rollbacks:
            return t.waiting_rollbacks == 0
        if state in ("done", "failed"):
            return t.waiting_rollbacks == 0
        return False  # running or paused: there is work, now or once resumed

    def _unknown(self, name: str, action: str) -> None:
        msg = (f"worker {self.id} does not know member {name!r} (its fleet file resolves "
               f"other members)" if name not in self.members else "left for another worker")
        scheduler.release(self.db, self.rollout_id, name, self.id, msg)

    # ---------------------------------------------------------------- member threads

    def _start(self, name: str, action: str, takeover: bool) -> None:
        a = Active(self.members[name], action, RunControl())
        with self._lock:
            self.active[name] = a
        verb = "takes over" if takeover else "starts"
        self.o.log(f"{name}: {verb} {'apply' if action == 'apply' else 'rollback'}")
        a.thread = threading.Thread(target=self._member, args=(a,), daemon=True,
                                    name=f"fleet-{name}")
        a.thread.start()

    def _member(self, a: Active) -> None:
        m = a.member
        try:
            state, error = self._run_member(a)
        except RunLocked as e:
            scheduler.release(self.db, self.rollout_id, m.name, self.id, scrub(str(e)))
            self.o.log(f"{m.name}: database busy, given back: {scrub(str(e))}")
            state, error = "", None
        except Exception as e:  # noqa: BLE001 - a member's failure must not kill the worker
            state, error = "failed", scrub(f"{type(e).__name__}: {e}")
        try:
            if state:
                scheduler.finish(self.db, self.rollout_id, m.name, self.id, state, error, a.step)
                self.o.log(f"{m.name}: {state}" + (f": {error}" if error else ""))
                assert self.result is not None
                {"applied": self.result.applied, "failed": self.result.failed,
                 "rolled_back": self.result.rolled_back}[state].append(m.name)
        finally:
            with self._lock:
                self.active.pop(m.name, None)
            self._wake.set()

    def _run_member(self, a: Active) -> tuple[str, str | None]:
        m = a.member
        plan = self.plan  # the runner keys a schema member's history by PLAN-ID@SCHEMA
        key = history_plan_id(plan.id or "", m.schema)
        journal = Journal(member_journal(self.o.workdir, self.fleet_name, key, m.name))

        def emit(ev: Any) -> None:
            a.seen(ev)
            journal.record(ev)

        runner = Runner(plan, m.dsn, emit=emit, control=a.control, operator=self.o.operator,
                        workdir=self.o.workdir, plan_text_checksum=self.o.plan_checksum)
        try:
            runner.open()
            if a.action == "rollback":
                out = runner.rollback(reason="fleet rollback")
                return ("rolled_back", None) if out.ok else ("failed", out.message)
            watch = self._watch(plan, m, a, runner, emit)
            try:
                out = runner.apply()
            finally:
                if watch is not None:
                    watch.stop()
            if a.control.rollback_requested:
                reason = a.control.rollback_reason
                a.control.reset()
                rb = runner.rollback(reason=reason)
                return "failed", scrub(f"tripped: {reason}; {rb.message}")
            if out.status == "done":
                return "applied", None
            return "failed", scrub(out.message)
        finally:
            runner.close()
            journal.close()

    def _watch(self, plan: Plan, m: Member, a: Active, runner: Runner, emit: Any) -> Any:
        if not self.o.gauges:
            return None
        from migtui.watch import Watch, has_gauges, headless_offer

        if not has_gauges(plan):
            return None
        # headless, an 'offer' trip rolls the member back (as `migtui run` does)
        return Watch(plan, m.dsn, emit=emit, control=a.control, captured=lambda: runner.captured,
                     on_offer=headless_offer(a.control, emit, True)).start()
