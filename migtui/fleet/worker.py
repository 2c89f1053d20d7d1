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

import psycopg

from migtui.control import RunControl
from migtui.events import StepProgress, StepStarted, ThresholdChanged
from migtui.fleet import scheduler
from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.members import Member
from migtui.fleet.scheduler import Held
from migtui.fleet.soak import Soak, SoakResult, soak_members
from migtui.fleet.soak import record as record_soak
from migtui.journal import Journal
from migtui.plan.model import Plan
from migtui.runner import Runner
from migtui.runner.conn import first_line
from migtui.runner.errors import DatabaseUnavailable, RunLocked
from migtui.runner.history import history_plan_id
from migtui.sampler.snapshot import format_value
from migtui.secrets import scrub

# A finishing member wakes the loop, but ticks are at least TICK apart (or half the
# heartbeat, if shorter): a slot is refilled within a second of its member finishing, and a
# worker sends at most ~2 statements per tick (the sync, and a claim when there is room),
# whatever its concurrency. Without a finish, the loop ticks once per heartbeat.
TICK = 1.0
# control-database failures a tick survives (retried until the heartbeat timeout)
TRANSIENT = (psycopg.OperationalError, psycopg.errors.TransactionRollback,
             DatabaseUnavailable)


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
    ticks: int = 0
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
        self._ended: dict[str, Held] = {}  # members finished, recorded on the next tick
        self._sent: dict[str, tuple[str | None, ...]] = {}  # what the view was last sent
        self._soak: Soak | None = None
        self._soaks_done: set[int] = set()  # waves whose soak outcome this worker recorded
        self._cannot_soak: set[int] = set()  # waves none of whose members this worker knows
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.result: WorkerResult | None = None

    def stop(self) -> None:
        """Stop claiming; cancel the members in flight at their next safe point."""
        self._stop.set()
        if self._soak is not None:
            self._soak.stop()
        with self._lock:
            for a in self.active.values():
                a.control.cancel("the fleet worker is stopping")
        self._wake.set()

    def run(self) -> WorkerResult:
        t0, q0 = time.monotonic(), self.db.queries
        from migtui.watch import has_gauges

        soaker = self.o.gauges and not self.o.only_rollbacks and has_gauges(self.plan)
        self.db.register_worker(self.id, self.rollout_id, socket.gethostname(), os.getpid(),
                                soaker)
        res = WorkerResult(rollout=self.db.rollout(self.rollout_id))  # type: ignore[arg-type]
        self.result = res
        last_beat = 0.0
        down: float | None = None  # since when the control database fails
        while True:
            now = time.monotonic()
            beat = now - last_beat >= self.o.heartbeat * 0.9
            held, ended = self._held(beat)
            limit = self.o.max_threads or res.rollout.concurrency
            with self._lock:
                running = len(self.active)
            free = 0 if self._stop.is_set() else max(0, limit - running)
            res.ticks += 1
            try:
                t = scheduler.tick(self.db, self.rollout_id, self.id, held, free, beat=beat,
                                   ticks=res.ticks, sent=self.db.queries - q0,
                                   soaker=soaker and not self._stop.is_set(),
                                   soaking=self._soak.wave if self._soak and self._soak.running
                                   else None, cannot_soak=frozenset(self._cannot_soak))
            except TRANSIENT as e:
                down = self._control_down(e, down, res.rollout.timeout)
                continue
            if down is not None:
                self.o.log(f"control database: back after {time.monotonic() - down:.1f}s")
                down = None
            if beat:
                last_beat = now
            self._recorded(ended, set(t.recorded))
            res.rollout = t.rollout
            self._steer_soak(t)
            for c in t.claims:
                if c.name not in self.members or (self.o.only_rollbacks and c.action == "apply"):
                    self._unknown(c.name, c.action)
                    continue
                self._start(c.name, c.action, c.takeover)
            with self._lock:
                busy = len(self.active) + len(self._ended)
            busy += bool(self._soak and self._soak.running)
            if not busy and not t.claims and self._finished(t):
                break
            self._wake.wait(self.o.heartbeat if busy or not self._stop.is_set() else 0.1)
            self._wake.clear()
            time.sleep(max(0.0, min(TICK, self.o.heartbeat / 2) - (time.monotonic() - now)))
        res.seconds = time.monotonic() - t0
        res.queries = self.db.queries + 1 - q0
        self.db.q("UPDATE migtui_fleet.worker SET heartbeat = now(), queries = %s, ticks = %s "
                  "WHERE id = %s", (res.queries, res.ticks, self.id))
        return res

    def _control_down(self, e: Exception, since: float | None, timeout: float) -> float:
        """A tick failed on the control database (a dropped connection, a deadlock): the
        members in flight go on and the tick is retried with backoff, for as long as the
        rollout's heartbeat timeout. Past it, other workers take this one's members over,
        so it stops them at their next safe point and gives up (exit 1)."""
        now = time.monotonic()
        since = now if since is None else since
        why = first_line(e)
        if now - since > timeout:
            self.o.log(f"control database: {why}; unreachable for {now - since:.0f}s, past "
                       f"the heartbeat timeout ({timeout:g}s): stopping this worker")
            self.stop()
            with self._lock:
                threads = [a.thread for a in self.active.values() if a.thread]
            for th in threads:
                th.join(timeout=60)
            raise e
        wait = min(timeout / 3, 0.5 * 2 ** min(6, int(now - since)))
        self.o.log(f"control database: {why}; retrying in {wait:.1f}s (members in flight "
                   f"go on)")
        time.sleep(wait)  # also when stopping: the finishes still have to be recorded
        return since

    def _held(self, beat: bool) -> tuple[list[Held], list[str]]:
        """What this tick reports: every member held when the heartbeat is due, else only
        those whose shown values changed; and every member that finished since."""
        out: list[Held] = []
        with self._lock:
            ended = dict(self._ended)
            for n, a in self.active.items():
                shown = (a.step, a.progress, a.worst_gauge)
                changed = self._sent.get(n) != shown
                if beat or changed:
                    out.append(Held(n, a.step, a.progress, a.worst_gauge, changed))
                    self._sent[n] = shown
        out += ended.values()
        return out, list(ended)

    def _recorded(self, ended: list[str], recorded: set[str]) -> None:
        with self._lock:
            for n in ended:
                h = self._ended.pop(n)
                self._sent.pop(n, None)
                if n not in recorded:
                    self.o.log(f"{n}: {h.final} here, but another worker had taken it over")

    # ---------------------------------------------------------------- the soak gate

    def _steer_soak(self, t: scheduler.TickResult) -> None:
        """Start sampling the wave whose soak this worker took; stop a soak that is no
        longer this worker's (the wave failed or stopped, another worker took it over)."""
        s = self._soak
        if s is not None and s.running:
            w = next((w for w in t.waves if w.n == s.wave), None)
            if (self._stop.is_set() or w is None or w.state != "soaking"
                    or w.soak_worker != self.id):
                s.stop()
        n = t.soak
        if n is None and not self._stop.is_set() and (s is None or not s.running):
            # a soak still ours whose outcome was not recorded (the control database was
            # unreachable then): sample it again
            n = next((w.n for w in t.waves if w.state == "soaking"
                      and w.soak_worker == self.id and w.n not in self._soaks_done), None)
        if n is None:
            return
        if s is not None:
            s.stop()
        members, total = soak_members(self.db, self.rollout_id, n, self.members, self.id)
        if not members:  # it would watch nothing: give the soak up to a worker that can
            self._cannot_soak.add(n)
            self.o.log(f"wave {n}: this worker knows none of its {total} member(s); the "
                       f"soak is left to a worker that does (else its timer alone)")
            return
        self.o.log(f"wave {n}: soaking {t.rollout.soak:g}s, gauges on {len(members)} "
                   f"of {total} member(s)")
        self._soak = Soak(self.plan, n, members, t.rollout.soak, self._soaked).start()

    def _soaked(self, res: SoakResult) -> None:
        assert self.result is not None
        try:
            got = record_soak(self.db, self.result.rollout, self.id, res)
            self._soaks_done.add(res.wave)
        except Exception as e:  # noqa: BLE001 - the next tick samples it again
            self.o.log(f"wave {res.wave}: the soak's outcome was not recorded: "
                       f"{scrub(str(e))}")
            got = None
        if got is not None:
            self.o.log(f"wave {res.wave}: " + (
                f"the gate failed: {res.why}" if res.failed else
                f"the gate passed ({len(res.sampled)} member(s) watched for "
                f"{res.seconds:.0f}s)"))
        self._wake.set()

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
            if name in self.active:  # its thread still runs it (the claim never hands a
                return               # worker its own member; this only guards)
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
            state, error = "", None
            try:
                scheduler.release(self.db, self.rollout_id, m.name, self.id, scrub(str(e)))
                self.o.log(f"{m.name}: database busy, given back: {scrub(str(e))}")
            except Exception as ce:  # noqa: BLE001 - the control database is away
                self.o.log(f"{m.name}: database busy ({scrub(str(e))}); it could not be "
                           f"given back ({scrub(str(ce))}): its claim lapses without a "
                           f"heartbeat and it is claimed again")
        except Exception as e:  # noqa: BLE001 - a member's failure must not kill the worker
            state, error = "failed", scrub(f"{type(e).__name__}: {e}")
        with self._lock:  # the next tick records it, with the others that finished
            if state:
                self._ended[m.name] = Held(m.name, a.step, final=state, error=error)
            self.active.pop(m.name, None)
        if state:
            self.o.log(f"{m.name}: {state}" + (f": {error}" if error else ""))
            assert self.result is not None
            {"applied": self.result.applied, "failed": self.result.failed,
             "rolled_back": self.result.rolled_back}[state].append(m.name)
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
