"""The main screen's database work and the messages that bring its results back.

Every worker runs on a thread through the ``Session`` and *returns* its result; the screen
reads results and errors in one place, its ``Worker.StateChanged`` handler, through
``finished``: a worker that raised is reported once, there, never by a try/except in the
worker. Runner and sampler events arrive from their threads as ``EventReceived`` /
``SnapshotTaken`` messages, merged when they come faster than the screen draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, WorkerState

from migtui.events import Event, StepProgress
from migtui.execution.session import Session
from migtui.runner import Outcome, StepStatus
from migtui.sampler import Snapshot
from migtui.secrets import scrub

# worker groups: what the result is, and so how the screen shows it
OPEN = "open"  # the first connection: a list of StepStatus
STATUS = "status"  # the history read again after a job: a list of StepStatus
JOB = "job"  # a step, a phase, an item, a rehearsal: an Outcome (the worker's name: a label)
ROLLBACK = "rollback"  # an Outcome
EXPORT = "export"  # the report's path
WATCH = "watch"  # a watch-mode round: a WatchUpdate (another migtui run holds the plan)


class EventReceived(Message):
    """A runner, sampler or checklist event arrived (from any thread)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # a fast backfill: only its latest progress matters to the screen
        return (isinstance(message, EventReceived)
                and isinstance(self.event, StepProgress)
                and isinstance(message.event, StepProgress)
                and message.event.step_id == self.event.step_id)


class SnapshotTaken(Message):
    """The sampler published a snapshot (the guard has already seen it)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotTaken)


class RehearsalProgressed(Message):
    """A rehearsal's own progress (stages, its steps): shown, not journaled, and never
    mixed with the steps of the app's database."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class Workers:
    """Starts the screen's workers; their results come back as ``Worker.StateChanged``."""

    def __init__(self, node: DOMNode, session: Session) -> None:
        self.node = node
        self.session = session

    def _run(self, fn: Callable[[], Any], group: str, name: str = "",
             exclusive: bool = False) -> None:
        self.node.run_worker(fn, name=name or group, group=group, thread=True,
                             exclusive=exclusive, exit_on_error=False)

    def open(self) -> None:
        self._run(self.session.open, OPEN)

    def take_over(self) -> None:
        """Leave watch mode: open exclusively; the result comes back as an OPEN's."""
        self._run(self.session.take_over, OPEN)

    def watch(self) -> None:
        if self.session.watching is not None:
            self._run(self.session.watch_poll, WATCH, exclusive=True)

    def statuses(self) -> None:
        self._run(self.session.statuses, STATUS)

    def job(self, label: str, fn: Callable[[], Outcome]) -> None:
        self._run(fn, JOB, label)

    def rollback(self, reason: str) -> None:
        self._run(lambda: self.session.rollback(reason), ROLLBACK)

    def export(self) -> None:
        self._run(self.session.export_report, EXPORT, exclusive=True)


@dataclass(frozen=True)
class Finished:
    """A worker of ours ended: its group, its name (a job's label) and what it gave."""

    group: str
    name: str
    statuses: list[StepStatus] | None = None  # OPEN and STATUS, when they succeeded
    outcome: Outcome | None = None  # JOB, ROLLBACK, EXPORT (the path as its message)
    error: str = ""  # the exception, scrubbed, when the worker raised
    update: Any = None  # WATCH: the WatchUpdate


def finished(event: Worker.StateChanged) -> Finished | None:
    """What a worker's state change means to the screen; None while it runs, when it was
    cancelled, or when it is not one of ours."""
    w = event.worker
    if w.group not in (OPEN, STATUS, JOB, ROLLBACK, EXPORT, WATCH):
        return None
    if event.state == WorkerState.ERROR:
        err = w.error
        msg = scrub(f"{type(err).__name__}: {err}")
        if w.group in (OPEN, STATUS, WATCH):
            return Finished(w.group, w.name, error=msg)
        return Finished(w.group, w.name, outcome=Outcome("failed", msg), error=msg)
    if event.state != WorkerState.SUCCESS:
        return None
    if w.group in (OPEN, STATUS):
        return Finished(w.group, w.name, statuses=list(w.result or []))
    if w.group == WATCH:
        return Finished(w.group, w.name, update=w.result)
    if w.group == EXPORT:
        return Finished(w.group, w.name, outcome=Outcome("done", str(w.result)))
    return Finished(w.group, w.name, outcome=w.result)
