"""Run one phase's checklist headlessly: every item bound to an action, in order.

* ``steps: [...]`` → ``Runner.apply(steps)``;
* ``check: SQL`` with ``expect`` → the query and its expectation;
* ``command: ...`` → the shell command, exit code checked;
* ``baseline: 30s`` → ``on_baseline(seconds)``, ``rehearse: true`` → ``on_rehearse()``:
  callbacks the caller passes in (the gauges and the rehearsal live elsewhere). A callback
  returns evidence text (or None/True), or False / raises to fail the item.

A missing callback, or an item with no action (a manual checkbox), is reported as skipped
with the reason: a headless run never pretends to have done what it did not do. Each
automated item that succeeds emits ``ItemTicked`` with its evidence. The phase stops at the
first failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migtui.control import Cancelled
from migtui.events import Emit, ItemFailed, ItemSkipped, ItemTicked
from migtui.plan.model import (
    ChecklistItem,
    Phase,
    Plan,
    RunBaseline,
    RunCheck,
    RunCommand,
    RunRehearse,
    RunSteps,
    RunWatch,
)
from migtui.runner.errors import RunnerError
from migtui.runner.runner import Outcome, Runner

Callback = Callable[..., "str | bool | None"]


@dataclass(frozen=True)
class ItemResult:
    item: str  # "<checklist key>/<item key>", as in ItemTicked
    text: str
    status: str  # done | failed | skipped
    message: str = ""


@dataclass(frozen=True)
class PhaseResult:
    phase: str
    items: tuple[ItemResult, ...]
    outcome: Outcome


def find_phase(plan: Plan, name: str) -> Phase:
    """A phase by id/key, name (any case) or 1-based number. KeyError with the choices."""
    for i, ph in enumerate(plan.phases, 1):
        if name in (ph.key, ph.id, str(i)) or name.lower() == ph.name.lower():
            return ph
    choices = ", ".join(f"{ph.key} ({ph.name})" for ph in plan.phases) or "none"
    raise KeyError(f"no phase {name!r}; the plan has: {choices}")


def run_phase(runner: Runner, phase: Phase, *, emit: Emit | None = None,
              operator: str | None = None,
              on_baseline: Callable[[float], str | bool | None] | None = None,
              on_rehearse: Callable[[], str | bool | None] | None = None,
              on_watch: Callable[[float], str | bool | None] | None = None) -> PhaseResult:
    emit = emit or runner.emit
    who = operator or runner.operator
    prefix = f"phases.{phase.key}"
    results: list[ItemResult] = []

    def skipped(item: ChecklistItem, reason: str) -> None:
        key = f"{prefix}/{item.key}"
        emit(ItemSkipped(item=key, reason=reason))
        results.append(ItemResult(key, item.text, "skipped", reason))

    for item in phase.items:
        key = f"{prefix}/{item.key}"
        action = item.run
        if action is None:
            skipped(item, "no automated action: the operator ticks it in the app")
            continue
        outcome: Outcome | None = None
        evidence = ""
        try:
            if isinstance(action, RunSteps):
                outcome = runner.apply(action.steps)
                evidence = f"steps {', '.join(action.steps)}: {outcome.message}"
            elif isinstance(action, RunCheck):
                evidence = "check " + runner.check(action.check, action.expect)
            elif isinstance(action, RunCommand):
                evidence = "command " + runner.command(action.command, action.timeout, key)
            elif isinstance(action, RunBaseline):
                if on_baseline is None:
                    skipped(item, "baseline needs the live gauges (the app); not recorded here")
                    continue
                evidence = _callback(on_baseline(action.baseline), f"baseline of "
                                     f"{action.baseline:g}s recorded")
            elif isinstance(action, RunWatch):
                if on_watch is None:
                    skipped(item, "watching needs the live gauges; none are running")
                    continue
                evidence = _callback(on_watch(action.watch), f"watched the gauges for "
                                     f"{action.watch:g}s")
            elif isinstance(action, RunRehearse):
                if on_rehearse is None:
                    skipped(item, "rehearsal is not available in this run")
                    continue
                evidence = _callback(on_rehearse(), "rehearsal passed")
        except Cancelled as e:
            outcome = Outcome("cancelled", f"{item.text}: {e or 'cancelled'}")
        except (RunnerError, ValueError) as e:
            outcome = Outcome("failed", f"{item.text}: {e}")
        if outcome is not None and outcome.status != "done":
            emit(ItemFailed(item=key, error=outcome.message))
            results.append(ItemResult(key, item.text, "failed", outcome.message))
            return PhaseResult(phase.key, tuple(results), Outcome(
                outcome.status, outcome.message, outcome.failed_step, outcome.steps))
        emit(ItemTicked(item=key, done=True, operator=who, evidence=evidence))
        results.append(ItemResult(key, item.text, "done", evidence))
    skipped_n = sum(r.status == "skipped" for r in results)
    done_n = sum(r.status == "done" for r in results)
    msg = f"phase {phase.name}: {done_n} item(s) done, {skipped_n} skipped"
    return PhaseResult(phase.key, tuple(results), Outcome("done", msg))


def _callback(result: str | bool | None, default: str) -> str:
    if result is False:
        raise RunnerError(f"{default.split(' ')[0]} failed")
    return result if isinstance(result, str) else default
