"""Opening and closing a run: one plan, one database, its runner, journal and gauges.

``Run`` is what every consumer that runs a plan holds — ``migtui run`` and ``rollback``,
the demo's story, the app's session:

* the target, the database name, the plan's checksum;
* one ``EventBus``; the journal subscribes to it through the one journal policy;
* the ``Runner`` (it takes the advisory lock on ``open``) and, with gauges, the ``Watch``;
* ``RunStarted`` once, when the first work starts, and ``RunFinished`` when it ends;
* the gauges' series for the journal (``GaugeSample``, downsampled by ``GaugeRecorder``);
* optionally a metrics exporter (``migtui.metrics.MetricsExporter``, or anything with
  ``on_event(event)`` and ``observe(snapshot, states)``): subscribed to the bus, and fed
  each snapshot with the guard's states after it.

``execute`` is the headless forward run built on it: open, watch, the steps or the
phases, rollback when asked, finish. No Textual here: the app subscribes to the bus.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migtui.control import RunControl
from migtui.db import database_name
from migtui.events import (
    Emit,
    Event,
    EventBus,
    ItemTicked,
    ReportExported,
    RunFinished,
    RunStarted,
    ThresholdChanged,
)
from migtui.execution.describe import secs
from migtui.execution.items import ItemActions
from migtui.execution.journal_policy import JournalWriter
from migtui.execution.phases import forward
from migtui.execution.rollback import rollback_if_requested, untick_rolled_back
from migtui.journal import journal_path, read_journal
from migtui.plan import Plan, plan_checksum
from migtui.plan.model import Phase
from migtui.runner import Outcome, Runner, RunnerError
from migtui.sampler import Snapshot
from migtui.sampler.gauge_samples import DEFAULT_EVERY, GaugeRecorder
from migtui.secrets import register_url
from migtui.state import RunState
from migtui.watch import Watch, headless_offer


class Run:
    """One plan on one database (``dsn`` None: offline, journal only)."""

    def __init__(self, plan: Plan, plan_path: str | Path, dsn: str | None, *,
                 operator: str, target: str | None = None, control: RunControl | None = None,
                 confirm: Callable[[str], bool] | None = None,
                 checksum: str | None = None, gauges: bool = True,
                 auto_rollback: bool | None = None,
                 on_offer: Callable[[ThresholdChanged], None] | None = None,
                 on_snapshot: Callable[[Snapshot], None] | None = None,
                 fresh_journal: bool = False, subscribers: Iterable[Emit] = (),
                 exporter: Any = None, gauge_every: float = DEFAULT_EVERY) -> None:
        self.plan = plan
        self.path = Path(plan_path)
        self.plan_id = plan.id or self.path.stem
        self.target = target or plan.target_name
        self.operator = operator
        self.dsn = dsn
        if dsn:
            register_url(dsn)
        self.database = database_name(dsn) if dsn else ""
        self.checksum = checksum or plan_checksum(self.path.read_text(encoding="utf-8"))
        self.control = control or RunControl()
        self.bus = EventBus()
        jpath = journal_path(self.path, self.plan_id)
        if fresh_journal:
            jpath.unlink(missing_ok=True)
        self.records: list[dict[str, Any]] = list(read_journal(jpath))  # before this run
        # what the journal says, then this run's events: ticks (for untick), notes, results;
        # the app's session reads this one fold
        self.state = RunState.from_records(self.records)
        self.journal = JournalWriter(jpath)
        self.bus.subscribe(self.journal)
        self.bus.subscribe(self._fold)
        for fn in subscribers:
            self.bus.subscribe(fn)
        self.exporter = exporter
        if exporter is not None:
            if getattr(exporter, "control", False) is None:
                exporter.control = self.control  # its throttle and paused gauges
            self.bus.subscribe(exporter.on_event)
        self.gauge_recorder = GaugeRecorder(self.bus, every=gauge_every)
        self.bus.subscribe(self.gauge_recorder)
        self._on_snapshot = on_snapshot
        self.started = False
        self.opens = 0  # times ``working`` connected
        self._t0 = time.monotonic()
        self.runner: Runner | None = None
        self.watch: Watch | None = None
        if not dsn:
            return
        self.runner = Runner(plan, dsn, emit=self.bus, control=self.control,
                             operator=operator, confirm=confirm,
                             workdir=self.path.resolve().parent, plan_text_checksum=checksum)
        if gauges:
            if auto_rollback is not None and on_offer is None:
                on_offer = headless_offer(self.control, self.bus, auto_rollback)
            runner = self.runner
            self.watch = Watch(plan, dsn, emit=self.bus, control=self.control,
                               captured=lambda: runner.captured, on_offer=on_offer,
                               on_snapshot=self._snapshot, journal_records=self.records,
                               target=self.target)

    def _snapshot(self, snap: Snapshot) -> None:
        """After the guard has seen ``snap``: the journal's series, the exporter, the
        caller's own callback."""
        self.gauge_recorder.on_snapshot(snap)
        if self.exporter is not None and self.watch is not None:
            self.exporter.observe(snap, self.watch.guard.states)
        if self._on_snapshot is not None:
            self._on_snapshot(snap)

    @property
    def journal_path(self) -> Path:
        return self.journal.path

    def emit(self, event: Event) -> None:
        self.bus.emit(event)

    def subscribe(self, fn: Emit) -> Callable[[], None]:
        return self.bus.subscribe(fn)

    def start(self, action: str = "run") -> None:
        """``RunStarted``, once: when the first work of this run begins (``action``:
        ``rollback`` for ``migtui rollback``, so its header does not say "run")."""
        if self.started:
            return
        self.started = True
        self._t0 = time.monotonic()
        self.emit(RunStarted(plan_id=self.plan_id, target=self.target,
                             database=self.database, operator=self.operator, action=action,
                             pid=os.getpid(), host=socket.gethostname()))

    def finish(self, outcome: str, message: str) -> None:
        """``RunFinished`` (only after ``start``)."""
        if self.started:
            self.emit(RunFinished(plan_id=self.plan_id, outcome=outcome, message=message))

    def finish_timed(self, outcome: Outcome) -> None:
        """``RunFinished`` with the outcome's message and how long the run took."""
        self.finish(outcome.status, f"{outcome.message} ({secs(time.monotonic() - self._t0)})")

    def actions(self, **overrides: Any) -> ItemActions:
        """What this run's checklist items can do (the gauges when watching)."""
        assert self.runner is not None, "offline: no runner"
        return ItemActions(self.runner, watch=self.watch, **overrides)

    def _fold(self, event: Event) -> None:
        self.state.apply(event.to_record())

    def untick(self, steps: Iterable[str]) -> None:
        """Every rollback (R, a trip's, ``migtui rollback``): a ticked item whose steps were
        rolled back is no longer done, so the app's ``a`` runs it again (a headless rollback
        left 'Execute migration scripts' ticked, and ``a`` said the phase was done)."""
        untick_rolled_back(self.plan, self.state, steps, lambda key, item, done, why: self.emit(
            ItemTicked(item=f"{key}/{item.key}", done=done, operator=self.operator,
                       evidence=why)))

    def rollback(self, to: str | None = None, reason: str = "") -> Outcome:
        """``migtui rollback``: the applied steps (down to ``to``), last first; unticks."""
        assert self.runner is not None
        out = self.runner.rollback(to, reason)
        self.untick(out.steps)
        return out

    def rollback_if_requested(self, outcome: Outcome) -> Outcome:
        """The rollback a trigger or the operator asked for, if one did; unticks."""
        assert self.runner is not None
        if not self.control.rollback_requested:
            return outcome
        out = rollback_if_requested(self.runner, self.control, outcome)
        self.untick(out.steps)
        return out

    def export_report(self, state: RunState, out: str | Path | None = None) -> Path:
        """The filled-in document (``execution.report``), at ``out`` or next to the plan;
        journaled as ``ReportExported``. Blocking: reads table sizes when online."""
        from migtui.execution.report import default_report_path, write_report  # lazy: heavy

        path = write_report(self.plan, state, out or default_report_path(self.path),
                            dsn=self.dsn, plan_checksum=self.checksum)
        self.emit(ReportExported(path=str(path), operator=self.operator))
        return path

    def close(self) -> None:
        """Stop the gauges, disconnect (releases the lock), close the journal."""
        try:
            if self.watch is not None:
                self.watch.stop()
        finally:
            try:
                if self.runner is not None:
                    self.runner.close()
            finally:
                self.journal.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def working(run: Run, prepare: Callable[[Runner], None] | None = None) -> Iterator[Runner]:
    """The run's working part: ``RunStarted``, connect (takes the advisory lock),
    ``prepare(runner)`` when given (before the gauges watch: the demo's clean start), start
    the gauges; on leaving, the gauges stop and the runner disconnects (the lock is freed).
    Raises ``RunnerError`` when it cannot connect (after ``RunStarted``)."""
    runner = run.runner
    assert runner is not None, "working needs a database"
    run.start()
    runner.open()
    run.opens += 1
    try:
        if prepare is not None:
            prepare(runner)
        if run.watch is not None:
            run.watch.start()
        yield runner
    finally:
        if run.watch is not None:
            run.watch.stop()
        runner.close()


def forward_run(run: Run, phases: Sequence[Phase] | None,
                on_phase: Callable[[Phase], None] | None = None, **overrides: Any) -> Outcome:
    """The forward work (all steps, or the phases' checklists), then the rollback when a
    trigger or the operator asked for one. ``overrides`` go to ``ItemActions``."""
    outcome = forward(run.actions(**overrides), phases, on_phase)
    return run.rollback_if_requested(outcome)


def execute(run: Run, phases: Sequence[Phase] | None = None,
            work: Callable[[Runner], Outcome] | None = None, **overrides: Any) -> Outcome:
    """The headless run: ``working``, the work, ``RunFinished``. The work is ``work(runner)``
    when given (``migtui rollback``), else ``forward_run`` of all steps (``phases`` None) or
    the phases' checklists. A database that cannot be opened is the run's failed outcome.
    Closes nothing: the caller closes the run."""
    opens = run.opens
    try:
        with working(run) as runner:
            outcome = work(runner) if work is not None else forward_run(run, phases,
                                                                        **overrides)
    except RunnerError as e:
        if run.opens > opens:
            raise  # the work's own error, not the connection's
        outcome = Outcome("failed", str(e))
    run.finish_timed(outcome)
    return outcome
