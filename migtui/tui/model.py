"""What the screens show, computed without Textual: sections, completion, step rows, text.

The widgets render these plain values; the screen keeps them up to date from events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from migtui.events import (
    Event,
    StatementStarted,
    StepFailed,
    StepFinished,
    StepProgress,
    StepRetried,
    StepSkipped,
    StepStarted,
)
from migtui.execution import describe
from migtui.execution.folds import SKIP_PREFIX
from migtui.plan import outline
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
    Step,
)
from migtui.sql import split
from migtui.state import RunState


@dataclass(frozen=True)
class Section:
    """One section of the template, as the navigator lists it."""

    key: str  # "overview", "steps", "phases.<key>", ...
    title: str
    checklists: tuple[str, ...] = ()  # checklist keys shown in this section
    phase: Phase | None = None


# The app's one departure from the template's order: the plan's steps (the template's
# "Prisma Migration Scripts") come right after Schema Changes, before the phases that run
# them. Every key, title and checklist, and the rest of the order, is the outline's.
STEPS_FIRST = outline.SCRIPTS


def sections(plan: Plan) -> list[Section]:
    """Every section of the migration plan template, in its order (``plan.outline``):
    each under its short label, Migration Strategy as one section per phase."""
    out: list[Section] = []
    for s in outline.SECTIONS:
        if s is STEPS_FIRST:
            continue
        if s is outline.STRATEGY:
            out.append(Section(STEPS_FIRST.key, STEPS_FIRST.label, STEPS_FIRST.checklists))
            for i, ph in enumerate(plan.phases, 1):
                key = f"{s.key}.{ph.key}"
                out.append(Section(key, outline.phase_title(i, ph.name), (key,), ph))
        else:
            out.append(Section(s.key, s.label, s.checklists))
    return out


def checklist_map(plan: Plan) -> dict[str, tuple[str, list[ChecklistItem]]]:
    return {key: (heading, items) for key, heading, items in plan.checklists()}


def completion(plan: Plan, section: Section, state: RunState,
               step_states: dict[str, str]) -> tuple[int, int] | None:
    """(done, total) of a section; None when the section has nothing to complete."""
    if section.key == "steps":
        return (sum(step_states.get(s.id) == "applied" for s in plan.steps), len(plan.steps))
    if not section.checklists:
        return None
    lists = checklist_map(plan)
    done = total = 0
    for key in section.checklists:
        items = lists[key][1]
        done += sum(state.is_done(key, i) for i in items)
        total += len(items)
    return done, total


# ---------------------------------------------------------------- steps


def phase_steps(plan: Plan, phase: Phase | None) -> list[Step]:
    """The steps a phase's items run, in order (all steps when no phase)."""
    if phase is None:
        return list(plan.steps)
    ids: list[str] = []
    for item in phase.items:
        if isinstance(item.run, RunSteps):
            ids += [s for s in item.run.steps if s not in ids]
    return [plan.step(s) for s in ids if any(st.id == s for st in plan.steps)]


def next_step(plan: Plan, rows: dict[str, StepRow], section: Section | None) -> str | None:
    """The first step of the section's phase (of the plan when None) not applied nor
    skipped."""
    for st in phase_steps(plan, section.phase if section else None):
        r = rows.get(st.id)
        if r is None or r.state not in ("applied", "skipped"):
            return st.id
    return None


def phase_of(plan: Plan, all_sections: list[Section], step_id: str) -> Section | None:
    """The phase section whose steps include ``step_id``."""
    for s in all_sections:
        if s.phase is not None and any(st.id == step_id for st in phase_steps(plan, s.phase)):
            return s
    return None


def transaction_mode(step: Step) -> str:
    """'transaction' or 'autocommit' for SQL steps (from the parsed statements)."""
    if step.sql is not None:
        try:
            stmts = split(step.sql)
        except Exception:  # noqa: BLE001 - an unparsable step shows as such, runner refuses it
            return "unparsable"
        return "autocommit" if any(s.autocommit for s in stmts) else "transaction"
    return {"backfill": "batches", "check": "read only", "command": "shell",
            "manual": "operator"}[step.kind]


@dataclass
class StepRow:
    """What the phase view shows for one step."""

    state: str = "unknown"  # pending | running | applied | failed | rolled_back | skipped | ...
    elapsed: float | None = None
    retries: int = 0
    rows: int | None = None
    result: str = ""
    started_mono: float | None = None  # set while running (for a live elapsed)
    statement: int = 0  # 1-based index of the statement in flight
    statements: int = 0
    action: str = "apply"


