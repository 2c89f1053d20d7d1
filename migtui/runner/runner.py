"""The Runner: apply, roll back, dry-run and report a plan's steps against one database.

UI-agnostic (no Textual): the TUI, the headless CLI and rehearsal drive it, and every
observer (journal, printer, TUI) follows it through the events it emits. Methods block;
call them from a worker thread, and steer with ``RunControl`` (or ``cancel()``) from others.

Connections (all ``application_name=migtui``): one runs the work and, with ``exclusive=True``
(the default), holds the per-database run lock (``WorkSession``; verified before every step and
every backfill batch, so a run whose lock went away stops with LockLost instead of running
beside a second run), and a short-lived one sends ``pg_cancel_backend`` on cancel.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from migtui.control import Cancelled, RunControl
from migtui.db import database_name
from migtui.events import (
    Emit,
    NoteAdded,
    RollbackFinished,
    RollbackStarted,
    StepFailed,
    StepFinished,
    StepOutput,
    StepSkipped,
    StepStarted,
    now,
)
from migtui.plan.model import Plan, Step
from migtui.runnable import step_problems
from migtui.runner import advisory, history, prisma
from migtui.runner.backfill import planned_update, run_backfill
from migtui.runner.checks import evaluate, query_value
from migtui.runner.commands import check_exit, run_command
from migtui.runner.conn import connect, first_line
from migtui.runner.context import Ctx, Timeouts, WorkSession
from migtui.runner.errors import (
    DatabaseUnavailable,
    LockLost,
    NotExecutable,
    RunnerError,
    StepError,
)
from migtui.runner.history import StepStatus
from migtui.runner.rollback import rollback_order
from migtui.runner.sqlstep import classify, run_autocommit, run_transactional
from migtui.secrets import scrub
from migtui.sql import split

if TYPE_CHECKING:
    from migtui.trace import Tracer


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | rolled_back | cancelled | rollback_requested
    message: str = ""
    failed_step: str | None = None
    steps: tuple[str, ...] = ()  # steps applied (or rolled back) by this call

    @property
    def ok(self) -> bool:
        return self.status in ("done", "rolled_back")


@dataclass(frozen=True)
class PlannedStatement:
    step_id: str
    kind: str  # sql | backfill | check | command | manual
    index: int
    sql: str  # statement text, or the command / instruction
    autocommit: bool
    lock: str
    note: str = ""


@dataclass
class _Running:
    started: datetime
    row_id: int | None = None  # a committed 'running' row (non-transactional steps)
    body: tuple[str, str] | None = None
    rows: int | None = None
    retries: int = 0


def _noop(_e: Any) -> None:
    pass


class Runner:
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
        out: list[PlannedStatement] = []
        for step in self._steps(step_ids):
            if step.id in applied:
                continue
            if step.sql is not None:
                for i, st in enumerate(split(step.sql)):
                    out.append(PlannedStatement(step.id, "sql", i, st.text, st.autocommit,
                                                st.lock))
            elif step.backfill is not None:
                out.append(PlannedStatement(
                    step.id, "backfill", 0, planned_update(step.backfill, step.id), False,
                    "ROW EXCLUSIVE",
                    f"keyset batches from {step.backfill.batch_size} rows, one transaction each"))
            elif step.check is not None:
                out.append(PlannedStatement(step.id, "check", 0, step.check.sql, False,
                                            "ACCESS SHARE", "read only"))
            elif step.command is not None:
                out.append(PlannedStatement(step.id, "command", 0, step.command.run, True,
                                            "none", "shell command"))
            else:
                out.append(PlannedStatement(step.id, "manual", 0, step.manual or "", True,
                                            "none", "the operator confirms"))
        return out

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
                    msg = prisma.checksum_conflict(row.migration_name, row.checksum,
                                                   step.prisma.checksum)
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

    def _run_step(self, step: Step, action: str, body: tuple[str, str] | None = None
                  ) -> tuple[str, str] | None:
        """Run one step (apply or rollback). None on success, else (status, message)."""
        try:
            self._ctx.check_lock()
        except LockLost as e:
            return "failed", f"step {step.id} was not started: {e}"
        generation = self._ctx.work.generation
        run = _Running(started=now(), body=body)
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
            where = f"\n  statement: {_one_line(e.statement)}" if (
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

    def _fail(self, step: Step, action: str, run: _Running, t0: float,
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
                run: _Running, **kw: Any) -> int:
        return history.insert(conn, run_id=self._ctx.run_id, plan_id=self._ctx.plan_id,
                              plan_checksum=self._ctx.plan_checksum, step=step, action=action,
                              status=status, started_at=run.started, operator=self.operator,
                              body=run.body, **kw)

    def _apply_step(self, step: Step, run: _Running) -> str:
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

    def _sql_autocommit(self, step: Step, run: _Running, stmt: Any, t: Timeouts,
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

    # ---------------------------------------------------------------- rollback

    def rollback(self, to: str | None = None, reason: str = "") -> Outcome:
        """Undo applied steps in reverse order, down to ``to`` (inclusive) or all.

        While it runs, a trigger's ``rollback`` policy does not cancel it (RunControl);
        pause and throttle still steer a rollback written as a backfill."""
        self.control.rolling_back = True
        try:
            return self._rollback(to, reason)
        finally:
            self.control.rolling_back = False

    def _rollback(self, to: str | None, reason: str) -> Outcome:
        try:
            self._require_open()
            self._ctx.work.pin()
            statuses = {s.step_id: s for s in self.status()}
            conn = self._ctx.work.conn
            partial = {s.id for s in self.plan.steps if s.backfill is not None
                       and history.progress(conn, self._ctx.plan_id, s.id) is not None}
            order = rollback_order(self.plan, statuses, to, partial)
        except KeyError:
            return Outcome("failed", f"unknown step {to!r}; the plan has: "
                           f"{', '.join(s.id for s in self.plan.steps)}")
        except (RunnerError, psycopg.Error) as e:
            return Outcome("failed", scrub(str(e)))
        problems = [p for p in self.problems([s.id for s in order]) if "rollback" in p]
        if problems:
            return Outcome("failed", "; ".join(problems))
        self.control.reset()
        ids = tuple(s.id for s in order)
        self._emit(RollbackStarted(plan_id=self._ctx.plan_id, steps=ids,
                                   reason=reason or "requested by operator"))
        done: list[str] = []
        for step in order:
            if step.irreversible is not None:
                msg = (f"step {step.id} is irreversible ({step.irreversible}); the rollback "
                       f"stopped there. " + (f"Rolled back: {', '.join(done)}." if done
                                             else "Nothing was rolled back."))
                self._emit(RollbackFinished(plan_id=self._ctx.plan_id, ok=False,
                                            rolled_back=tuple(done), message=msg))
                return Outcome("failed", msg, step.id, tuple(done))
            last = statuses[step.id].last
            body = (last.step_checksum, last.step_body) if last else None
            result = self._run_step(step, "rollback", body)
            if result is not None:
                # the error itself was just reported by StepFailed: say where it stopped
                where = f"step {step.id} {result[0].replace('_', ' ')}. " + (
                    f"Rolled back: {', '.join(done)}." if done else "Nothing was rolled back.")
                self._emit(RollbackFinished(plan_id=self._ctx.plan_id, ok=False,
                                            rolled_back=tuple(done), message=where))
                return Outcome(result[0] if result[0] != "rollback_requested" else "failed",
                               result[1], step.id, tuple(done))
            done.append(step.id)
        msg = f"{len(done)} step(s) rolled back" if done else "nothing to roll back"
        self._emit(RollbackFinished(plan_id=self._ctx.plan_id, ok=True, rolled_back=tuple(done),
                                    message=msg))
        return Outcome("rolled_back", msg, steps=tuple(done))

    def _rollback_step(self, step: Step, run: _Running) -> str:
        ctx = self._ctx
        t = Timeouts.for_step(self.plan, step)

        def record(conn: psycopg.Connection, rows: int) -> None:
            self._insert(conn, step, "rollback", "rolled_back", run, rows=rows)
            if step.prisma is not None:
                prisma.record_rolled_back(conn, step.prisma.migration_name)
            if step.backfill is not None:
                history.clear_progress(conn, ctx.plan_id, step.id)

        if step.rollback_backfill is not None:
            self._emit(StepStarted(step_id=step.id, action="rollback", step_kind="backfill",
                                   statements=1))
            run.rows, run.retries = run_backfill(ctx, step.rollback_backfill, t, record,
                                                 step_id=step.id, direction="rollback")
            return ""
        if step.rollback_sql is None:
            self._emit(StepStarted(step_id=step.id, action="rollback", step_kind=step.kind))
            self._commit(lambda c: record(c, 0))
            return "nothing to undo"
        auto, stmts = classify(step.id, step.rollback_sql, "rollback",
                               allow_empty=step.prisma is not None)
        self._emit(StepStarted(step_id=step.id, action="rollback", step_kind="sql",
                               statements=len(stmts)))
        if not auto:
            run.rows, run.retries = run_transactional(ctx, step.id, "rollback", stmts, t,
                                                      record)
        else:
            self._sql_autocommit(step, run, stmts[0], t, "rollback")
            if step.backfill is not None:
                self._commit(lambda c: history.clear_progress(c, ctx.plan_id, step.id))
        return ""

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


def _one_line(text: str | None, width: int = 160) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= width else one[: width - 1] + "…"
