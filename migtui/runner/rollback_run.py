"""Rolling a plan back: the steps to undo in reverse order, and the undo of one step
(its rollback SQL, or its rollback written as a batched backfill).

A mixin of ``Runner``, on top of ``StepRunning`` (which runs and records each step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg

from migtui.events import RollbackFinished, RollbackStarted, StepStarted
from migtui.plan.model import Step
from migtui.runner import history, prisma
from migtui.runner.backfill import run_backfill
from migtui.runner.context import Timeouts
from migtui.runner.errors import RunnerError
from migtui.runner.history import StepStatus
from migtui.runner.outcome import Outcome, RunningStep
from migtui.runner.rollback import rollback_order
from migtui.runner.sqlstep import classify, run_transactional
from migtui.runner.step_run import StepRunning
from migtui.secrets import scrub


class RollbackRunning(StepRunning):
    """``rollback()`` and the undo of one step."""

    if TYPE_CHECKING:
        def _require_open(self) -> None: ...
        def status(self) -> list[StepStatus]: ...
        def problems(self, step_ids: Sequence[str] | None = None) -> list[str]: ...

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

    def _rollback_step(self, step: Step, run: RunningStep) -> str:
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

