"""What a checklist item can do from the app: ``ItemActions`` under the session's run lock.

The gauges and a rehearsal on staging are the session's. No Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migtui.execution.items import Evidence, ItemActions
from migtui.rehearsal import RehearsalError
from migtui.runner import Outcome

if TYPE_CHECKING:
    from migtui.execution.session import Session


class SessionActions(ItemActions):
    """The app's item actions: under the session's run lock; the gauges and a rehearsal on
    staging are the session's (missing gauges fail the item: the operator asked for it)."""

    def __init__(self, session: Session) -> None:
        assert session.runner is not None
        super().__init__(session.runner, watch=session.watch)
        self.session = session
        self.resume_hint = "p resumes, R rolls back"

    def steps(self, ids: list[str]) -> Outcome:
        return self.session.apply(ids)

    def check(self, sql: str, expect: Any) -> str:
        with self.session.run_lock:
            return self.runner.check(sql, expect)

    def command(self, command: str, timeout: float | None, key: str) -> str:
        with self.session.run_lock:
            return self.runner.command(command, timeout, key)

    def baseline(self, seconds: float) -> str:
        return self.session.capture_baseline(seconds)

    def watch_gauges(self, seconds: float) -> str:
        return self.session.watch_gauges(seconds)

    def rehearse(self, key: str) -> Evidence:
        choices = self.session.rehearsal_choices()
        if not choices:
            raise ValueError(self.session.no_rehearsal_target())
        report = self.session.rehearse(choices[0])
        if not report.ok:
            raise RehearsalError(report.summary)
        return Evidence(report.summary, ticked=True)  # the rehearsal ticked the item

