"""Running one step of a plan (apply or rollback) and recording it in migtui.history.

A mixin of ``Runner``: the failure handling, the history rows, and the apply of each step
kind (SQL in one transaction or autocommit, backfill, check, command, manual). The rollback
of one step lives in ``rollback_run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from migtui.control import Cancelled, RunControl
from migtui.events import (
    NoteAdded,
    StepFailed,
    StepFinished,
    StepOutput,
    StepStarted,
    now,
)
from migtui.fmt import shorten
from migtui.plan.model import Plan, Step
from migtui.runner import advisory, history, prisma
from migtui.runner.backfill import run_backfill
from migtui.runner.checks import evaluate, query_value
from migtui.runner.commands import check_exit, run_command
from migtui.runner.conn import first_line
from migtui.runner.context import Ctx, Timeouts
from migtui.runner.errors import DatabaseUnavailable, LockLost, RunnerError, StepError
from migtui.runner.outcome import RunningStep
from migtui.runner.sqlstep import classify, run_autocommit, run_transactional


class StepRunning:
    """Run and record one step; needs the Runner's plan, context and settings."""

    plan: Plan
    control: RunControl
    operator: str
    confirm: Callable[[str], bool] | None
    exclusive: bool
    _ctx: Ctx

    if TYPE_CHECKING:
        def _emit(self, event: Any) -> None: ...
        def _rollback_step(self, step: Step, run: RunningStep) -> str: ...

    def _run_step(self, step: Step, action: str, body: tuple[str, str] | None = None
                  ) -> tuple[str, str] | None:
        """Run one step (apply or rollback). None on success, else (status, message)."""
        try:
            self._ctx.check_lock()
        except LockLost as e:
            return "failed", f"step {step.id} was not started: {e}"
        generation = self._ctx.work.generation
        run = RunningStep(started=now(), body=body)
        t0 = time.monotonic()
        try:
            if action == "apply":
                result = self._apply_step(step, run)
            else:
                result = self._rollback_step(step, run)
        except Cancelled as e:
            msg = str(e) or "cancelled"
            self._fail(step, action, run, t0, StepError(f"cancelled: {msg}"))
            if self.control.rollback_requested:
                return "rollback_requested", self.control.rollback_reason
            return "cancelled", f"step {step.id} cancelled: {msg}"
        except (StepError, DatabaseUnavailable, LockLost) as e:
            taken = self._fail(step, action, run, t0, e)
            where = f"\n  statement: {shorten(e.statement, 160)}" if (
                isinstance(e, StepError) and e.statement) else ""
            verb = "failed" if action == "apply" else "rollback failed"
            text = str(e)
            if taken is not None:  # another run holds the lock now: say who
                text = f"{e.reason if isinstance(e, LockLost) else e}; {taken}"
            elif (self.exclusive and not isinstance(e, LockLost)
                  and self._ctx.work.generation != generation):
                text = f"{e}; {advisory.SESSION_DIED}"
            return "failed", f"step {step.id} {verb}: {text}{where}"
        self._emit(StepFinished(step_id=step.id, action=action,
                                elapsed=round(time.monotonic() - t0, 3), rows=run.rows,
                                retries=run.retries, result=result))
        return None

    def _fail(self, step: Step, action: str, run: RunningStep, t0: float,
              e: RunnerError) -> LockLost | None:
        """Report and record a failed step; the LockLost that prevented recording, if any."""
        err = str(e)
        statement = e.statement if isinstance(e, StepError) else None
        rows = e.rows if isinstance(e, StepError) else None
        self._emit(StepFailed(step_id=step.id, action=action,
                              elapsed=round(time.monotonic() - t0, 3), error=err,
                              sqlstate=e.sqlstate if isinstance(e, StepError) else None,
                              statement=statement, retries=run.retries))
        try:
            conn = self._ctx.work.conn  # reconnects if the session was killed
            with conn.transaction():
                if run.row_id is not None:
                    history.finish(conn, run.row_id, "failed", rows=rows, error=err)
                else:
                    self._insert(conn, step, action, "failed", run, rows=rows, error=err)
        except (psycopg.Error, RunnerError) as e2:
            self._emit(NoteAdded(text=f"could not record the failure of {step.id} in "
                                      f"migtui.history: {first_line(e2)}", author="migtui"))
            return e2 if isinstance(e2, LockLost) else None
        return None

    def _insert(self, conn: psycopg.Connection, step: Step, action: str, status: str,
                run: RunningStep, **kw: Any) -> int:
        return history.insert(conn, run_id=self._ctx.run_id, plan_id=self._ctx.plan_id,
                              plan_checksum=self._ctx.plan_checksum, step=step, action=action,
                              status=status, started_at=run.started, operator=self.operator,
                              body=run.body, **kw)

    def _apply_step(self, step: Step, run: RunningStep) -> str:
        ctx = self._ctx
        t = Timeouts.for_step(self.plan, step)

        def record(conn: psycopg.Connection, rows: int,
                   captured: dict[str, Any] | None = None) -> None:
            self._insert(conn, step, "apply", "applied", run, rows=rows, captured=captured)
            if step.prisma is not None:
                prisma.record_applied(conn, step.prisma.migration_name, step.prisma.checksum,
                                      run.started)

        if step.sql is not None:
            folded: list[int] = []
            auto, stmts = classify(step.id, step.sql, allow_empty=step.prisma is not None,
                                   folded=folded)
            self._emit(StepStarted(step_id=step.id, action="apply", step_kind="sql",
                                   statements=len(stmts)))
            if folded:
                self._emit(StepOutput(step_id=step.id, text=(
                    f"the script's own BEGIN/COMMIT (line {', '.join(map(str, folded))}) are "
                    f"folded into this step's one transaction: it commits once, with its "
                    f"history row, or not at all")))
            if not auto:
                run.rows, run.retries = run_transactional(ctx, step.id, "apply", stmts, t,
                                                          record)
            else:
                self._sql_autocommit(step, run, stmts[0], t, "apply")
            return ""
        self._emit(StepStarted(step_id=step.id, action="apply", step_kind=step.kind,
                               statements=1 if step.kind in ("check", "backfill") else 0))
        if step.backfill is not None:
            run.rows, run.retries = run_backfill(ctx, step.backfill, t, record, step_id=step.id)
            return ""
        if step.check is not None:
            value = query_value(ctx, step.check.sql, t)
            captured = {step.check.capture: value} if step.check.capture else None
            result = f"{value!r}"
            if step.check.expect is not None:
                result = evaluate(step.check.expect, value, ctx.captured, step.check.sql)
            self._commit(lambda c: record(c, 0, captured))
            if captured:
                ctx.captured.update(captured)
                result += f", captured as @{step.check.capture}"
            return result
        if step.command is not None:
            res = run_command(ctx, step.command.run, timeout=step.command.timeout,
                              cwd=step.command.cwd)
            self._emit(StepOutput(step_id=step.id, text=res.output, exit_code=res.exit_code))
            result = check_exit(res, step.command.run)
            self._commit(lambda c: record(c, 0))
            return result
        instruction = step.manual or ""
        if self.confirm is None:
            raise StepError(f"manual step needs an operator to confirm: {instruction}")
        if not self.confirm(f"{step.id}: {instruction}"):
            raise StepError(f"the operator did not confirm: {instruction}")
        self._commit(lambda c: record(c, 0))
        return f"confirmed by {self.operator}"

    def _commit(self, fn: Callable[[psycopg.Connection], None]) -> None:
        conn = self._ctx.work.conn
        try:
            with conn.transaction():
                fn(conn)
        except psycopg.Error as e:
            raise StepError(f"cannot write migtui.history: {first_line(e)}") from None

    def _sql_autocommit(self, step: Step, run: RunningStep, stmt: Any, t: Timeouts,
                        action: str) -> None:
        """A non-transactional statement: 'running' row first, the final status after."""
        conn = self._ctx.work.conn
        try:
            # an INVALID index this step builds is ours to drop if its last attempt failed
            prev = history.latest(history.rows_for(conn, self._ctx.plan_id)).get(step.id)
            ours = (action == "apply" and prev is not None and prev.action == "apply"
                    and prev.status in ("failed", "running"))
            with conn.transaction():
                run.row_id = self._insert(conn, step, action, "running", run, finished=False)
        except psycopg.Error as e:
            raise StepError(f"cannot write migtui.history: {first_line(e)}") from None
        run.rows, run.retries = run_autocommit(self._ctx, step.id, action, stmt, t,
                                               leftover_is_ours=ours)
        status = "applied" if action == "apply" else "rolled_back"
        row_id = run.row_id

        def done(c: psycopg.Connection) -> None:
            history.finish(c, row_id, status, rows=run.rows)
            if action == "apply" and step.prisma is not None:
                prisma.record_applied(c, step.prisma.migration_name, step.prisma.checksum,
                                      run.started)
            elif action == "rollback" and step.prisma is not None:
                prisma.record_rolled_back(c, step.prisma.migration_name)

        self._commit(done)
        run.row_id = None

