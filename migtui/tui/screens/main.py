"""The main screen: sections, content, gauges and log; execution, trips and rollback.

Database work runs in thread workers (group ``db``) through the ``Session``; runner and
sampler events arrive from their threads as ``EventReceived`` / ``SnapshotTaken``
messages, merged when they come faster than the screen draws.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from migtui.demo.tour import GaugeStates, Tour
from migtui.events import (
    Event,
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
from migtui.execution.confirm import WrongDatabase
from migtui.execution.describe import describe, style
from migtui.execution.session import RehearsalChoice, Session
from migtui.plan.model import ChecklistItem, Metric
from migtui.runner import Outcome, StepStatus
from migtui.sampler import Snapshot, format_value
from migtui.secrets import scrub
from migtui.tui.model import (
    Clock,
    Section,
    StepRow,
    completion,
    phase_steps,
    secs,
    sections,
    short,
    update_rows,
)
from migtui.tui.screens.modals import (
    ChoiceModal,
    ConfirmModal,
    PromptModal,
    ReportModal,
    TypedConfirmModal,
)
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.checklist import ChecklistView
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.gauges import GaugesPanel, GaugeStrip, shown_metrics
from migtui.tui.widgets.log import LogPane
from migtui.tui.widgets.sections import SectionsNav
from migtui.tui.widgets.steps import BackfillProgress
from migtui.tui.widgets.tour import TourPanel

NARROW = 120  # below this width, gauges and log collapse behind g and l
SPARK_SECONDS = 300.0


def _shown_path(path: str) -> str:
    """A path as the operator would type it: relative to the working directory when
    inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return path


class MainScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("main.tcss")
    BINDINGS = [
        Binding("x", "run_next", "Next step"),
        Binding("a", "run_phase", "Run phase"),
        Binding("p", "pause", "Pause"),
        Binding("s", "skip", "Skip"),
        Binding("c", "cancel", "Cancel"),
        Binding("R", "rollback", "Rollback"),
        Binding("n", "note", "Note"),
        Binding("e", "export", "Export"),
        Binding("h", "rehearse", "Rehearse"),
        Binding("g", "toggle_gauges", "Gauges"),
        Binding("l", "toggle_log", "Log"),
        Binding("escape", "dismiss_banner", "Dismiss", show=False),
    ]

    class EventReceived(Message):
        """A runner, sampler or checklist event arrived (from any thread)."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

        def can_replace(self, message: Message) -> bool:
            # a fast backfill: only its latest progress matters to the screen
            return (isinstance(message, MainScreen.EventReceived)
                    and isinstance(self.event, StepProgress)
                    and isinstance(message.event, StepProgress)
                    and message.event.step_id == self.event.step_id)

    class SnapshotTaken(Message):
        """The sampler published a snapshot (the guard has already seen it)."""

        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MainScreen.SnapshotTaken)

    class StatusRead(Message):
        """Where each step stands in the database's history."""

        def __init__(self, statuses: list[StepStatus], first: bool = False) -> None:
            super().__init__()
            self.statuses = statuses
            self.first = first

    class RehearsalProgressed(Message):
        """A rehearsal's own progress (stages, its steps): shown, not journaled, and never
        mixed with the steps of the app's database."""

        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class JobFinished(Message):
        def __init__(self, label: str, outcome: Outcome) -> None:
            super().__init__()
            self.label = label
            self.outcome = outcome

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
        self.confirmed_production = False
        self.latest: Snapshot | None = None
        self.statuses_known = False
        rules = {m: self.session.guard.rules(m) for m in Metric}
        self.rules = rules
        self.metrics = shown_metrics(rules)

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield GaugeStrip(self.metrics, id="strip")
        yield TripBanner(id="banner")
        yield BackfillProgress(id="progress")
        with Horizontal(id="body"):
            yield SectionsNav(self.sections, id="nav")
            with Vertical(id="center"):
                yield ContentPane(self.plan, is_done=self.session.state.is_done,
                                  last=self.session.items.last.get, rows=self.rows,
                                  clock=self._mono,
                                  communication=lambda: self.session.state.communication,
                                  findings=self.session.step_findings,
                                  risks=lambda: self.session.risks, id="content")
                yield LogPane(id="log")
            yield GaugesPanel(self.rules, id="gauges")
        if self.tour is not None:
            yield TourPanel(self.tour, id="tour")
        yield Footer()

    def _mono(self) -> float:
        return time.monotonic() if not self.clock.frozen else 0.0

    def on_mount(self) -> None:
        s = self.session
        s.subscribe(lambda e: self.post_message(self.EventReceived(e)))
        s.on_snapshot(lambda snap: self.post_message(self.SnapshotTaken(snap)))
        s.on_rehearsal_event = lambda e: self.post_message(self.RehearsalProgressed(e))
        if s.runner is not None:
            s.runner.confirm = self._confirm_manual
        self._layout(self.size.width)
        self._read_rehearsal()
        self._top()
        self._completion()
        nav = self.query_one(SectionsNav)
        nav.highlighted = 0
        nav.focus()
        for c in s.state.communication:
            self._log_line(str(c.get("text", "")), channel="communication",
                           when=str(c.get("at", "")))
        if not s.online:
            self.query_one(GaugesPanel).set_status(Text(
                "No database: gauges are off. Open with --dsn URL to run the plan.",
                style="yellow"))
            self._log("read-only view: no database given (pass --dsn or set DATABASE_URL)",
                      "yellow")
            self.query_one(GaugeStrip).show({}, None, Text("no database", style="yellow"))
        else:
            self._log(f"connecting to {s.display_dsn} (target {s.target})")
            self._open_db()
            s.start_sampler()
        if not self.clock.frozen:
            self.set_interval(1.0, self._tick)

    def on_resize(self) -> None:
        self._layout(self.size.width)

    def _layout(self, width: int) -> None:
        self.set_class(width < NARROW, "-narrow")

    def _read_rehearsal(self) -> None:
        try:
            self.rehearsal = self.session.rehearsal_status()
        except Exception as e:  # noqa: BLE001 - an unreadable journal must not stop the app
            self.rehearsal = ("failed", scrub(f"cannot read the rehearsals: {e}"))

    def _top(self) -> None:
        """The top line, most important first, so a narrow terminal cuts only the tail:
        PRODUCTION or DEMO, the run state, the target, the rehearsal, where, the title."""
        s = self.session
        t = Text(no_wrap=True, overflow="ellipsis")
        state = short(self._run_state(), 34)
        t.append(" migtui ", style="bold reverse")
        env = self.plan.targets[s.target].environment.value if s.target in self.plan.targets \
            else "?"
        if env == "production":
            t.append(" PRODUCTION ", style="bold reverse red")
        if self.demo:
            t.append(" DEMO ", style="bold reverse magenta")
        t.append(f" {state} ", style="bold reverse yellow" if state != "idle" else "green")
        t.append(f" {s.target}", style="bold")
        if env != "production":
            t.append(f" ({env})", style="dim")
        status = self.rehearsal[0]
        if status:
            t.append(" · rehearsal ")
            t.append(status, style={"ok": "bold green", "failed": "bold red"}.get(
                status, "yellow"))
        if s.online:
            t.append(f" · {self._where()}")
        else:
            t.append(" · no database", style="yellow")
        t.append(f" · {self.plan.title}", style="dim")
        self.query_one("#top", Static).update(t)

    def _where(self) -> str:
        """user@host/db, the password never shown; a Unix socket as "(socket)"."""
        shown = self.session.display_dsn.split("://", 1)[-1]
        rest, _, query = shown.partition("?")
        if "host=%2F" in query or "host=/" in query:
            return f"{rest} (local socket)"
        return shown

    def _run_state(self) -> str:
        ctl = self.session.control
        if self.rolling_back:
            return "ROLLING BACK"
        if self.rehearsal_stage:
            return f"REHEARSING {self.rehearsal_stage}"
        if self.job is None:
            return "idle"
        if ctl.paused:
            return f"PAUSED ({ctl.pause_reason})"
        return f"running: {self.job}"

    # ---------------------------------------------------------------- helpers

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
        banner = self.query_one(TripBanner)
        if banner.tripped and banner.event is not None:
            banner.render_trip(self.clock.since(banner.event.since))
        self._top()

    def _need_db(self) -> bool:
        if not self.session.online:
            self.notify("No database: open the plan with --dsn URL to run it.",
                        severity="warning")
            return False
        return True

    def _production_then(self, fn: Callable[[], None]) -> None:
        """A production target: type the database name once, then go on (the question is
        the core's, ``execution.confirm``; the modal is how the app asks it)."""
        s = self.session
        try:
            question = s.production_question()
        except WrongDatabase as e:
            msg = f"{e}: refusing to run. Open the right database, or use --target."
            self._log(msg, "bold red")
            self.notify(msg, title="Wrong database", severity="error", timeout=10)
            return
        if question is None or self.confirmed_production:
            fn()
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.confirmed_production = True
                self._log(f"production confirmed by {s.operator} (typed {question.database})")
                fn()
            else:
                self._log("production not confirmed: nothing was run", "yellow")

        self.app.push_screen(TypedConfirmModal(
            "PRODUCTION target",
            f"Target {s.target!r} is production: database {question.database!r} on "
            f"{s.display_dsn}.\nType the database name to allow changes in this session.",
            question.database), done)

    def _start(self, label: str, fn: Callable[[], Outcome], *, needs_db: bool = True,
               confirm_production: bool = True) -> None:
        if needs_db and not self._need_db():
            return
        if self.job is not None:
            self.notify(f"Busy: {self.job}. Wait, pause (p) or cancel (c) first.",
                        severity="warning")
            return

        def go() -> None:
            if self.job is not None:  # another job started while the question was open
                self.notify(f"Busy: {self.job}.", severity="warning")
                return
            self.job = label
            self._top()
            self._job(label, fn)

        if confirm_production:
            self._production_then(go)
        else:
            go()

    # ---------------------------------------------------------------- workers

    @work(thread=True, group="db", exit_on_error=False)
    def _open_db(self) -> None:
        statuses = self.session.open()
        self.post_message(self.StatusRead(statuses, first=True))

    @work(thread=True, group="db", exit_on_error=False)
    def _job(self, label: str, fn: Callable[[], Outcome]) -> None:
        try:
            outcome = fn()
        except Exception as e:  # noqa: BLE001 - shown to the operator, never a crash
            outcome = Outcome("failed", scrub(f"{type(e).__name__}: {e}"))
        self.post_message(self.JobFinished(label, outcome))
        if not self.session.online:
            return
        try:
            self.post_message(self.StatusRead(self.session.statuses()))
        except Exception as e:  # noqa: BLE001
            self.post_message(self.JobFinished("status", Outcome("failed", scrub(str(e)))))

    @work(thread=True, group="rollback", exit_on_error=False)
    def _rollback_job(self, reason: str) -> None:
        try:
            outcome = self.session.rollback(reason)
        except Exception as e:  # noqa: BLE001
            outcome = Outcome("failed", scrub(f"{type(e).__name__}: {e}"))
        self.post_message(self.JobFinished("rollback", outcome))
        with contextlib.suppress(Exception):  # the rollback's own outcome is already shown
            self.post_message(self.StatusRead(self.session.statuses()))

    @work(thread=True, group="export", exclusive=True, exit_on_error=False)
    def _export_job(self) -> None:
        try:
            path = self.session.export_report()
            outcome = Outcome("done", str(path))
        except Exception as e:  # noqa: BLE001 - shown to the operator, never a crash
            outcome = Outcome("failed", scrub(f"{type(e).__name__}: {e}"))
        self.post_message(self.JobFinished("export", outcome))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            msg = scrub(f"{type(err).__name__}: {err}")
            if event.worker.name == "_open_db":
                self._log(f"cannot open the database: {msg}", "bold red")
                self.query_one(GaugesPanel).set_status(Text(msg, style="red"))
                self.notify(msg, title="Database", severity="error", timeout=10)
                self.session.runner = None
            else:
                self._log(f"error: {msg}", "bold red")
                self.job = None
                self._top()

    def _confirm_manual(self, prompt: str) -> bool:
        """The runner's confirm callback, called on the worker thread: ask in a modal."""
        answered = threading.Event()
        result = [False]

        def ask() -> None:
            def done(v: bool | None) -> None:
                result[0] = bool(v)
                answered.set()

            self.app.push_screen(ConfirmModal("Manual step", prompt, yes="Done"), done)

        self.app.call_from_thread(ask)
        while not answered.wait(0.2):
            if self.session.control.cancelled:
                return False
        return result[0]

    # ---------------------------------------------------------------- messages

    @on(SectionsNav.SectionChosen)
    def _section(self, event: SectionsNav.SectionChosen) -> None:
        content = self.query_one(ContentPane)
        if content.section != event.section:
            content.show(event.section)

    @on(ChecklistView.ItemToggled)
    def _toggled(self, event: ChecklistView.ItemToggled) -> None:
        self.session.tick(event.checklist, event.item, event.done)

    @on(ChecklistView.ItemRunRequested)
    def _run_item(self, event: ChecklistView.ItemRunRequested) -> None:
        cl, item = event.checklist, event.item
        self._start(f"item {short(item.text, 30)}", lambda: self.session.run_item(cl, item))

    def on_main_screen_status_read(self, message: StatusRead) -> None:
        for st in message.statuses:
            row = self.rows.setdefault(st.step_id, StepRow())
            if row.state in ("running", "rolling_back") and self.job is not None:
                continue
            row.state = st.state
            if st.step_id in self.session.skipped and st.state != "applied":
                row.state = "skipped"
            if st.last is not None:
                row.rows = st.last.rows if row.rows is None else row.rows
                if st.last.error:
                    row.result = st.last.error
        self.statuses_known = True
        self._refresh_views()
        if message.first:
            self._log(f"connected: {self.session.database} · "
                      f"{sum(r.state == 'applied' for r in self.rows.values())}/"
                      f"{len(self.rows)} steps applied")
            self._offer_resume(message.statuses)

    def _offer_resume(self, statuses: list[StepStatus]) -> None:
        applied = [s for s in statuses if s.state == "applied"]
        failed = [s for s in statuses if s.state == "failed"]
        changed = [s for s in statuses if s.changed]
        if changed:
            self._log(f"steps changed since applied: {', '.join(s.step_id for s in changed)}"
                      f" — roll them back or restore their SQL", "bold red")
        if not applied and not failed:
            return
        nxt = self._next_step(None)
        if nxt is None:
            self._log("every step is applied", "green")
            return
        phase = self._phase_of(nxt)
        last = max((s.last for s in statuses if s.last), key=lambda r: r.id, default=None)
        lines = [f"{len(applied)} of {len(statuses)} steps are applied on "
                 f"{self.session.database}."]
        if last is not None:
            lines.append(f"Last: {last.step_id} {last.status} by {last.operator} at "
                         f"{last.started_at:%Y-%m-%d %H:%M}"
                         + (f" — {short(last.error, 120)}" if last.error else ""))
        where = phase.title if phase else "the plan's steps"
        lines.append(f"Next: {nxt} ({where}).")
        lines.append("Resume runs the rest of that phase now.")
        self._log(f"plan in progress: next step {nxt} in {where}", "yellow")

        def answer(ok: bool | None) -> None:
            if not ok:
                return
            if phase is not None:
                self.query_one(SectionsNav).select_key(phase.key)
                self.query_one(ContentPane).show(phase)
            self.action_run_phase(phase)

        self.app.push_screen(ConfirmModal("Resume this plan?", "\n".join(lines),
                                          yes="Resume"), answer)

    def on_main_screen_job_finished(self, message: JobFinished) -> None:
        o = message.outcome
        if message.label == "rollback":
            self.rolling_back = False
            banner = self.query_one(TripBanner)
            if o.status == "rolled_back":
                banner.set_status(f"ROLLED BACK: {o.message}. The database is back to "
                                  f"before the run. Esc dismisses.", "-done")
            else:
                banner.set_status(f"ROLLBACK DID NOT FINISH: {short(o.message, 200)}", "")
            self.query_one(BackfillProgress).finish()
        elif message.label == "export":
            if o.ok:
                shown = _shown_path(o.message)
                self._log(f"report written: {shown}", "bold green")
                self.notify(shown, title="Report exported", timeout=10)
            else:
                self._log(f"export failed: {o.message}", "bold red")
                self.notify(short(o.message, 200), title="Export failed", severity="error")
        elif message.label != "status":
            self.job = None
            self.rehearsal_stage = ""
            if o.status == "rollback_requested":
                self._log(f"{message.label}: stopped for the rollback", "yellow")
            else:
                style = "green" if o.ok else "bold red"
                self._log(f"{message.label}: {o.status} — {o.message}", style)
                if not o.ok:
                    self.notify(short(o.message, 200), title=f"{message.label}: {o.status}",
                                severity="error", timeout=8)
            self.query_one(BackfillProgress).finish()
            self._show_rehearsal_report()
        else:
            self._log(f"cannot read the history: {o.message}", "red")
        self._refresh_views()

    def _show_rehearsal_report(self) -> None:
        report = self.session.last_rehearsal
        if report is None or report is self._shown_report:
            return
        self._shown_report = report
        title = ("Rehearsal clean" if report.ok else "Rehearsal FAILED") + \
            f" on {report.target} ({report.database})"
        self.app.push_screen(ReportModal(title, scrub(report.text()), ok=report.ok))

    def on_main_screen_snapshot_taken(self, message: SnapshotTaken) -> None:
        snap = message.snapshot
        self.latest = snap
        states = self.session.guard.states
        self.query_one(GaugeStrip).show(states, snap)
        if self.tour is not None and self.tour.advance(
                GaugeStates({k: v.state for k, v in states.items()})):
            self.query_one(TourPanel).show_hint()
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

    def on_main_screen_event_received(self, message: EventReceived) -> None:
        """Step rows from the pure ``update_rows``; log lines in the one wording
        (``execution.describe``); then what only the screen does with an event."""
        e = message.event
        update_rows(self.rows, e, self._mono())
        match e:
            case StepProgress():
                self.query_one(BackfillProgress).show_progress(e)
            case NoteAdded():
                self._log_line(describe(e) or "", style(e), channel=e.channel)
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
                self.query_one(TripBanner).set_status(
                    f"ROLLING BACK {len(e.steps)} step(s): {', '.join(e.steps) or 'nothing'} "
                    f"— {short(e.reason, 100)}", "-busy")
            case RehearsalFinished():
                self._read_rehearsal()
                for line in e.differences[:10]:
                    self._log(f"  {line}", "red")
        if self.tour is not None and self.tour.advance(e):
            self.query_one(TourPanel).show_hint()
        if not isinstance(e, StepProgress | StatementStarted):
            self._refresh_views()
        elif isinstance(e, StatementStarted):
            self.query_one(ContentPane).refresh_steps()

    def on_main_screen_rehearsal_progressed(self, message: RehearsalProgressed) -> None:
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
        m = Metric(e.metric)
        self._log(describe(e) or "", style(e))
        if e.state != "trip" or self.rolling_back:
            return
        self.query_one(TripBanner).trip(e, self.clock.since(e.since))
        self.app.bell()
        if e.policy == "rollback" and self.session.online:
            self._rollback_now(f"automatic: {e.trigger or m.label} tripped")

    # ---------------------------------------------------------------- steps

    def _phase_of(self, step_id: str) -> Section | None:
        for s in self.sections:
            if s.phase is not None and any(st.id == step_id
                                           for st in phase_steps(self.plan, s.phase)):
                return s
        return None

    def _next_step(self, section: Section | None) -> str | None:
        steps = phase_steps(self.plan, section.phase if section else None)
        for st in steps:
            r = self.rows.get(st.id)
            if r is None or r.state not in ("applied", "skipped"):
                return st.id
        return None

    # ---------------------------------------------------------------- actions

    def action_run_next(self) -> None:
        sec = self.section
        nxt = self._next_step(sec if sec.phase is not None else None)
        if nxt is None:
            self.notify("No pending step here.", severity="information")
            return
        self._start(f"step {nxt}", lambda: self.session.apply([nxt]))

    def action_run_phase(self, section: Section | None = None) -> None:
        sec = section if isinstance(section, Section) else self.section
        if sec.phase is None:
            pending = [s.id for s in self.plan.steps
                       if self.rows.get(s.id, StepRow()).state not in ("applied", "skipped")]
            if not pending:
                self.notify("Every step is applied.", severity="information")
                return
            self._start("all steps", lambda: self.session.apply(pending))
            return
        key = f"phases.{sec.phase.key}"
        items = [i for i in sec.phase.items
                 if i.run is not None and not self.session.state.is_done(key, i)]
        if not items:
            self.notify("Every bound item of this phase is done; tick the manual ones.",
                        severity="information")
            return
        self._start(f"phase {sec.phase.name}", lambda: self._phase(key, items))

    def _phase(self, key: str, items: list[ChecklistItem]) -> Outcome:
        """Runs on the worker thread: each bound item in order, stop at a failure."""
        done = 0
        for item in items:
            out = self.session.run_item(key, item)
            if out.status != "done":
                return out
            done += 1
        return Outcome("done", f"{done} item(s) done; tick the manual ones when they are")

    def action_pause(self) -> None:
        ctl = self.session.control
        if ctl.paused:
            ctl.resume()
            self._log(f"resumed by {self.session.operator}", "yellow")
        elif self.job is None:
            self.notify("Nothing is running.", severity="information")
            return
        else:
            ctl.pause(f"paused by {self.session.operator}")
            self._log(f"pause requested by {self.session.operator}: the step stops at the "
                      f"next safe point", "yellow")
        self._top()

    def action_cancel(self) -> None:
        if self.job is None and not self.rolling_back:
            self.notify("Nothing is running.", severity="information")
            return
        self.session.cancel(f"cancelled by {self.session.operator}")
        self._log(f"cancel requested by {self.session.operator}: pg_cancel_backend sent",
                  "bold yellow")

    def action_skip(self) -> None:
        sec = self.section
        nxt = self._next_step(sec if sec.phase is not None else None)
        if nxt is None:
            self.notify("No pending step to skip.", severity="information")
            return
        if self.job is not None:
            self.notify("Wait for the running job to finish before skipping.",
                        severity="warning")
            return

        def done(answer: tuple[str, str] | None) -> None:
            if answer:
                self.session.skip(nxt, answer[0])

        self.app.push_screen(PromptModal(f"Skip step {nxt}: why?",
                                         "the reason, for the journal"), done)

    def action_note(self) -> None:
        def done(answer: tuple[str, str] | None) -> None:
            if answer:
                self.session.note(answer[0], answer[1])

        self.app.push_screen(PromptModal("Add a note", "what happened, what you decided",
                                         channel_choice=True), done)

    def action_export(self) -> None:
        self._log("exporting the report …")
        self._export_job()

    def action_rehearse(self) -> None:
        if self.job is not None or self.rolling_back:
            self.notify(f"Busy: {self.job or 'rollback'}. A rehearsal runs alone.",
                        severity="warning")
            return
        choices = self.session.rehearsal_choices()
        if not choices:
            msg = self.session.no_rehearsal_target()
            self._log(msg, "yellow")
            self.notify(msg, title="Rehearsal", severity="warning", timeout=10)
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self._rehearse(choices[index])

        self.app.push_screen(ChoiceModal(
            "Rehearse on which database?",
            "Applies every step, verifies, rolls back, proves the schema and data are as "
            "before, applies again and rolls back again. Never on production.",
            [c.label for c in choices]), chosen)

    def _rehearse(self, choice: RehearsalChoice) -> None:
        def fn() -> Outcome:
            report = self.session.rehearse(
                choice, on_event=lambda e: self.post_message(self.RehearsalProgressed(e)))
            return Outcome("done" if report.ok else "failed", report.summary)

        self._start(f"rehearsal on {choice.target}", fn, needs_db=False,
                    confirm_production=False)

    def action_rollback(self) -> None:
        if not self._need_db():
            return
        if self.rolling_back:
            self.notify("The rollback is already running.", severity="information")
            return
        banner = self.query_one(TripBanner)
        if banner.tripped and banner.event is not None:
            e = banner.event
            self._rollback_now(f"trip: {e.trigger or Metric(e.metric).label} "
                               f"({format_value(Metric(e.metric), e.value)} vs {e.threshold})")
            return
        applied = [k for k, r in self.rows.items() if r.state in ("applied", "failed")]

        def answer(ok: bool | None) -> None:
            if ok:
                self._production_then(lambda: self._rollback_now(
                    f"requested by {self.session.operator}"))

        body = ("Roll back every applied step, newest first: "
                + (", ".join(reversed(applied)) if applied else "nothing seems applied")
                + ".\nA running step is cancelled first.")
        self.app.push_screen(ConfirmModal("Roll back now?", body, yes="Roll back",
                                          danger=True), answer)

    def _rollback_now(self, reason: str) -> None:
        """No question asked: the trip state is the confirmation."""
        self.rolling_back = True
        self.query_one(TripBanner).set_status(f"ROLLING BACK — {short(reason, 120)}", "-busy")
        self._log(f"rollback started by {self.session.operator}: {reason}", "bold magenta")
        self._top()
        self._rollback_job(reason)

    def action_dismiss_banner(self) -> None:
        banner = self.query_one(TripBanner)
        if banner.has_class("-shown") and not self.rolling_back:
            banner.dismiss()

    def action_toggle_gauges(self) -> None:
        self.toggle_class("-show-gauges")
        self.remove_class("-show-log")

    def action_toggle_log(self) -> None:
        self.toggle_class("-show-log")
        self.remove_class("-show-gauges")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_next", "run_phase", "skip", "rollback", "pause"):
            return True if self.session.online else None
        return True

    # ---------------------------------------------------------------- palette

    def commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return [
            ("Run next step", "x: run the next pending step", self.action_run_next),
            ("Run phase", "a: run every bound item of this phase", self.action_run_phase),
            ("Pause / resume", "p: pause at the next safe point, or resume", self.action_pause),
            ("Skip step", "s: skip the next pending step, with a reason", self.action_skip),
            ("Cancel statement", "c: cancel the running statement (pg_cancel_backend)",
             self.action_cancel),
            ("Roll back", "R: undo every applied step (asks first unless tripped)",
             self.action_rollback),
            ("Add note", "n: a timestamped, journaled note", self.action_note),
            ("Export report", "e: write the filled-in plan (Markdown) next to the plan",
             self.action_export),
            ("Rehearse", "h: apply, verify, roll back, compare, re-apply on staging",
             self.action_rehearse),
            ("Toggle gauges", "g: show or hide the gauges", self.action_toggle_gauges),
            ("Toggle log", "l: show or hide the log", self.action_toggle_log),
        ]
