"""The main screen's answers to its workers' results: the history read (and the resume
offer after the first), a job's, a rollback's or an export's end (in the demo, the gauges
over the run plotted: its final screen), a rehearsal's report.
A mixin of ``RunView`` (``screens.view``); its ``Worker.StateChanged`` handler calls in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from migtui.demo.tour import StoryState
from migtui.plots import GaugeSeries, gauges_path
from migtui.runner import Outcome, StepStatus
from migtui.secrets import scrub
from migtui.tui.model import Section, StepRow, phase_of, short
from migtui.tui.screens import workers
from migtui.tui.screens.gauges_plot import GaugesPlotScreen
from migtui.tui.screens.modals import ConfirmModal, ReportModal
from migtui.tui.screens.resume import resume_offer
from migtui.tui.screens.workers import Finished
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.sections import SectionsNav
from migtui.tui.widgets.steps import BackfillProgress
from migtui.tui.widgets.tour import TourPanel

if TYPE_CHECKING:
    from migtui.execution.session import Session
    from migtui.plan.model import Plan


def shown_path(path: str) -> str:
    """A path as the operator would type it: relative to the working directory when
    inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return path


class ResultsView:
    """Needs the screen's state (``session``, ``plan``, ``rows``, ``sections``, ``job``,
    ``rolling_back``, ``rehearsal_stage``) and its helpers (``_log``, ``_banner``,
    ``_refresh_views``, ``_next_step``, ``action_run_phase``)."""

    session: Session
    plan: Plan
    rows: dict[str, StepRow]
    sections: list[Section]
    job: str | None
    rolling_back: bool
    rehearsal_stage: str
    statuses_known: bool
    demo: bool
    _shown_report: object
    query_one: Any
    notify: Any
    app: Any
    _log: Any
    _banner: Any
    _refresh_views: Any
    _next_step: Any
    action_run_phase: Any
    _start_watching: Any
    tour: Any

    def _statuses(self, statuses: list[StepStatus], first: bool) -> None:
        for st in statuses:
            row = self.rows.setdefault(st.step_id, StepRow())
            if row.state in ("running", "rolling_back") and self.job is not None:
                continue
            row.state = st.state
            if st.step_id in self.session.skipped and st.state != "applied":
                row.state = "skipped"
            if st.last is not None:
                row.rows = st.last.rows if row.rows is None else row.rows
                if row.elapsed is None and st.last.finished_at is not None:
                    # the history's time, so a reopened app's Time column is not empty
                    row.elapsed = (st.last.finished_at - st.last.started_at).total_seconds()
                if st.last.error:
                    row.result = st.last.error
        self.statuses_known = True
        self._refresh_views()
        if first and self.session.watching is not None:
            self._start_watching()
        elif first:
            self._log(f"connected: {self.session.database} · "
                      f"{sum(r.state == 'applied' for r in self.rows.values())}/"
                      f"{len(self.rows)} steps applied")
            self._follow_story(statuses)
            self._offer_resume(statuses)

    def _follow_story(self, statuses: list[StepStatus]) -> None:
        """The demo's tour starts where the story stands (an earlier demo left steps
        applied, a baseline recorded), not at its first hint."""
        if self.tour is None:
            return
        applied = frozenset(st.step_id for st in statuses if st.state == "applied")
        if self.tour.follow(StoryState(applied, self.session.baseline is not None)):
            self.query_one(TourPanel).show_hint()
            n, of = self.tour.position
            self._log(f"tour: {n}/{of}, where the story stands (migtui demo --reset starts "
                      f"it over)")

    def _tour_moved(self) -> None:
        """The tour moved on: past the beats the story already holds too (a baseline taken
        again after a restart, with steps an earlier demo left applied)."""
        applied = frozenset(k for k, r in self.rows.items() if r.state == "applied")
        self.tour.follow(StoryState(applied, self.session.baseline is not None))
        self.query_one(TourPanel).show_hint()

    def _offer_resume(self, statuses: list[StepStatus]) -> None:
        nxt = self._next_step(None)
        offer = resume_offer(statuses, self.session.database, nxt,
                             phase_of(self.plan, self.sections, nxt) if nxt else None)
        for line, line_style in offer.log:
            self._log(line, line_style)
        if not offer.body:
            return
        phase = offer.phase

        def answer(ok: bool | None) -> None:
            if not ok:
                return
            if phase is not None:
                self.query_one(SectionsNav).select_key(phase.key)
                self.query_one(ContentPane).show(phase)
            self.action_run_phase(phase)

        # it runs the rest of the phase: Enter answers No, as every question that changes
        # the database does (a tired DBA pressed Enter to read on, and the phase ran)
        self.app.push_screen(ConfirmModal("Resume this plan?", offer.body, yes="Resume",
                                          danger=True), answer)

    def _finished(self, done: Finished) -> None:
        o = done.outcome or Outcome("failed", done.error)
        if done.group == workers.ROLLBACK:
            self.rolling_back = False
            if o.status != "rolled_back":
                self.session.trip.failed(o.message)
            self._banner()
            self.query_one(BackfillProgress).finish()
        elif done.group == workers.EXPORT:
            if o.ok:
                shown = shown_path(o.message)
                self._log(f"report written: {shown}", "bold green")
                if self.demo:  # the final screen names the report (a toast would cover it)
                    self.show_gauges_plot(o.message)
                else:
                    self.notify(shown, title="Report exported", timeout=10)
            else:
                self._log(f"export failed: {o.message}", "bold red")
                self.notify(short(o.message, 200), title="Export failed", severity="error")
        else:
            self.job = None
            self.rehearsal_stage = ""
            if o.status == "rollback_requested":
                self._log(f"{done.name}: stopped for the rollback", "yellow")
            else:
                self._log(f"{done.name}: {o.status} — {o.message}",
                          "green" if o.ok else "bold red")
                if not o.ok:
                    self.notify(short(o.message, 200), title=f"{done.name}: {o.status}",
                                severity="error", timeout=8)
            self.query_one(BackfillProgress).finish()
            self._show_rehearsal_report()
        self._refresh_views()

    def show_gauges_plot(self, report: str = "") -> None:
        """The gauges over this session's run, plotted (the series the PNG is drawn from)."""
        picture = gauges_path(report) if report else None
        self.app.push_screen(GaugesPlotScreen(
            GaugeSeries.from_state(self.session.state),
            report=shown_path(report) if report else "",
            picture=picture.name if picture is not None and picture.exists() else ""))

    def _show_rehearsal_report(self) -> None:
        report = self.session.last_rehearsal
        if report is None or report is self._shown_report:
            return
        self._shown_report = report
        title = ("Rehearsal clean" if report.ok else "Rehearsal FAILED") + \
            f" on {report.target} ({report.database})"
        self.app.push_screen(ReportModal(title, scrub(report.text()), ok=report.ok))
