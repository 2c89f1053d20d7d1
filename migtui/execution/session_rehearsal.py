"""The session's rehearsals: the gate for the current plan text, where to rehearse, and
a rehearsal run under the session's run lock (its own kinds journaled, the rest shown).
A mixin of ``Session`` (``execution.session``). No Textual."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from migtui.control import RunControl
from migtui.events import Event
from migtui.execution.journal_policy import rehearsal_route
from migtui.execution.rehearsal_targets import (
    RehearsalChoice,
    no_rehearsal_target,
    production_urls,
    rehearsal_choices,
)
from migtui.plan.model import Plan
from migtui.rehearsal import (
    RehearsalError,
    RehearsalReport,
    rehearsal_gate,
    rehearse,
)
from migtui.runner import Runner


class SessionRehearsal:
    plan: Plan
    path: Path
    plan_checksum: str
    dsn: str | None
    target: str
    operator: str
    runner: Runner | None
    run_lock: threading.Lock
    last_rehearsal: RehearsalReport | None
    _rehearsal_control: RunControl | None
    on_rehearsal_event: Callable[[Event], None] | None
    production: bool  # Session's: the target is production
    emit: Callable[[Event], None]  # Session's: onto the bus (and so the journal)

    def rehearsal_status(self) -> tuple[str, str]:
        """("ok" | "missing" | "stale" | "failed", message) for the current plan text."""
        return rehearsal_gate(self.plan, self.path, self.plan_checksum)

    def rehearsal_choices(self) -> list[RehearsalChoice]:
        return rehearsal_choices(self.plan, self.dsn, self.target, self.production)

    def no_rehearsal_target(self) -> str:
        return no_rehearsal_target(self.plan)

    def rehearse(self, choice: RehearsalChoice,
                 on_event: Callable[[Event], None] | None = None) -> RehearsalReport:
        """Rehearse the plan on ``choice`` (blocking; takes the run lock). The rehearsal's
        own kinds go to the journal and the screens; the rest only to ``on_event``."""
        if choice.dsn in production_urls(self.plan) or (choice.dsn == self.dsn
                                                         and self.production):
            raise RehearsalError("refusing to rehearse on production", code=2)

        route = rehearsal_route(self.emit, on_event or self.on_rehearsal_event)
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

