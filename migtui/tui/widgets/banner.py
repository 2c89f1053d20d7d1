"""The trip banner: the live state of the rollback triggers, from ``execution.trip``.

Tripping now (which metric, its value against threshold and baseline, for how long, what
``R`` will do), recovered (when: dimmed), rolling back, rolled back (when). It clears when
new work starts after a recovery or a rollback, and Esc hides it until the state changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from migtui.events import ThresholdChanged
from migtui.execution import trip as tr
from migtui.plan.model import Metric
from migtui.sampler import basis_text, format_value, relative
from migtui.tui.model import Clock, secs, short


@dataclass(frozen=True)
class Context:
    """What the banner says ``R`` and ``p`` will do."""

    applied: tuple[str, ...] = ()  # steps R would roll back, newest last
    paused: bool = False  # the trip paused the running job before its next step
    lost: str = ""  # "connection lost since 12:03:04": R waits for the database
    watching: str = ""  # watch mode: another migtui run holds the plan and decides
    now: float | None = None  # the tripped metric's live value (the gauge's), if known
    running: bool = False  # a job runs (paused before its next step, when paused)


class TripBanner(Static):
    DEFAULT_CSS = """
    TripBanner { display: none; height: auto; background: $error; color: $text;
                 padding: 0 1; text-style: bold; }
    TripBanner.-shown { display: block; }
    TripBanner.-done { background: $success-darken-2; }
    TripBanner.-busy { background: $warning-darken-2; }
    TripBanner.-recovered { background: $panel; color: $text-muted; text-style: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = tr.TripState()
        self.context = Context()

    @property
    def tripped(self) -> bool:
        return self.state.tripped

    @property
    def event(self) -> ThresholdChanged | None:
        return self.state.event

    def show(self, state: tr.TripState, clock: Clock, context: Context) -> None:
        self.state = state
        self.context = context
        css = {tr.TRIPPING: "", tr.ROLLING_BACK: "-busy", tr.ROLLED_BACK: "-done",
               tr.RECOVERED: "-recovered", tr.ROLLBACK_FAILED: ""}.get(state.kind, "")
        self.set_classes(f"-shown {css}".strip() if state.shown else "")
        if state.shown:
            self.update(render(state, clock, context))

    def dismiss(self) -> None:
        self.state.dismiss()
        self.set_classes("")


def _measure(t: Text, e: ThresholdChanged, now: float | None = None) -> None:
    """The value now (the gauge's) and at the trip, against the limit and the baseline:
    a banner that kept only the trip's value read 77.6% while the gauge said 94.5%."""
    m = Metric(e.metric)
    if now is not None:
        t.append(f"{m.label} {format_value(m, now)} now (tripped at "
                 f"{format_value(m, e.value)}) vs threshold {e.threshold}")
    else:
        t.append(f"{m.label} {format_value(m, e.value)} at the trip vs threshold "
                 f"{e.threshold}")
    if e.limit is not None and relative(e.threshold):
        # a relative rule's limit, the gauge's "trip +50% → limit"; an absolute one is
        # its threshold
        why = f", {basis_text(e.basis, m, e.limit, e.baseline)}" if e.basis else ""
        t.append(f" (limit {format_value(m, e.limit)}{why})")
    t.append(f", baseline {format_value(m, e.baseline)}" if e.baseline is not None
             else ", no baseline")


def _r_does(ctx: Context) -> str:
    """What R would do now, said the same on a trip and after its recovery: wait for a
    lost database, nothing (nothing applied), or roll back the applied steps."""
    if ctx.lost:
        return f"{ctx.lost}: R is offered when it returns"
    if not ctx.applied:
        return "nothing applied: nothing to roll back"
    return f"R rolls back {len(ctx.applied)} step(s) (asks once)"


def render(state: tr.TripState, clock: Clock, ctx: Context) -> Text:
    e = state.event
    t = Text()
    kind = state.kind
    if kind == tr.TRIPPING and e is not None:
        t.append("ROLLBACK TRIGGER TRIPPED: ")
        t.append(e.trigger or Metric(e.metric).label)
        if len(state.live) > 1:
            t.append(f" (+{len(state.live) - 1} more)")
        t.append("\n")
        _measure(t, e, ctx.now)
        t.append(f", for {secs(clock.since(e.since or e.at))}")
        if e.policy and e.policy != "offer":
            t.append(f" · policy: {e.policy}")
        t.append("\n")
        if ctx.watching:
            t.append(f"Another migtui run holds this plan ({ctx.watching}): it decides. "
                     f"You are offered to take over when it ends")
        else:
            if ctx.paused and ctx.applied and not ctx.lost:
                t.append("Paused before the next step · p resumes · " if ctx.running else
                         "New work is held: x asks first, p releases · ")
            r = _r_does(ctx)
            t.append(r[:1].upper() + r[1:] + ("" if ctx.lost else " · Esc dismisses"))
    elif kind == tr.RECOVERED and e is not None:
        t.append(f"Recovered at {clock.hms(state.at)}: {e.trigger or Metric(e.metric).label}"
                 f" (tripped at {clock.hms(e.at)})")
        if ctx.paused:
            r_does = _r_does(ctx)
            t.append(f"\nStill paused before the next step · p resumes · {r_does}"
                     if ctx.running else
                     f"\nNew work is still held: x asks first, p releases · {r_does}")
        else:
            t.append(" · Esc dismisses")
    elif kind == tr.ROLLING_BACK:
        t.append(f"ROLLING BACK {short(state.message, 100)} — since {clock.hms(state.at)}")
    elif kind == tr.ROLLED_BACK:
        t.append(f"ROLLED BACK at {clock.hms(state.at)}: {short(state.message, 120)}. "
                 f"The database is back to before the run · Esc dismisses")
    elif kind == tr.ROLLBACK_FAILED:
        t.append(f"ROLLBACK DID NOT FINISH at {clock.hms(state.at)}: "
                 f"{short(state.message, 200)}")
    return t
