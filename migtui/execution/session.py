"""The app's link to the core: one plan, one database, its run, journal, runner and gauges.

No Textual here (it lived in ``tui/`` while claiming to be UI-free; the app now imports it
from the core). It holds one ``Run`` open for as long as the app runs: the same runner,
journal policy and Watch as ``migtui run``, and checklist items go through the same item
runner. Every blocking method is called from a thread worker; one lock serialises the
runner's work (it owns one connection). Events reach the app through ``subscribe``; they
arrive on whichever thread produced them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migtui.control import RunControl
from migtui.events import (
    Event,
    ItemTicked,
    NoteAdded,
    StepSkipped,
    ThresholdChanged,
    now,
)
from migtui.execution.confirm import ProductionQuestion, database_mismatch, production_question
from migtui.execution.folds import SKIP_PREFIX, ItemResults, operator_skips
from migtui.execution.items import run_item
from migtui.execution.link import Link
from migtui.execution.phases import run_phase
from migtui.execution.rehearsal_targets import (
    RehearsalChoice,
)
from migtui.execution.run import Run
from migtui.execution.session_actions import SessionActions
from migtui.execution.session_rehearsal import SessionRehearsal
from migtui.execution.step_traces import StepTraces, step_traces
from migtui.execution.trip import TripState, hold_before
from migtui.execution.watching import Watching, WatchUpdate, event_of
from migtui.journal import read_journal
from migtui.lint import Finding, TableSizes, derived_risks, lint_plan
from migtui.plan.model import ChecklistItem, Environment, Metric, Phase, Plan
from migtui.rehearsal import (
    RehearsalReport,
)
from migtui.runner import Outcome, RunLocked, Runner, StepStatus
from migtui.sampler import Baseline, Guard, Sampler, SamplerError, Snapshot
from migtui.secrets import redact_url, scrub
from migtui.state import RunState

__all__ = ["RehearsalChoice", "Session"]


class Session(SessionRehearsal):
    def __init__(self, plan_path: str | Path, plan: Plan, dsn: str | None = None,
                 target: str | None = None, operator: str = "operator",
                 plan_text_checksum: str | None = None, sample: bool = True,
                 exporter: Any = None) -> None:
        self.control = RunControl()
        self.run = Run(plan, plan_path, dsn, operator=operator, target=target,
                       control=self.control, checksum=plan_text_checksum, gauges=sample,
                       on_snapshot=self._snapshot, on_offer=self._offered,
                       exporter=exporter)
        self.path = self.run.path
        self.plan = plan
        self.plan_id = self.run.plan_id
        self.target = self.run.target
        self.operator = operator
        self.dsn = dsn
        self.database = self.run.database
        self.plan_checksum = self.run.checksum
        self.last_rehearsal: RehearsalReport | None = None
        self._rehearsal_control: RunControl | None = None
        self.on_rehearsal_event: Callable[[Event], None] | None = None  # progress display
        records = self.run.records
        self.state: RunState = self.run.state  # one fold: the run's, of every event
        self.trip = TripState()  # the banner's live state: tripping, recovered, rolled back
        self.trip_pause = ""  # the pause reason an offer trip set (cleared on resume)
        self.link = Link()  # is the database there: the gauges' view of the connection
        self.items = ItemResults()
        for rec in records:
            self.items.apply(rec)
        self.skipped = operator_skips(records)
        self.bus = self.run.bus
        self.bus.subscribe(self._record)
        self.run_lock = threading.Lock()
        self.runner: Runner | None = self.run.runner  # None once the database is lost
        self._exclusive = self.run.runner  # kept through watch mode, for the take-over
        # watch mode: another migtui run holds the lock; we read its history and journal
        self.watching: Watching | None = None
        self.watch = self.run.watch  # the gauges: sampler and guard, wired as for `run`
        self._on_snapshot: Callable[[Snapshot], None] | None = None
        self._closed = False
        self.last_outcome = ""
        # the lint's findings beside each step; refined with table sizes once connected
        self.findings: list[Finding] = lint_plan(plan)
        self.risks = derived_risks(plan, self.findings)
        # offline, a guard still knows the thresholds the gauges panel shows
        self.guard = self.watch.guard if self.watch is not None else Guard(
            plan, emit=self.bus, control=self.control,
            baseline=Baseline.from_journal_records(records))
        self.baseline = self.guard.baseline
        self.sampler: Sampler | None = self.watch.sampler if self.watch is not None else None

    # ---------------------------------------------------------------- facts

    @property
    def online(self) -> bool:
        return self.runner is not None

    @property
    def journal(self) -> Any:
        return self.run.journal.journal

    @property
    def display_dsn(self) -> str:
        return redact_url(self.dsn) if self.dsn else ""

    @property
    def production(self) -> bool:
        tgt = self.plan.targets.get(self.target)
        return tgt is not None and tgt.environment == Environment.production

    @property
    def expected_database(self) -> str:
        tgt = self.plan.targets.get(self.target)
        return self.database or (tgt.database if tgt and tgt.database else "")

    @property
    def database_mismatch(self) -> str | None:
        """The warning when the URL's database is not the one the target names."""
        return database_mismatch(self.plan, self.target, self.database)

    def production_question(self) -> ProductionQuestion | None:
        """The question to ask before changes on a production target (None otherwise);
        raises ``confirm.WrongDatabase`` when the URL points at another database."""
        return production_question(self.plan, self.target, self.database)

    # ---------------------------------------------------------------- events

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self.bus.subscribe(fn)

    def on_snapshot(self, fn: Callable[[Snapshot], None]) -> None:
        self._on_snapshot = fn

    def _record(self, event: Event) -> None:
        """Fold every event into what the screens show besides the run's state (the
        journal has its own policy)."""
        rec = event.to_record()
        self.items.apply(rec)
        self.trip.apply(event)

    def _offered(self, event: ThresholdChanged) -> None:
        """An ``offer`` trip (from the gauges' thread): the running job pauses before its
        next step or item; the operator resumes (p) or rolls back (R)."""
        ctl = self.control
        if ctl.rollback_requested or ctl.rolling_back or self.watching is not None:
            return  # a rollback is the answer already; watching: the other run's guard decides
        self.trip_pause = f"trip: {self.trip.describe(event)}"
        ctl.pause(self.trip_pause)

    @property
    def paused_by_trip(self) -> bool:
        return self.control.paused and self.control.pause_reason == self.trip_pause != ""

    def resume(self) -> None:
        self.control.resume()
        self.trip_pause = ""

    def _snapshot(self, snap: Snapshot) -> None:
        """After the guard has seen it (the Watch feeds the guard first)."""
        self.link.observe(snap)
        if self._on_snapshot is not None:
            self._on_snapshot(snap)

    def emit(self, event: Event) -> None:
        self.bus.emit(event)

    def tick(self, checklist: str, item: ChecklistItem, done: bool, evidence: str = "") -> None:
        self.emit(ItemTicked(item=f"{checklist}/{item.key}", done=done, operator=self.operator,
                             evidence=evidence))

    def note(self, text: str, channel: str = "run") -> None:
        self.emit(NoteAdded(text=scrub(text), author=self.operator, channel=channel))

    def skip(self, step_id: str, reason: str) -> None:
        self.skipped.add(step_id)
        self.emit(StepSkipped(step_id=step_id, reason=f"{SKIP_PREFIX}{reason} "
                                                       f"({self.operator})"))

    # ---------------------------------------------------------------- blocking work

    def start_sampler(self) -> None:
        if self.sampler is not None:
            self.sampler.start()

    def open(self) -> list[StepStatus]:
        """Connect the runner (takes the run lock) and read where the plan stands; size
        the lint's findings with the tables' real sizes."""
        assert self.runner is not None
        with self.run_lock:
            try:
                self.runner.open()
            except RunLocked as e:
                return self._watch(str(e))
            statuses = self.runner.status()
        assert self.dsn is not None
        with contextlib.suppress(Exception):  # sizes only refine the findings
            self.findings = lint_plan(self.plan, sizes=TableSizes.read(self.dsn))
            self.risks = derived_risks(self.plan, self.findings)
        return statuses

    # ---------------------------------------------------------------- watch mode

    def _watch(self, locked: str) -> list[StepStatus]:
        """Another run holds the lock: read, never write (the journal is the other
        run's), until the operator takes over."""
        assert self.dsn is not None
        self.runner = None
        self.run.journal.paused = True
        self.watching = Watching(self.plan, self.dsn, self.run.journal_path,
                                 known=len(self.run.records), locked=locked,
                                 plan_id=self.plan_id)
        return self.watching.runner.status()

    def watch_poll(self) -> WatchUpdate:
        """One watch round (blocking): the other run's new records are folded in as if
        they were ours; the update says what to show and whether the lock is free."""
        assert self.watching is not None
        update = self.watching.poll()
        for rec, event in zip(update.records, map(event_of, update.records), strict=True):
            self.state.apply(rec)
            self.items.apply(rec)
            if event is not None:
                self.trip.apply(event)
        return update

    def take_over(self) -> list[StepStatus]:
        """Leave watch mode: open exclusively (back in watch mode if another run took the
        lock first) and read where the plan stands."""
        if self.watching is not None:
            self.watching.close()
            self.watching = None
        self.run.journal.paused = False
        self.runner = self._exclusive
        return self.open()

    def step_findings(self, step_id: str) -> list[Finding]:
        return [f for f in self.findings if f.step_id == step_id]

    def step_traces(self, step_id: str) -> StepTraces | None:
        """The locks the newest rehearsal of this plan text measured for the step."""
        return step_traces(self.state.rehearsals, self.plan_checksum, step_id)

    def statuses(self) -> list[StepStatus]:
        assert self.runner is not None
        with self.run_lock:
            return self.runner.status()

    def apply(self, step_ids: list[str]) -> Outcome:
        assert self.runner is not None
        with self.run_lock:
            self.run.start()
            ids = [s for s in step_ids if s not in self.skipped]
            out = self._apply(ids) if ids else Outcome("done", "nothing to run")
            self.last_outcome = out.status
            return out

    def _apply(self, ids: list[str]) -> Outcome:
        """One step at a time, so a pause (an ``offer`` trip, p) holds before the next."""
        assert self.runner is not None
        done: list[str] = []
        for i, sid in enumerate(ids):
            held = hold_before(self.control, f"step {sid}", self.emit) if i else None
            out = held or self.runner.apply([sid])
            done.extend(out.steps)
            if not out.ok:
                return Outcome(out.status, out.message, out.failed_step, tuple(done))
        return Outcome("done", f"{len(done)} step(s) applied", steps=tuple(done))

    def phase_todo(self, phase: Phase) -> list[ChecklistItem]:
        """The phase's items bound to an action and not done yet: what running it runs."""
        key = f"phases.{phase.key}"
        return [i for i in phase.items if i.run is not None and not self.state.is_done(key, i)]

    def run_phase(self, phase: Phase) -> Outcome:
        """The phase's items still to do, in order (blocking), through the one phase runner:
        it stops at a failure and holds before the next item while the run is paused."""
        assert self.runner is not None
        self.trip.work_started(now())  # a recovered or rolled-back banner no longer holds
        todo = self.phase_todo(phase)
        return run_phase(SessionActions(self), phase, select=lambda i: i in todo).outcome

    def rollback(self, reason: str) -> Outcome:
        """Stop forward work at the next safe point, then undo every applied step: the
        operator's (or a trigger's) request, answered as a headless run answers it."""
        assert self.runner is not None
        self.control.request_rollback(reason)
        if self.paused_by_trip:
            # the rollback answers the trip: a job paused by it stops at its next check (the
            # rollback was requested first), and the rollback's own batches must not wait
            self.resume()
        with self.run_lock:
            self.run.start()
            out = self.run.rollback_if_requested(Outcome("done", "nothing to roll back"))
            self.last_outcome = out.status
        return out

    def trip_rollback(self, event: ThresholdChanged, lost: bool) -> str | None:
        """What the app does on a trip with the ``rollback`` policy: the reason to roll
        back now, or None (no connection: ``lost``; watch mode: the other run's guard
        decides; a rollback already runs; another policy)."""
        if (event.state != "trip" or event.policy != "rollback" or not self.online
                or lost or self.control.rolling_back):
            return None
        return f"automatic: {event.trigger or Metric(event.metric).label} tripped"

    def run_item(self, checklist: str, item: ChecklistItem) -> Outcome:
        """Run a bound checklist item (the one item runner); it ticks it with its evidence
        when it succeeds."""
        if item.run is None:
            return Outcome("failed", "this item has no action: tick it with Space")
        assert self.runner is not None
        self.trip.work_started(now())
        r = run_item(SessionActions(self), checklist, item)
        if r.outcome is not None:
            return r.outcome
        return Outcome("done" if r.status == "done" else r.status, r.message)

    def capture_baseline(self, seconds: float) -> str:
        if self.watch is None:
            raise SamplerError("no gauges: the app runs without a database or sampler")
        evidence = self.watch.capture_baseline(seconds)
        self.baseline = self.guard.baseline
        return evidence

    def watch_gauges(self, seconds: float) -> str:
        """For ``watch: 2m`` items: fails (RunnerError) if a rollback trigger trips."""
        if self.watch is None:
            raise SamplerError("no gauges: the app runs without a database or sampler")
        return self.watch.watch_for(seconds)

    # ---------------------------------------------------------------- report

    def export_report(self) -> Path:
        """Write the plan and its journal as the filled-in template, next to the plan
        (``<plan>.report.md``). Blocking: reads table sizes when online."""
        return self.run.export_report(self.state)

    # ---------------------------------------------------------------- steering

    @property
    def busy(self) -> bool:
        return self.run_lock.locked()

    def cancel(self, reason: str = "cancelled by operator") -> None:
        self.control.cancel(reason)
        rc = self._rehearsal_control
        if rc is not None:
            rc.cancel(reason)

    def close(self, wait: float = 10.0) -> None:
        """Cancel what runs, let it record its end, then disconnect. Idempotent."""
        if self._closed:
            return
        if self.run_lock.locked():
            self.control.cancel("the app is closing")
        got = self.run_lock.acquire(timeout=wait)
        try:
            self.run.finish(self.last_outcome or "done", "app closed")
            if self.runner is not None and got:
                self.runner.close()
        finally:
            if got:
                self.run_lock.release()
        if self.sampler is not None:
            self.sampler.stop(timeout=2.0)
        if self.watching is not None:
            self.watching.close()
        self._closed = True
        self.run.journal.close()

    def journal_records(self) -> list[dict[str, Any]]:
        return list(read_journal(self.run.journal_path))
