"""The Runner: apply, roll back, dry-run and report a plan's steps against one database.

UI-agnostic (no Textual): the TUI, the headless CLI and rehearsal drive it, and every
observer (journal, printer, TUI) follows it through the events it emits. Methods block;
call them from a worker thread, and steer with ``RunControl`` (or ``cancel()``) from others.

Connections (all ``application_name=migtui``): one runs the work and, with ``exclusive=True``
(the default), holds the per-database run lock (``WorkSession``; verified before every step and
every backfill batch, so a run whose lock went away stops with LockLost instead of running
beside a second run), and a short-lived one sends ``pg_cancel_backend`` on cancel.

This module is the façade (lifecycle, queries, apply, the helpers for phases, cancel); running
and recording one step is in ``step_run``, the rollback in ``rollback_run``, the dry run in
``dry_run``, and what they return in ``outcome``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from migtui.control import RunControl
from migtui.db import database_name
from migtui.events import Emit, StepOutput, StepSkipped
from migtui.plan.model import Plan, Step
from migtui.runnable import step_problems
from migtui.runner import history, prisma
from migtui.runner.checks import evaluate, query_value
from migtui.runner.commands import check_exit, run_command
from migtui.runner.conn import connect, first_line
from migtui.runner.context import Ctx, Timeouts, WorkSession
from migtui.runner.dry_run import planned_statements
from migtui.runner.errors import DatabaseUnavailable, NotExecutable, RunnerError
from migtui.runner.history import StepStatus
from migtui.runner.outcome import Outcome, PlannedStatement
from migtui.runner.rollback_run import RollbackRunning
from migtui.secrets import scrub

if TYPE_CHECKING:
    from migtui.trace import Tracer

__all__ = ["Outcome", "PlannedStatement", "Runner"]


def _noop(_e: Any) -> None:
    pass


class Runner(RollbackRunning):
    """Apply, roll back, dry-run and report ``plan`` against the database at ``dsn``."""

    def __init__(self, plan: Plan, dsn: str, emit: Emit | None = None,
                 control: RunControl | None = None, operator: str = "operator",
                 confirm: Callable[[str], bool] | None = None, workdir: str | Path | None = None,
                 plan_text_checksum: str | None = None, *, exclusive: bool = True,
                 tracer: Tracer | None = None) -> None:
        self.plan = plan
        self.dsn = dsn
        self.emit: Emit = emit or _noop
        self.control = control or RunControl()
        self.operator = operator
        self.confirm = confirm
        self.exclusive = exclusive
        self.database = database_name(dsn)
        checksum = plan_text_checksum or hashlib.sha256(
            plan.model_dump_json().encode()).hexdigest()
        self._ctx = Ctx(plan=plan, dsn=dsn, emit=self._emit, control=self.control,
                        operator=operator, run_id=str(uuid.uuid4()), plan_checksum=checksum,
                        workdir=Path(workdir or "."),
                        work=WorkSession(dsn, exclusive=exclusive, database=self.database),
                        tracer=tracer)
        self._remove_hook: Callable[[], None] | None = None
        self._opened = False

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Runner:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect; with ``exclusive``, take the run lock and create the history schema."""
        if self._opened:
            return
        try:
            conn = self._ctx.work.conn  # takes the run lock when exclusive
            if self.exclusive:
                history.ensure_schema(conn)
            self._ctx.captured.update(
                history.captured_values(history.rows_for(conn, self._ctx.plan_id)))
        except psycopg.Error as e:
            self.close()
            raise DatabaseUnavailable(f"cannot read migtui's history: {first_line(e)}") from None
        except BaseException:
            self.close()
            raise
        self._remove_hook = self.control.on_cancel(self._cancel_backend)
        self._opened = True

    def close(self) -> None:
        if self._remove_hook:
            self._remove_hook()
            self._remove_hook = None
        self._ctx.work.close()  # releases the run lock
        self._opened = False

    def _require_open(self) -> None:
        if not self._opened:
            self.open()
        # a cancel of earlier work still on its way lands before this work's statements
        self.control.settle()

    # ---------------------------------------------------------------- queries

    @property
    def captured(self) -> dict[str, Any]:
        return dict(self._ctx.captured)

    @property
    def run_id(self) -> str:
        return self._ctx.run_id

    def history(self) -> list[history.HistoryRow]:
        self._require_open()
        return history.rows_for(self._ctx.work.conn, self._ctx.plan_id)

    def status(self) -> list[StepStatus]:
        self._require_open()
        last = history.latest(self.history())
        conn = self._ctx.work.conn
        out = []
        for s in self.plan.steps:
            saved = (history.progress(conn, self._ctx.plan_id, s.id, "rollback")
                     if s.rollback_backfill is not None else None)
            out.append(history.status_of(s, last.get(s.id),
                                         (saved[0], saved[2]) if saved else None))
        return out

    def problems(self, step_ids: Sequence[str] | None = None) -> list[str]:
        """Why steps cannot run as written (no database needed). Empty when fine."""
        return [str(p) for step in self._steps(step_ids) for p in step_problems(step)]

    def _steps(self, step_ids: Sequence[str] | None) -> list[Step]:
        if step_ids is None:
            return list(self.plan.steps)
        out = []
        for sid in step_ids:
            try:
                out.append(self.plan.step(sid))
            except KeyError:
                raise NotExecutable(f"unknown step {sid!r}; the plan has: "
                                    f"{', '.join(s.id for s in self.plan.steps)}") from None
        return out

    # ---------------------------------------------------------------- dry run
    def dry_run(self, step_ids: Sequence[str] | None = None) -> list[PlannedStatement]:
        """Every statement the apply would run, with its transaction mode and lock.

        Changes nothing. When the Runner is open, steps already applied are left out.
        """
        applied: set[str] = set()
        if self._opened:
            applied = {s.step_id for s in self.status() if s.state == "applied"}
        return planned_statements(s for s in self._steps(step_ids) if s.id not in applied)

    # ---------------------------------------------------------------- apply

    def apply(self, step_ids: Sequence[str] | None = None) -> Outcome:
        """Apply steps in order (all when None), skipping applied ones."""
        try:
            steps = self._steps(step_ids)
        except NotExecutable as e:
            return Outcome("failed", str(e))
        problems = self.problems([s.id for s in steps])
        if problems:
            return Outcome("failed", "; ".join(problems))
        try:
            self._require_open()
            self._ctx.work.pin()
            statuses = {s.step_id: s for s in self.status()}
        except (RunnerError, psycopg.Error) as e:
            return Outcome("failed", scrub(str(e)))
        halfway = [s for s in statuses.values() if s.rolling_back]
        if halfway:
            names = ", ".join(f"{s.step_id} (after key {s.rolling_back[0]})"
                              for s in halfway if s.rolling_back)
            return Outcome("failed", f"refusing to run: the rollback of {names} stopped "
                           f"part-way; finish it first (migtui rollback resumes it from its "
                           f"last committed batch)", failed_step=halfway[0].step_id)
        changed = [statuses[s.id] for s in steps if statuses[s.id].changed]
        if changed:
            diffs = "\n".join(c.diff for c in changed)
            names = ", ".join(c.step_id for c in changed)
            return Outcome("failed", f"refusing to run: step(s) {names} changed since they were "
                           f"applied. Roll them back first, or restore their SQL:\n{diffs}",
                           failed_step=changed[0].step_id)
        try:
            by_prisma = (prisma.applied_rows(self._ctx.work.conn)
                         if any(s.prisma for s in steps) else {})
        except psycopg.Error as e:
            return Outcome("failed", f"cannot read _prisma_migrations: {first_line(e)}")
        self.control.reset()
        done: list[str] = []
        for step in steps:
            if self.control.rollback_requested:
                return Outcome("rollback_requested", self.control.rollback_reason,
                               steps=tuple(done))
            st = statuses[step.id]
            row = by_prisma.get(step.prisma.migration_name) if (
                step.prisma is not None and st.state != "applied") else None
            if row is not None and step.prisma is not None:
                if row.checksum != step.prisma.checksum:
                    msg = prisma.checksum_conflict(
                        row.migration_name, row.checksum, step.prisma.checksum,
                        prisma.applied_body(self._ctx.work.conn, step.id), history.step_body(step))
                    return Outcome("failed", msg, step.id, tuple(done))
                when = row.finished_at.strftime("%Y-%m-%d %H:%M") if row.finished_at else "?"
                self._emit(StepSkipped(step_id=step.id, reason=(
                    f"already applied by Prisma ({when}): _prisma_migrations has it with the "
                    f"same checksum")))
                continue
            if st.state == "applied":
                when = st.last.finished_at.strftime("%Y-%m-%d %H:%M") if (
                    st.last and st.last.finished_at) else "earlier"
                who = st.last.operator if st.last else "?"
                self._emit(StepSkipped(step_id=step.id,
                                       reason=f"already applied ({when} by {who})"))
                continue
            result = self._run_step(step, "apply")
            if result is not None:
                return Outcome(result[0], result[1], step.id, tuple(done))
            done.append(step.id)
        return Outcome("done", f"{len(done)} step(s) applied", steps=tuple(done))

    # ---------------------------------------------------------------- helpers for phases

    def check(self, sql: str, expect: Any) -> str:
        """Run a checklist check (not a step): the value, or StepError."""
        self._require_open()
        value = query_value(self._ctx, sql, Timeouts.for_step(self.plan, None))
        return evaluate(expect, value, self._ctx.captured, sql)

    def command(self, command: str, timeout: float | None = None, label: str = "") -> str:
        """Run a checklist command (not a step): a description, or StepError."""
        res = run_command(self._ctx, command, timeout=timeout)
        self._emit(StepOutput(step_id=label or "command", text=res.output,
                              exit_code=res.exit_code))
        return check_exit(res, command)

    # ---------------------------------------------------------------- cancel

    def cancel(self, reason: str = "cancelled by operator") -> None:
        """Stop at the next safe point and cancel the statement in flight."""
        self.control.cancel(reason)

    def _cancel_backend(self) -> None:
        pid = self._ctx.work.pid
        if pid is None:
            return
        try:
            with connect(self.dsn, application_name="migtui-cancel") as c:
                c.execute("SELECT pg_cancel_backend(%s)", (pid,))
        except (psycopg.Error, RunnerError):
            pass

    def _emit(self, event: Any) -> None:
        self.emit(event)
