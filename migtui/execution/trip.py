"""The trip banner's state: is a rollback trigger tripping *now*, did it recover (when), was
the run rolled back (when). No Textual: the app draws it, tests fold events into it.

``TripState.apply`` folds the run's events:

* ``ThresholdChanged`` to ``trip``: the metric is tripping (kept per metric, with its event);
* ``ThresholdChanged`` away from ``trip``: that metric recovered; once none trips, the
  state is ``recovered`` at the event's time;
* ``RollbackStarted`` / ``RollbackFinished``: ``rolling_back``, then ``rolled_back`` (or
  ``rollback_failed``) at the event's time;
* ``StepStarted`` of an apply, or any job the app starts (``work_started``): new work
  started, so a ``recovered`` or ``rolled_back`` state no longer holds and clears (a live
  trip stays).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from migtui.control import RunControl
from migtui.events import (
    Emit,
    Event,
    NoteAdded,
    RollbackFinished,
    RollbackStarted,
    StepStarted,
    ThresholdChanged,
    now,
)
from migtui.plan.model import Metric
from migtui.runner import Outcome
from migtui.sampler import format_value

# kinds of state, most urgent first
TRIPPING = "tripping"
ROLLING_BACK = "rolling_back"
ROLLBACK_FAILED = "rollback_failed"
RECOVERED = "recovered"
ROLLED_BACK = "rolled_back"
CLEAR = ""


@dataclass
class TripState:
    live: dict[str, ThresholdChanged] = field(default_factory=dict)  # metric -> its trip
    last: ThresholdChanged | None = None  # the newest trip, kept after it recovered
    kind: str = CLEAR
    at: dt.datetime | None = None  # when it recovered / the rollback started or ended
    message: str = ""  # the rollback's steps or outcome
    dismissed: bool = False  # Esc: hidden until the state changes

    @property
    def tripped(self) -> bool:
        """A trigger trips now (and no rollback runs)."""
        return bool(self.live) and self.kind == TRIPPING

    @property
    def event(self) -> ThresholdChanged | None:
        """The trip to describe: the newest live one, else the last."""
        if self.live:
            return max(self.live.values(), key=lambda e: e.at)
        return self.last

    @property
    def shown(self) -> bool:
        return self.kind != CLEAR and not self.dismissed

    def apply(self, event: Event) -> bool:
        """Fold one event; True when what the banner shows changed."""
        before = (self.kind, self.at, tuple(self.live), self.dismissed)
        match event:
            case ThresholdChanged() if event.state == "trip":
                self.live[event.metric] = event
                self.last = event
                if self.kind != ROLLING_BACK:
                    self._set(TRIPPING, event.at)
            case ThresholdChanged() if event.metric in self.live:
                del self.live[event.metric]
                if not self.live and self.kind == TRIPPING:
                    self._set(RECOVERED, event.at)
            case RollbackStarted():
                self.message = ", ".join(event.steps) or "nothing"
                self._set(ROLLING_BACK, event.at)
            case RollbackFinished():
                self.message = event.message
                self._set(ROLLED_BACK if event.ok else ROLLBACK_FAILED, event.at)
                if event.ok:
                    self.live.clear()  # what tripped was answered by the rollback
            case StepStarted() if event.action == "apply":
                self.work_started(event.at)
        return before != (self.kind, self.at, tuple(self.live), self.dismissed)

    def work_started(self, at: dt.datetime) -> None:
        """New work began (a step's apply, or any job: a watch, a check, a phase): a
        ``recovered`` or ``rolled_back`` state no longer holds and clears (a live trip
        stays)."""
        if self.kind in (RECOVERED, ROLLED_BACK):
            self._set(TRIPPING if self.live else CLEAR, at)

    def _set(self, kind: str, at: dt.datetime | None) -> None:
        if kind != self.kind:
            self.dismissed = False
        self.kind = kind
        self.at = at

    def dismiss(self) -> None:
        self.dismissed = True

    def rolling(self, reason: str) -> None:
        """A rollback was asked for (before its ``RollbackStarted`` arrives)."""
        self.message = reason
        self._set(ROLLING_BACK, now())

    def failed(self, message: str) -> None:
        """The rollback ended without ``RollbackFinished`` (it could not start)."""
        if self.kind == ROLLING_BACK:
            self.message = message
            self._set(ROLLBACK_FAILED, now())

    # ------------------------------------------------------------ words

    def describe(self, event: ThresholdChanged | None = None) -> str:
        """'Performance degradation >50% (latency 84ms vs +50%)': names the trip."""
        e = event or self.event
        if e is None:
            return ""
        m = Metric(e.metric)
        return f"{e.trigger or m.label} ({m.label} {format_value(m, e.value)} vs {e.threshold})"


def hold_before(control: RunControl, what: str, emit: Emit,
                hint: str = "p resumes, R rolls back") -> Outcome | None:
    """The safe point before the next step or item of a running job: wait while the run
    is paused (an ``offer`` trip pauses it in the app; p resumes, R rolls back; headless, a
    ``pause`` trigger pauses until it recovers: ``hint`` says which). None to go on, else
    why the job stops here (a rollback was requested, or the operator cancelled)."""
    if control.paused and not control.cancelled:
        emit(NoteAdded(text=f"paused before {what}: {control.pause_reason}"
                            + (f". {hint}" if hint else ""), author="migtui"))
        while not control.wait_if_paused(0.2):
            pass
    if control.rollback_requested:
        return Outcome("rollback_requested", control.rollback_reason)
    if control.cancelled:
        return Outcome("cancelled", f"stopped before {what}: {control.cancel_reason}")
    return None
