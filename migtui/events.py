"""Typed events: the one vocabulary that the runner, sampler, journal, TUI and CLI share.

Producers (runner, sampler, rehearsal) call an ``Emit`` callback with these events. The
journal records them, the headless CLI prints them, and the TUI turns them into Textual
messages. Event names are past-tense facts. Every event is a frozen dataclass that
serialises to a JSON object with ``to_record()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    at: dt.datetime = field(default_factory=now)

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            rec[f.name] = v.isoformat() if isinstance(v, dt.datetime) else v
        return rec


# ----------------------------------------------------------------- runner


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    plan_id: str
    target: str  # target name; never the DSN
    database: str
    operator: str
    dry_run: bool = False
    action: str = "run"  # run | rollback: what this run does
    pid: int = 0  # the migtui process, and the machine it runs on: who to stop to take over
    host: str = ""


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    plan_id: str
    outcome: str  # done | failed | rolled_back | cancelled
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class StepStarted(Event):
    step_id: str
    action: str  # apply | rollback
    # sql | backfill | check | command | manual. Not "kind": Event.kind is the event's
    # type name, and a field of that name could not be set (nor survive to_record()).
    step_kind: str
    statements: int = 0


@dataclass(frozen=True, kw_only=True)
class StatementStarted(Event):
    step_id: str
    action: str
    index: int
    sql: str
    autocommit: bool
    lock: str


@dataclass(frozen=True, kw_only=True)
class StepProgress(Event):
    step_id: str
    done: int  # rows scanned (keyset), against ``total``
    total: int | None  # estimate; None when unknown
    rate: float  # rows per second, over measured time
    eta: float | None  # seconds
    batch_size: int = 0
    throttled: str = ""  # why the backfill slowed down, if it did
    # what limits the rate right now: "lock budget", "replica lag 1.4 s > 1 s",
    # "app latency +40%", "writers blocked 300 ms > 100 ms", "full speed"
    limited_by: str = ""
    batch_seconds: float | None = None  # how long this batch took
    sleep: float = 0.0  # pause before the next batch, from the pacing controller
    changed: int | None = None  # rows updated so far (what StepFinished.rows will say)


@dataclass(frozen=True, kw_only=True)
class StepRetried(Event):
    step_id: str
    attempt: int
    of: int
    delay: float
    reason: str


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    step_id: str
    action: str
    elapsed: float
    rows: int | None = None
    retries: int = 0
    result: str = ""  # e.g. a check's value, a command's exit code


@dataclass(frozen=True, kw_only=True)
class StepFailed(Event):
    step_id: str
    action: str
    elapsed: float
    error: str  # the database's own text, secrets scrubbed
    sqlstate: str | None = None
    statement: str | None = None
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class StepSkipped(Event):
    step_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class StepPaused(Event):
    step_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class StepResumed(Event):
    step_id: str


@dataclass(frozen=True, kw_only=True)
class RollbackStarted(Event):
    plan_id: str
    steps: tuple[str, ...]
    reason: str


@dataclass(frozen=True, kw_only=True)
class RollbackFinished(Event):
    plan_id: str
    ok: bool
    rolled_back: tuple[str, ...]
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    text: str
    author: str
    channel: str = "run"  # run | communication


# ----------------------------------------------------------------- checklist


@dataclass(frozen=True, kw_only=True)
class ItemTicked(Event):
    item: str  # "<checklist key>/<item key>"
    done: bool
    operator: str
    evidence: str = ""


# ----------------------------------------------------------------- gauges


@dataclass(frozen=True, kw_only=True)
class BaselineRecorded(Event):
    seconds: float
    metrics: dict[str, dict[str, float]]  # metric -> {"median": x, "p95": y}


@dataclass(frozen=True, kw_only=True)
class ThresholdChanged(Event):
    """A metric moved between ok, warn and trip."""

    metric: str
    state: str  # ok | warn | trip
    previous: str
    value: float | None
    threshold: str
    limit: float | None
    baseline: float | None
    since: dt.datetime | None
    policy: str = ""  # offer | pause | rollback, for trips
    trigger: str = ""  # the trigger's text
    basis: str = ""  # what set a relative limit beyond the threshold (floor, noise)


Emit = Callable[[Event], None]


class EventBus:
    """Fan events out to subscribers. Thread-safe; subscribers must not block."""

    def __init__(self) -> None:
        self._subs: list[Emit] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Emit) -> Callable[[], None]:
        with self._lock:
            self._subs.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subs:
                    self._subs.remove(fn)

        return unsubscribe

    def emit(self, event: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            fn(event)

    __call__ = emit


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (
        RunStarted, RunFinished, StepStarted, StatementStarted, StepProgress, StepRetried,
        StepFinished, StepFailed, StepSkipped, StepPaused, StepResumed, RollbackStarted,
        RollbackFinished, NoteAdded, ItemTicked, BaselineRecorded, ThresholdChanged)
}


# ----------------------------------------------------------------- runner (execution core)


@dataclass(frozen=True, kw_only=True)
class StepOutput(Event):
    """The (scrubbed, tail of the) output of a command step or checklist command, or what
    migtui says about how it runs a step (a script's own BEGIN/COMMIT folded)."""

    step_id: str
    text: str
    exit_code: int | None = None


@dataclass(frozen=True, kw_only=True)
class ItemSkipped(Event):
    """A checklist item a headless phase run could not do itself, and why."""

    item: str  # "<checklist key>/<item key>"
    reason: str


@dataclass(frozen=True, kw_only=True)
class ItemFailed(Event):
    item: str
    error: str


EVENT_TYPES.update({cls.__name__: cls for cls in (StepOutput, ItemSkipped, ItemFailed)})


# ----------------------------------------------------------------- rehearsal (staging)


@dataclass(frozen=True, kw_only=True)
class RehearsalStarted(Event):
    plan_id: str
    plan_checksum: str  # sha256 of the plan file's text
    target: str  # target name (or "--dsn"); never the DSN
    database: str
    operator: str
    traffic: bool = False  # other sessions were active: the gauges run


@dataclass(frozen=True, kw_only=True)
class RehearsalStage(Event):
    """Progress: the rehearsal entered a stage (for a progress display)."""

    stage: str  # fingerprint | baseline | apply | checks | rollback | compare | reapply |
    #             rollback_again | compare_again | done
    index: int  # 1-based position among ``of`` stages
    of: int
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class RehearsalFinished(Event):
    plan_id: str
    plan_checksum: str
    ok: bool  # applied, checks passed, rolled back to an equal fingerprint, re-applied
    target: str
    database: str
    summary: str
    duration: float  # seconds, the whole rehearsal: the Timeline's staging duration
    performance_ok: bool | None = None  # None: no traffic, the gauges did not run
    kept: bool = False  # left applied (--keep)
    differences: tuple[str, ...] = ()  # readable diff lines that failed the rehearsal
    operator: str = ""
    report: dict[str, Any] = field(default_factory=dict)  # RehearsalReport.to_dict()


EVENT_TYPES.update({cls.__name__: cls for cls in (
    RehearsalStarted, RehearsalStage, RehearsalFinished)})


@dataclass(frozen=True, kw_only=True)
class ReportExported(Event):
    """The plan and its journal were written as the filled-in template (Markdown)."""

    path: str  # where the report was written
    operator: str = ""


EVENT_TYPES.update({"ReportExported": ReportExported})


@dataclass(frozen=True, kw_only=True)
class GaugeSample(Event):
    """The gauges, downsampled for the journal (one every few seconds), so a report can
    plot them over the run: each metric's value in its own unit, and the backfill rate
    (rows/s) per step running then."""

    values: dict[str, float]  # metric -> value (the unit of ``Snapshot.metric``)
    backfill: dict[str, float] = field(default_factory=dict)  # step -> rows per second


EVENT_TYPES.update({"GaugeSample": GaugeSample})
