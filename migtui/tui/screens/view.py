"""What the main screen shows, kept up to date: the run's state, and the screen's answers
to runner, sampler and rehearsal events and to its workers' results.

``MainScreen`` (``screens.main``) adds the layout, the keys and the actions on top; the
trip banner and the database link are ``view_link``'s, the workers' results ``view_results``'s.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker

from migtui.demo.tour import GaugeStates, Tour
from migtui.events import (
    BaselineRecorded,
    NoteAdded,
    RehearsalFinished,
    RehearsalStage,
    ReportExported,
    RollbackStarted,
    StatementStarted,
    StepFailed,
    StepFinished,
    StepProgress,
    ThresholdChanged,
)
from migtui.execution.describe import describe, style
from migtui.execution.session import Session
from migtui.execution.watching import WatchUpdate
from migtui.plan.model import Metric
from migtui.sampler import format_value
from migtui.secrets import scrub
from migtui.tui.keys import footer
from migtui.tui.model import (
    Clock,
    Section,
    StepRow,
    completion,
    next_step,
    secs,
    sections,
    short,
    update_rows,
)
from migtui.tui.screens import workers
from migtui.tui.screens.header import Activity, header
from migtui.tui.screens.production import ProductionGate
from migtui.tui.screens.view_link import LinkView
from migtui.tui.screens.view_results import ResultsView
from migtui.tui.screens.view_watch import WatchView
from migtui.tui.screens.workers import (
    EventReceived,
    RehearsalProgressed,
    SnapshotTaken,
    Workers,
)
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.checklist import ChecklistView
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.gauges import GaugesPanel, GaugeStrip, shown_metrics
from migtui.tui.widgets.log import LogPane
from migtui.tui.widgets.sections import SectionsNav
from migtui.tui.widgets.steps import BackfillProgress

NARROW = 120  # below this width, gauges and log collapse behind g and l
ROOMY = 150  # from this width, the sections and gauges panes take their full widths
SPARK_SECONDS = 300.0


class RunView(LinkView, ResultsView, WatchView, Screen[None]):
    def __init__(self, session: Session, clock: Clock, *, demo: bool = False,
                 tour: Tour | None = None) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.demo = demo
        self.tour = tour
        self.rehearsal = ("", "")  # gate status and message for the current plan text
        self.rehearsal_stage = ""  # "3/9 rollback" while a rehearsal runs
        self._shown_report: object = None
        self.plan = session.plan
        self.sections = sections(self.plan)
        self.rows: dict[str, StepRow] = {
            s.id: StepRow(state="skipped" if s.id in session.skipped else "unknown")
            for s in self.plan.steps}
        self.job: str | None = None
        self.rolling_back = False
        self.latest = None
        self.statuses_known = False
        self.rules = {m: self.session.guard.rules(m) for m in Metric}
        self.metrics = shown_metrics(self.rules)
        self.jobs = Workers(self, session)
        # the recorded baseline: metric -> {"median", "p95"}; the journal's, then each new one
        self.baseline = dict(session.baseline.metrics) if session.baseline else {}
        self.production = ProductionGate(self, session, self._log)
        self.watch_text = ""  # watch mode: the holder and what it does (view_watch)
        self._watch_update: WatchUpdate | None = None  # its last poll, redrawn each second
        self._watch_timer: Timer | None = None
        self._takeover_offered = False
        self._unopened: Any = None  # a runner whose first open failed: tried again
        self._open_tries = 0

    @property
    def confirmed_production(self) -> bool:
        return self.production.confirmed

    def _baseline_text(self, metric: Metric) -> str:
        """The recorded baseline's median of a metric, in its unit ("" when none)."""
        median = self.baseline.get(str(metric), {}).get("median")
        return format_value(metric, median) if median is not None else ""

    def _mono(self) -> float:
        return time.monotonic() if not self.clock.frozen else 0.0

    def on_mount(self) -> None:
        s = self.session
        s.subscribe(lambda e: self.post_message(EventReceived(e)))
        s.on_snapshot(lambda snap: self.post_message(SnapshotTaken(snap)))
        s.on_rehearsal_event = lambda e: self.post_message(RehearsalProgressed(e))
        if s.runner is not None:
            s.runner.confirm = self._confirm_manual
        self._layout(self.size.width)
        self._watch_focus()
        self._read_rehearsal()
        self._top()
        self._completion()
        nav = self.query_one(SectionsNav)
        nav.highlighted = 0
        nav.focus()
        for entry in self.plan.communication:  # the plan's own log, then the run's
            self._log_line(f"{entry.author}: {entry.text}", channel="communication",
                           when=str(entry.at))
        for c in s.state.communication:
            self._log_line(str(c.get("text", "")), channel="communication",
                           when=str(c.get("at", "")))
        if s.database_mismatch:
            self._log(f"warning: {s.database_mismatch}", "bold red")
            self.notify(s.database_mismatch, title="Wrong database?", severity="error",
                        timeout=15)  # the header cuts it on a narrow terminal
        if not s.online:
            self.query_one(GaugesPanel).set_status(Text(
                "No database: gauges are off. Open with --dsn URL to run the plan.",
                style="yellow"))
            self._log("read-only view: no database given (pass --dsn or set DATABASE_URL)",
                      "yellow")
            self.query_one(GaugeStrip).show({}, None, Text("no database", style="yellow"))
        else:
            self._log(f"connecting to {s.display_dsn} (target {s.target})")
            self.jobs.open()
            s.start_sampler()
        if not self.clock.frozen:
            self.set_interval(1.0, self._tick)

    def _confirm_manual(self, prompt: str) -> bool:
        raise NotImplementedError  # the runner's question: MainScreen asks it in a modal

    def _rollback_now(self, reason: str) -> None:
        """No question asked: the trip state (or the operator's yes) is the confirmation."""
        self.rolling_back = True
        self.session.trip.rolling(reason)
        self._banner()
        self._log(f"rollback started by {self.session.operator}: {reason}", "bold magenta")
        self._top()
        self.jobs.rollback(reason)

    def on_resize(self) -> None:
        self._layout(self.size.width)
        self._keys()

    def _watch_focus(self) -> None:
        self.watch(self, "focused", lambda _focused: self._keys(), init=False)

    def _layout(self, width: int) -> None:
        self.set_class(width < NARROW, "-narrow")
        # 120-149: the side panes give up their spare columns, so the content pane is
        # never narrower than on an 80-column terminal (its tables were cut at 120)
        self.set_class(NARROW <= width < ROOMY, "-medium")

    def _read_rehearsal(self) -> None:
        try:
            self.rehearsal = self.session.rehearsal_status()
        except Exception as e:  # noqa: BLE001 - an unreadable journal must not stop the app
            self.rehearsal = ("failed", scrub(f"cannot read the rehearsals: {e}"))

    def _top(self) -> None:
        ctl = self.session.control
        activity = Activity(self.job, self.rolling_back, self.rehearsal_stage, ctl.paused,
                            ctl.pause_reason,
                            self.watch_text if self.session.watching is not None else "")
        self.query_one("#top", Static).update(
            header(self.session, activity, self.rehearsal[0], demo=self.demo,
                   lost=self.connection_lost()))
        self._keys()

    def _keys(self) -> None:
        """The key bar, for what is running and what has focus, cut to the width."""
        self.query_one("#keys", Static).update(footer(
            self.size.width, online=self.session.online and not self.session.link.lost,
            running=self.job is not None or self.rolling_back,
            checklist=isinstance(self.focused, ChecklistView),
            narrow=self.has_class("-narrow")))

    @property
    def section(self) -> Section:
        return self.query_one(SectionsNav).current or self.sections[0]

    def _log(self, text: str, style: str = "") -> None:
        self._log_line(text, style)

    def _log_line(self, text: str, style: str = "", channel: str = "run",
                  when: str | None = None) -> None:
        self.query_one(LogPane).write(self.clock.hms(when), text, style, channel)

    def _completion(self) -> None:
        states = {k: r.state for k, r in self.rows.items()}
        comp = {s.key: completion(self.plan, s, self.session.state, states)
                for s in self.sections}
        self.query_one(SectionsNav).set_completion(comp)

    def _refresh_views(self) -> None:
        content = self.query_one(ContentPane)
        content.refresh_checklists()
        content.refresh_steps()
        self._completion()
        self._top()

    def _tick(self) -> None:
        if any(r.state in ("running", "rolling_back") for r in self.rows.values()):
            self.query_one(ContentPane).refresh_steps()
        if self.session.trip.shown or self.query_one(TripBanner).has_class("-shown"):
            self._banner()  # live, or cleared by new work since the last draw
        if self.session.link.lost:
            self._show_link()
        self._watch_tick()
        self._top()

    def _next_step(self, section: Section | None) -> str | None:
        return next_step(self.plan, self.rows, section)

    # ------------------------------------------------------------ workers' results

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """The one place a worker's result or error is read."""
        done = workers.finished(event)
        if done is None:
            return
        if done.group == workers.OPEN and done.error:
            self._open_failed(done.error)
        elif done.group == workers.WATCH:
            self._watched(done)
        elif done.group == workers.STATUS and done.error:
            self._log(f"cannot read the history: {done.error}", "red")
        elif done.statuses is not None:
            self._statuses(done.statuses, first=done.group == workers.OPEN)
        else:
            self._finished(done)
            if done.group in (workers.JOB, workers.ROLLBACK) and self.session.online:
                self.jobs.statuses()

    def _open_failed(self, error: str) -> None:
        """The first open failed (the server is down, refuses the login...): nothing runs,
        and it is tried again with a doubling backoff, up to 15 s, until it opens."""
        if self.session.runner is not None:
            self._unopened = self.session.runner
            self.session.runner = None
        self._open_tries += 1
        delay = min(15.0, 2.0 ** min(self._open_tries, 4))
        self._log(f"cannot open the database: {error}; trying again in {delay:g}s "
                  f"(try {self._open_tries})", "bold red")
        self.query_one(GaugesPanel).set_status(Text(error, style="red"))
        if self._open_tries == 1:
            self.notify(f"{error}\nTrying again every few seconds; nothing runs until it "
                        f"opens.", title="Database", severity="error", timeout=10)
        self._top()
        self.set_timer(delay, self._open_again)

    def _open_again(self) -> None:
        if self._unopened is None or self.session.watching is not None:
            return
        self.session.runner, self._unopened = self._unopened, None
        self.jobs.open()

    # ------------------------------------------------------------ events

    @on(SnapshotTaken)
    def _snapshot(self, message: SnapshotTaken) -> None:
        snap = message.snapshot
        if snap.unreachable or self.query_one(GaugesPanel).has_class("-stale"):
            self._show_link()  # lost: keep the last values, greyed; back: live again
            self._top()
            self._banner()
            if snap.unreachable:
                return
        self.latest = snap
        states = self.session.guard.states
        self.query_one(GaugeStrip).show(states, snap)
        if self.tour is not None and self.tour.advance(
                GaugeStates({k: v.state for k, v in states.items()})):
            self._tour_moved()
        if self.app.screen is not self:
            return  # a modal covers the gauges: skip the redraw
        gauges = self.query_one(GaugesPanel)
        if snap.error:
            gauges.set_status(Text(f"sample failed: {short(snap.error, 120)}", style="red"))
        else:
            note = "; ".join(snap.notes)
            gauges.set_status(Text(note or f"sampled every {self.session.sampler.interval:g}s"
                                   if self.session.sampler else "", style="dim"))
        sampler = self.session.sampler
        history = {m: sampler.history(m, SPARK_SECONDS) for m in self.metrics} if sampler \
            else {}
        gauges.show(snap, states, history)

    @on(EventReceived)
    def _event(self, message: EventReceived) -> None:
        """Step rows from the pure ``update_rows``; log lines in the one wording
        (``execution.describe``); then what only the screen does with an event."""
        e = message.event
        update_rows(self.rows, e, self._mono())
        match e:
            case StepProgress():
                self.query_one(BackfillProgress).show_progress(e)
                # the step's Rows from the same event as the bar (the tick came up to a
                # second later: 90k rows in the table under a bar at 157k)
                self.query_one(ContentPane).refresh_step_rows()
            case NoteAdded():
                self._log_line(describe(e) or "", style(e), channel=e.channel)
                if e.channel == "communication":
                    self.query_one(ContentPane).refresh_section("communication")
            case ThresholdChanged():
                self._threshold(e)
            case ReportExported():
                pass  # the export job logs the path
            case _:
                text = describe(e)
                if text is not None:
                    self._log(text.strip("\n"), style(e))
        match e:
            case StepFinished() if self.query_one(BackfillProgress).has_class("-active"):
                self.query_one(BackfillProgress).finish()
            case RollbackStarted():
                self.rolling_back = True
            case BaselineRecorded():
                self.baseline = dict(e.metrics)
                self.query_one(ContentPane).refresh_section("monitoring")
            case RehearsalFinished():
                self._read_rehearsal()
                for line in e.differences[:10]:
                    self._log(f"  {line}", "red")
        if self.tour is not None and self.tour.advance(e):
            self._tour_moved()
        if not isinstance(e, StepProgress | StatementStarted):
            self._refresh_views()
            self._banner()
        elif isinstance(e, StatementStarted):
            self.query_one(ContentPane).refresh_steps()

    @on(RehearsalProgressed)
    def _rehearsal_progress(self, message: RehearsalProgressed) -> None:
        e = message.event
        match e:
            case RehearsalStage():
                self.rehearsal_stage = f"{e.index}/{e.of} {e.stage.replace('_', ' ')}"
                msg = f": {e.message}" if e.message else ""
                self._log(f"rehearsal [{e.index}/{e.of}] {e.stage.replace('_', ' ')}{msg}",
                          "cyan")
                self._top()
            case StepFinished():
                self._log(f"  rehearsal: {e.step_id} {e.action} in {secs(e.elapsed)}", "dim")
            case StepFailed():
                self._log(f"  rehearsal: {e.step_id} {e.action} failed: {e.error}", "red")
            case ThresholdChanged() if e.state == "trip":
                self._log(f"  rehearsal: {Metric(e.metric).label} tripped "
                          f"({e.trigger or e.threshold})", "bold red")

    def _threshold(self, e: ThresholdChanged) -> None:
        self._log(describe(e) or "", style(e))
        if e.state != "trip" or self.rolling_back:
            return
        self.app.bell()
        reason = self.session.trip_rollback(e, lost=bool(self.connection_lost()))
        if reason is not None:
            self._rollback_now(reason)
        elif e.policy == "offer" and self.job is not None:
            self._log(f"trip: the running job pauses before its next step "
                      f"({self.session.trip.describe(e)}). p resumes, R rolls back", "bold red")
