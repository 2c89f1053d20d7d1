"""The app's link to the core: one plan, one database, its journal, runner, sampler and guard.

No Textual here. Every blocking method is called from a thread worker; one lock
serialises the runner's work (it owns one connection). Events reach the app through
``subscribe``; they arrive on whichever thread produced them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtui import lint
from migtui.control import Cancelled, RunControl
from migtui.db import DsnError, database_name, resolve_dsn
from migtui.document import export_markdown
from migtui.events import (
    Event,
    EventBus,
    ItemFailed,
    ItemTicked,
    NoteAdded,
    ReportExported,
    RunFinished,
    RunStarted,
    StepProgress,
    StepSkipped,
)
from migtui.journal import Journal, journal_path, read_journal
from migtui.lint import Finding, TableSizes, derived_risks, lint_plan
from migtui.plan import plan_checksum
from migtui.plan.model import (
    ChecklistItem,
    Environment,
    Plan,
    RunBaseline,
    RunCheck,
    RunCommand,
    RunRehearse,
    RunSteps,
    RunWatch,
)
from migtui.rehearsal import (
    JOURNAL_KINDS,
    RehearsalError,
    RehearsalReport,
    rehearsal_gate,
    rehearse,
)
from migtui.runner import Outcome, Runner, RunnerError, StepStatus
from migtui.sampler import Baseline, Guard, Sampler, SamplerError, Snapshot
from migtui.secrets import redact_url, register_url, scrub
from migtui.state import RunState
from migtui.tui.model import SKIP_PREFIX, ItemResults, operator_skips
from migtui.watch import Watch


@dataclass(frozen=True)
class RehearsalChoice:
    """Where a rehearsal may run: never on production."""

    label: str  # what the operator reads
    target: str  # the target name recorded with the rehearsal ("--dsn" for the app's own)
    dsn: str



class Session:
    def __init__(self, plan_path: str | Path, plan: Plan, dsn: str | None = None,
                 target: str | None = None, operator: str = "operator",
                 plan_text_checksum: str | None = None, sample: bool = True) -> None:
        self.path = Path(plan_path)
        self.plan = plan
        self.plan_id = plan.id or self.path.stem
        self.target = target or plan.target_name
        self.operator = operator
        self.dsn = dsn
        self.plan_checksum = plan_text_checksum or plan_checksum(
            self.path.read_text(encoding="utf-8"))
        self.last_rehearsal: RehearsalReport | None = None
        self._rehearsal_control: RunControl | None = None
        self.on_rehearsal_event: Callable[[Event], None] | None = None  # progress display
        if dsn:
            register_url(dsn)
        self.database = database_name(dsn) if dsn else ""
        self.journal = Journal(journal_path(self.path, self.plan_id))
        records = list(read_journal(self.journal.path))
        self.state = RunState.from_records(records)
        self.items = ItemResults()
        for rec in records:
            self.items.apply(rec)
        self.skipped = operator_skips(records)
        self.baseline = Baseline.from_journal_records(records)
        self.bus = EventBus()
        self.bus.subscribe(self._record)
        self.control = RunControl()
        self.run_lock = threading.Lock()
        self.runner: Runner | None = None
        self.watch: Watch | None = None  # the gauges: sampler and guard, wired as for `run`
        self._on_snapshot: Callable[[Snapshot], None] | None = None
        self._closed = False
        self._run_started = False
        self.last_outcome = ""
        if dsn:
            self.runner = Runner(plan, dsn, emit=self.bus, control=self.control,
                                 operator=operator, confirm=None,
                                 workdir=self.path.resolve().parent,
                                 plan_text_checksum=plan_text_checksum)
            if sample:
                self.watch = Watch(plan, dsn, emit=self.bus, control=self.control,
                                   captured=lambda: self.runner.captured if self.runner
                                   else {}, on_snapshot=self._snapshot,
                                   journal_records=records, target=self.target)
        # the lint's findings beside each step; refined with table sizes once connected
        self.findings: list[Finding] = lint_plan(plan)
        self.risks = derived_risks(plan, self.findings)
        # offline, a guard still knows the thresholds the gauges panel shows
        self.guard = self.watch.guard if self.watch is not None else Guard(
            plan, emit=self.bus, control=self.control, baseline=self.baseline)
        self.sampler: Sampler | None = self.watch.sampler if self.watch is not None else None

    # ---------------------------------------------------------------- facts

    @property
    def online(self) -> bool:
        return self.runner is not None

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

    # ---------------------------------------------------------------- events

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self.bus.subscribe(fn)

    def on_snapshot(self, fn: Callable[[Snapshot], None]) -> None:
        self._on_snapshot = fn

    def _record(self, event: Event) -> None:
        rec = event.to_record()
        self.state.apply(rec)
        self.items.apply(rec)
        if isinstance(event, StepProgress) or self._closed:
            return  # too frequent for the journal; the history table has the progress
        with contextlib.suppress(OSError):
            self.journal.record(event)

    def _snapshot(self, snap: Snapshot) -> None:
        """After the guard has seen it (the Watch feeds the guard first)."""
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
            self.runner.open()
            statuses = self.runner.status()
        assert self.dsn is not None
        with contextlib.suppress(Exception):  # sizes only refine the findings
            self.findings = lint_plan(self.plan, sizes=TableSizes.read(self.dsn))
            self.risks = derived_risks(self.plan, self.findings)
        return statuses

    def step_findings(self, step_id: str) -> list[Finding]:
        return [f for f in self.findings if f.step_id == step_id]

    def statuses(self) -> list[StepStatus]:
        assert self.runner is not None
        with self.run_lock:
            return self.runner.status()

    def _started(self) -> None:
        if not self._run_started:
            self._run_started = True
            self.emit(RunStarted(plan_id=self.plan_id, target=self.target,
                                 database=self.database, operator=self.operator))

    def apply(self, step_ids: list[str]) -> Outcome:
        assert self.runner is not None
        with self.run_lock:
            self._started()
            ids = [s for s in step_ids if s not in self.skipped]
            out = self.runner.apply(ids) if ids else Outcome("done", "nothing to run")
            self.last_outcome = out.status
            return out

    def rollback(self, reason: str) -> Outcome:
        """Stop forward work at the next safe point, then undo every applied step."""
        assert self.runner is not None
        if self.run_lock.locked():
            self.control.request_rollback(reason)
        with self.run_lock:
            self._started()
            out = self.runner.rollback(reason=reason)
            self.last_outcome = out.status
        if out.steps:
            self._untick_rolled_back(set(out.steps))
        return out

    def _untick_rolled_back(self, steps: set[str]) -> None:
        """A ticked item whose steps were rolled back is no longer done."""
        for key, _heading, items in self.plan.checklists():
            for item in items:
                if (isinstance(item.run, RunSteps) and steps & set(item.run.steps)
                        and self.state.is_done(key, item)):
                    self.tick(key, item, False, "rolled back: " + ", ".join(
                        s for s in item.run.steps if s in steps))

    def run_item(self, checklist: str, item: ChecklistItem) -> Outcome:
        """Run a bound checklist item; tick it with its evidence when it succeeds."""
        key = f"{checklist}/{item.key}"
        action = item.run
        try:
            if isinstance(action, RunSteps):
                out = self.apply(list(action.steps))
                if out.status != "done":
                    self.emit(ItemFailed(item=key, error=out.message))
                    return out
                evidence = f"steps {', '.join(action.steps)}: {out.message}"
            elif isinstance(action, RunCheck):
                assert self.runner is not None
                with self.run_lock:
                    evidence = "check " + self.runner.check(action.check, action.expect)
            elif isinstance(action, RunCommand):
                assert self.runner is not None
                with self.run_lock:
                    evidence = "command " + self.runner.command(action.command, action.timeout,
                                                                key)
            elif isinstance(action, RunBaseline):
                evidence = self.capture_baseline(action.baseline)
            elif isinstance(action, RunWatch):
                evidence = self.watch_gauges(action.watch)
            elif isinstance(action, RunRehearse):
                choices = self.rehearsal_choices()
                if not choices:
                    raise ValueError(self.no_rehearsal_target())
                report = self.rehearse(choices[0])
                if not report.ok:
                    self.emit(ItemFailed(item=key, error=report.summary))
                    return Outcome("failed", report.summary)
                return Outcome("done", report.summary)  # the rehearsal ticked the item
            else:
                return Outcome("failed", "this item has no action: tick it with Space")
        except Cancelled as e:
            self.emit(ItemFailed(item=key, error=f"cancelled: {e}"))
            return Outcome("cancelled", str(e))
        except (RunnerError, SamplerError, RehearsalError, ValueError) as e:
            msg = scrub(str(e))
            self.emit(ItemFailed(item=key, error=msg))
            return Outcome("failed", msg)
        self.tick(checklist, item, True, evidence)
        return Outcome("done", evidence)

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

    # ---------------------------------------------------------------- rehearsal

    def rehearsal_status(self) -> tuple[str, str]:
        """("ok" | "missing" | "stale" | "failed", message) for the current plan text."""
        return rehearsal_gate(self.plan, self.path, self.plan_checksum)

    def _production_urls(self) -> set[str]:
        return {os.environ[t.dsn_env] for t in self.plan.targets.values()
                if t.environment == Environment.production and os.environ.get(t.dsn_env)}

    def rehearsal_choices(self) -> list[RehearsalChoice]:
        """Where a rehearsal may run, the plan's staging targets first; the app's own
        database only when its target is not production. Never a production URL."""
        out: list[RehearsalChoice] = []
        prod = self._production_urls()
        for name, tgt in self.plan.targets.items():
            if tgt.environment != Environment.staging:
                continue
            try:
                url = resolve_dsn(self.plan, None, name)
            except DsnError:
                continue
            if url not in prod and url != "postgresql://":
                register_url(url)
                out.append(RehearsalChoice(
                    f"target {name} ({tgt.environment.value}): {redact_url(url)}", name, url))
        if self.dsn and not self.production and self.dsn not in prod and not any(
                c.dsn == self.dsn for c in out):
            out.append(RehearsalChoice(f"this database, target {self.target}: "
                                       f"{self.display_dsn}", self.target, self.dsn))
        return out

    def no_rehearsal_target(self) -> str:
        envs = ", ".join(f"${t.dsn_env}" for t in self.plan.targets.values()
                         if t.environment == Environment.staging)
        return ("no staging database to rehearse on: set " + (envs or "a staging target's "
                "dsn_env") + ", or open the app on a non-production database")

    def rehearse(self, choice: RehearsalChoice,
                 on_event: Callable[[Event], None] | None = None) -> RehearsalReport:
        """Rehearse the plan on ``choice`` (blocking; takes the run lock). The rehearsal's
        own kinds go to the journal and the screens; the rest only to ``on_event``."""
        if choice.dsn in self._production_urls() or (choice.dsn == self.dsn
                                                      and self.production):
            raise RehearsalError("refusing to rehearse on production", code=2)

        listener = on_event or self.on_rehearsal_event

        def route(event: Event) -> None:
            if event.kind in JOURNAL_KINDS:
                self.emit(event)
            elif listener is not None:
                listener(event)

        control = RunControl()
        self._rehearsal_control = control
        own = self.runner is not None and choice.dsn == self.dsn
        with self.run_lock:
            if own:  # the runner's session lock on this database would stop the rehearsal
                assert self.runner is not None
                self.runner.close()
            try:
                report = rehearse(self.plan, self.path, choice.dsn, emit=route,
                                  control=control, target=choice.target,
                                  operator=self.operator)
            finally:
                self._rehearsal_control = None
                if own:
                    assert self.runner is not None
                    self.runner.open()
        self.last_rehearsal = report
        return report

    # ---------------------------------------------------------------- report

    def export_report(self) -> Path:
        """Write the plan and its journal as the filled-in template, next to the plan
        (``<plan>.report.md``). Blocking: reads table sizes when online."""
        sizes = None
        if self.dsn:
            with contextlib.suppress(Exception):  # sizes only sharpen the risk review
                sizes = lint.TableSizes.read(self.dsn)
        findings = lint.lint_plan(self.plan, sizes=sizes)
        text = export_markdown(self.plan, self.state, findings=findings,
                               risks=lint.derived_risks(self.plan, findings),
                               flags=lint.zero_downtime_flags(self.plan, findings),
                               plan_checksum=self.plan_checksum)
        out = self.path.with_name(f"{self.path.stem}.report.md")
        out.write_text(scrub(text), encoding="utf-8")
        self.emit(ReportExported(path=str(out), operator=self.operator))
        return out

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
            if self._run_started:
                self.emit(RunFinished(plan_id=self.plan_id, outcome=self.last_outcome or "done",
                                      message="app closed"))
            if self.runner is not None and got:
                self.runner.close()
        finally:
            if got:
                self.run_lock.release()
        if self.sampler is not None:
            self.sampler.stop(timeout=2.0)
        self._closed = True
        self.journal.close()

    def journal_records(self) -> list[dict[str, Any]]:
        return list(read_journal(self.journal.path))
