"""The guided tour of ``migtui demo --tour``: what the presenter presses next, what to look
at, and which real event of the app moves the tour on. No Textual here.

The hints follow the demo plan's story (``migtui/demo/plan.yaml``). Each hint waits for
an event the app really produces (a baseline recorded, a step finished, a trip, the
rollback finished, the latency gauge back to ok, the report written), never a timer.

    tour = Tour()
    tour.advance(event)        # True when the tour moved on
    tour.current               # the Hint to show, None when the tour is over
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from migtui.events import (
    BaselineRecorded,
    ReportExported,
    RollbackFinished,
    StepFinished,
    ThresholdChanged,
)


@dataclass(frozen=True)
class GaugeStates:
    """What the gauges show now (metric -> ok | warn | trip | inactive), fed to the tour on
    every sample, so "the gauges recovered" is seen even without a state change."""

    states: Mapping[str, str]


@dataclass(frozen=True)
class StoryState:
    """Where the story really stands when the app opens (an earlier demo left steps
    applied, a baseline recorded): the tour starts there, not at 1."""

    applied: frozenset[str]
    baseline: bool


Fact = object  # an Event of migtui.events, GaugeStates or StoryState
Until = Callable[[Fact], bool]


def step_applied(step_id: str) -> Until:
    return lambda f: ((isinstance(f, StepFinished) and f.step_id == step_id
                       and f.action == "apply")
                      or (isinstance(f, StoryState) and step_id in f.applied))


def baseline_known(f: Fact) -> bool:
    return isinstance(f, BaselineRecorded) or (isinstance(f, StoryState) and f.baseline)


def tripped(f: Fact) -> bool:
    return isinstance(f, ThresholdChanged) and f.state == "trip"


def rolled_back(f: Fact) -> bool:
    return isinstance(f, RollbackFinished) and f.ok


def latency_ok(f: Fact) -> bool:
    if isinstance(f, ThresholdChanged):
        return f.metric == "latency" and f.state == "ok"
    return isinstance(f, GaugeStates) and f.states.get("latency") == "ok" and not any(
        s == "trip" for s in f.states.values())


@dataclass(frozen=True)
class Hint:
    title: str
    press: str  # what to press
    look: str  # what to look at
    until: Until  # the fact that completes this hint
    anchor: bool = False  # reached from any earlier hint when its fact happens


TOUR: tuple[Hint, ...] = (
    Hint("Capture a baseline",
         "j j j to Phase 1 · Tab · End (\"Monitor performance baseline\") · r",
         "the gauges learn normal latency (LAT); the trigger is +50% over it",
         baseline_known),
    Hint("A safe step",
         "Shift+Tab · j to Phase 2: Execution · x runs add_status",
         "ADD COLUMN with a constant default: instant, no table rewrite",
         step_applied("add_status")),
    Hint("A concurrent index",
         "x runs index_created_at",
         "CREATE INDEX CONCURRENTLY (autocommit): writes go on, no lock waits",
         step_applied("index_created_at")),
    Hint("A backfill that yields",
         "x runs backfill_status in keyset batches",
         "the progress line says what limits the rate: \"limited by lock budget\", or "
         "\"replica lag 1.4 s > 1.0 s\" / \"app latency +40%\" when the app needs room; "
         "watch LAT",
         step_applied("backfill_status")),
    Hint("The bad step",
         "x runs drop_customer_index",
         "the order-history query loses its index: LAT climbs",
         step_applied("drop_customer_index")),
    Hint("The trigger trips",
         "nothing: the trigger needs latency +50% held for 2s",
         "the red banner: trigger, value vs threshold and baseline, how long",
         tripped, anchor=True),
    Hint("R rolls back",
         "R, then y: one question lists what will be rolled back",
         "the banner shows the rollback: every step undone, newest first; the "
         "backfill is undone in keyset batches too",
         rolled_back, anchor=True),
    Hint("The gauges recover",
         "nothing: the index is back; OK once it holds under the limit",
         "LAT (Query Performance) returns to OK; its sparkline drops",
         latency_ok),
    Hint("Export the report",
         "e writes the filled-in plan (Markdown) next to the plan, its plot beside it",
         "the gauges over the run, plotted: latency and its baseline, the trip, the "
         "backfill rate (Esc closes); the path in the log",
         lambda f: isinstance(f, ReportExported)),
)


class Tour:
    """Where the presenter is in the story."""

    def __init__(self, hints: tuple[Hint, ...] = TOUR) -> None:
        self.hints = hints
        self.index = 0
        self.report_path = ""

    @property
    def current(self) -> Hint | None:
        return self.hints[self.index] if self.index < len(self.hints) else None

    @property
    def done(self) -> bool:
        return self.index >= len(self.hints)

    @property
    def position(self) -> tuple[int, int]:
        """(1-based number of the current hint, how many)."""
        return min(self.index + 1, len(self.hints)), len(self.hints)

    def follow(self, state: StoryState) -> bool:
        """Start where the story stands: past every hint the state already completes, in
        order (a baseline, then the steps applied). True when the tour moved."""
        start = self.index
        while self.current is not None and self.current.until(state):
            self.index += 1
        return self.index != start

    def advance(self, fact: Fact) -> bool:
        """Move on when ``fact`` completes the current hint, or a later anchor (a trip, a
        rollback) happened early. True when the tour moved."""
        if isinstance(fact, ReportExported):
            self.report_path = fact.path
        for i in range(self.index, len(self.hints)):
            hint = self.hints[i]
            if (i == self.index or hint.anchor) and hint.until(fact):
                self.index = i + 1
                return True
        return False
