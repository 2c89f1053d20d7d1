"""The one item runner: what a bound checklist item does, for every action type.

``run_item(actions, checklist, item)`` dispatches on the item's action through
``HANDLERS`` (one entry per member of ``plan.model.Action``), emits ``ItemTicked`` with the
evidence, ``ItemFailed`` or ``ItemSkipped``, and returns an ``ItemResult``. What an action
*can* do in this run is the caller's ``ItemActions``: the headless run uses it as it is, the
app's session adds its run lock and the rehearsal on staging.

An action that is not available in this run (no gauges for ``baseline``/``watch``, no
rehearsal) raises ``Unavailable``: the item is reported as skipped, with the reason — a run
never pretends to have done what it did not do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migtui.control import Cancelled
from migtui.events import Emit, ItemFailed, ItemSkipped, ItemTicked
from migtui.plan.model import (
    ChecklistItem,
    RunBaseline,
    RunCheck,
    RunCommand,
    RunRehearse,
    RunSteps,
    RunWatch,
)
from migtui.rehearsal import RehearsalError
from migtui.runner import Outcome, Runner, RunnerError
from migtui.sampler import SamplerError
from migtui.secrets import scrub
from migtui.watch import Watch

NO_ACTION = "no automated action: the operator ticks it in the app"


class Unavailable(Exception):
    """This action cannot run here (reported as skipped, with this reason)."""


@dataclass(frozen=True)
class Evidence:
    """What an action returns: the evidence text; ``ticked`` when it ticked the item itself
    (a rehearsal ticks the items it proves)."""

    text: str
    ticked: bool = False


@dataclass(frozen=True)
class ItemResult:
    item: str  # "<checklist key>/<item key>", as in ItemTicked
    text: str
    status: str  # done | failed | cancelled | skipped
    message: str = ""
    outcome: Outcome | None = None  # of the steps, when the item ran steps


class ItemActions:
    """What checklist items can do in one run. Blocking; call from one worker at a time.

    ``on_baseline``/``on_watch``/``on_rehearse`` override the gauges and the rehearsal;
    each returns evidence text (or True/None for the default text), False to fail."""

    def __init__(self, runner: Runner, *, watch: Watch | None = None,
                 on_baseline: Callable[[float], str | bool | None] | None = None,
                 on_watch: Callable[[float], str | bool | None] | None = None,
                 on_rehearse: Callable[[], str | bool | None] | None = None) -> None:
        self.runner = runner
        self.watch = watch
        # what a pause between items says resumes it (the app: its keys)
        self.resume_hint = "it goes on when the pausing gauge recovers"
        self.on_baseline = on_baseline or (watch.capture_baseline if watch else None)
        self.on_watch = on_watch or (watch.watch_for if watch else None)
        self.on_rehearse = on_rehearse

    @property
    def emit(self) -> Emit:
        return self.runner.emit

    @property
    def operator(self) -> str:
        return self.runner.operator

    def steps(self, ids: list[str]) -> Outcome:
        return self.runner.apply(ids)

    def check(self, sql: str, expect: Any) -> str:
        return self.runner.check(sql, expect)

    def command(self, command: str, timeout: float | None, key: str) -> str:
        return self.runner.command(command, timeout, key)

    def baseline(self, seconds: float) -> str | Evidence:
        if self.on_baseline is None:
            raise Unavailable("baseline needs the live gauges (the app); not recorded here")
        return _callback(self.on_baseline(seconds), f"baseline of {seconds:g}s recorded")

    def watch_gauges(self, seconds: float) -> str | Evidence:
        if self.on_watch is None:
            raise Unavailable("watching needs the live gauges; none are running")
        return _callback(self.on_watch(seconds), f"watched the gauges for {seconds:g}s")

    def rehearse(self, key: str) -> str | Evidence:
        if self.on_rehearse is None:
            raise Unavailable("rehearsal is not available in this run")
        return _callback(self.on_rehearse(), "rehearsal passed")


class StepsFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def _steps(a: ItemActions, action: RunSteps, key: str) -> str:
    out = a.steps(list(action.steps))
    if out.status != "done":
        raise StepsFailed(out)
    return f"steps {', '.join(action.steps)}: {out.message}"


def _check(a: ItemActions, action: RunCheck, key: str) -> str:
    return "check " + a.check(action.check, action.expect)


def _command(a: ItemActions, action: RunCommand, key: str) -> str:
    return "command " + a.command(action.command, action.timeout, key)


def _baseline(a: ItemActions, action: RunBaseline, key: str) -> str | Evidence:
    return a.baseline(action.baseline)


def _watch(a: ItemActions, action: RunWatch, key: str) -> str | Evidence:
    return a.watch_gauges(action.watch)


def _rehearse(a: ItemActions, action: RunRehearse, key: str) -> str | Evidence:
    return a.rehearse(key)


# one handler per member of plan.model.Action (a test holds this to the union)
HANDLERS: dict[type, Callable[[ItemActions, Any, str], str | Evidence]] = {
    RunSteps: _steps, RunCheck: _check, RunCommand: _command, RunBaseline: _baseline,
    RunWatch: _watch, RunRehearse: _rehearse,
}


def run_item(actions: ItemActions, checklist: str, item: ChecklistItem) -> ItemResult:
    """Run one checklist item's action; emit its tick, failure or skip; say how it went."""
    emit = actions.emit
    key = f"{checklist}/{item.key}"
    if item.run is None:
        emit(ItemSkipped(item=key, reason=NO_ACTION))
        return ItemResult(key, item.text, "skipped", NO_ACTION)
    handler = HANDLERS[type(item.run)]
    try:
        got = handler(actions, item.run, key)
    except Unavailable as e:
        emit(ItemSkipped(item=key, reason=str(e)))
        return ItemResult(key, item.text, "skipped", str(e))
    except StepsFailed as e:
        emit(ItemFailed(item=key, error=e.outcome.message))
        return ItemResult(key, item.text, e.outcome.status, e.outcome.message, e.outcome)
    except Cancelled as e:
        msg = f"cancelled: {e}" if str(e) else "cancelled"
        emit(ItemFailed(item=key, error=msg))
        return ItemResult(key, item.text, "cancelled", msg)
    except (RunnerError, SamplerError, RehearsalError, ValueError) as e:
        msg = scrub(str(e))
        emit(ItemFailed(item=key, error=msg))
        return ItemResult(key, item.text, "failed", msg)
    ev = got if isinstance(got, Evidence) else Evidence(got)
    if not ev.ticked:
        emit(ItemTicked(item=key, done=True, operator=actions.operator, evidence=ev.text))
    return ItemResult(key, item.text, "done", ev.text)


def _callback(result: str | bool | None, default: str) -> str:
    if result is False:
        raise RunnerError(f"{default.split(' ')[0]} failed")
    return result if isinstance(result, str) else default