STATE_ICON = {"pending": "·", "running": "▶", "applied": "✓", "failed": "✗",
              "rolled_back": "↺", "skipped": "»", "unknown": "?", "rolling_back": "◀"}


def action_text(item: ChecklistItem) -> str:
    """What a bound checklist item runs, in a few words."""
    a = item.run
    if isinstance(a, RunSteps):
        return "steps " + ", ".join(a.steps)
    if isinstance(a, RunCheck):
        return f"check {short(a.check, 60)} expect {a.expect}"
    if isinstance(a, RunCommand):
        return f"command {short(a.command, 60)}"
    if isinstance(a, RunBaseline):
        return f"baseline {a.baseline:g}s of the gauges"
    if isinstance(a, RunWatch):
        return f"watch the gauges for {a.watch:g}s (fails if a trigger trips)"
    if isinstance(a, RunRehearse):
        return "rehearsal on staging (migtui rehearse)"
    return ""


def mono_at(at: dt.datetime, mono: float) -> float:
    """The monotonic time of wall time ``at`` (``mono``: now): a running step's elapsed
    counts from when it started, also when the app learnt of it later (watch mode reads
    the other run's journal every few seconds, or opened while that step ran)."""
    return mono - max(0.0, (dt.datetime.now(dt.UTC) - at).total_seconds())


def update_rows(rows: dict[str, StepRow], e: Event, mono: float) -> StepRow | None:
    """Fold one runner event into the step rows (``mono``: now, for a live elapsed).

    Returns the row it changed, or None when the event says nothing about a step row."""
    match e:
        case StepStarted():
            r = rows.setdefault(e.step_id, StepRow())
            r.state = "running" if e.action == "apply" else "rolling_back"
            r.started_mono, r.statements, r.statement, r.action = (
                mono_at(e.at, mono) if mono else 0.0,  # 0.0: a frozen clock (snapshots)
                e.statements, 0, e.action)
            r.result = ""
        case StatementStarted():
            r = rows.setdefault(e.step_id, StepRow())
            r.statement = e.index + 1
        case StepProgress():  # rows changed, as the history and StepFinished count them
            r = rows.setdefault(e.step_id, StepRow())
            r.rows = e.done if e.changed is None else e.changed
        case StepRetried():
            r = rows.setdefault(e.step_id, StepRow())
            r.retries = e.attempt
        case StepFinished():
            r = rows.setdefault(e.step_id, StepRow())
            r.state = "applied" if e.action == "apply" else "rolled_back"
            r.elapsed, r.rows, r.retries, r.result = e.elapsed, e.rows, e.retries, e.result
            r.started_mono = None
        case StepFailed():
            r = rows.setdefault(e.step_id, StepRow())
            r.state = "failed" if e.action == "apply" else "applied"
            r.elapsed, r.retries, r.result = e.elapsed, e.retries, e.error
            r.started_mono = None
        case StepSkipped() if e.reason.startswith(SKIP_PREFIX):
            r = rows.setdefault(e.step_id, StepRow())
            r.state = "skipped"
        case _:
            return None
    return r


# ---------------------------------------------------------------- text


def short(text: str | None, width: int = 80) -> str:
    return describe.short(text, width)


def secs(s: float | None) -> str:
    return describe.secs(s, none="—")


class Clock:
    """Wall time for the screens; frozen for deterministic snapshots."""

    FROZEN = dt.datetime(2026, 11, 23, 3, 0, 0, tzinfo=dt.UTC)

    def __init__(self, frozen: bool = False,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self.frozen = frozen
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return self.FROZEN if self.frozen else self._now()

    def hms(self, at: dt.datetime | str | None = None) -> str:
        """Local HH:MM:SS of ``at`` (default now), "11-20 10:00" on another day (the
        plan's communication log, a journal from yesterday); fixed when frozen."""
        if self.frozen:
            return "03:00:00"
        if isinstance(at, str):
            try:
                at = dt.datetime.fromisoformat(at)
            except ValueError:
                return at[:8]
        local = (at or self.now()).astimezone()
        if local.date() != self.now().astimezone().date():  # another day: say which
            return local.strftime("%m-%d %H:%M")
        return local.strftime("%H:%M:%S")

    def since(self, at: dt.datetime | None) -> float | None:
        if at is None:
            return None
        if self.frozen:
            return 12.0
        return max(0.0, (self.now() - at).total_seconds())
