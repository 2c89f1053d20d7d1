"""The main screen: its layout, its keys and their actions.

What it shows and how it follows the run is ``RunView`` (``screens.view``); the keys come
from the one key table (``tui.keys``); the database work runs in ``screens.workers``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from migtui.execution.session import RehearsalChoice
from migtui.rehearsal import RehearsalError
from migtui.runner import Outcome
from migtui.secrets import scrub
from migtui.tui import keys
from migtui.tui.model import Section, StepRow, short
from migtui.tui.screens.modals import ChoiceModal, ConfirmModal, PromptModal
from migtui.tui.screens.view import RunView
from migtui.tui.screens.workers import RehearsalProgressed
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.checklist import ChecklistView
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.gauges import GaugesPanel, GaugeStrip
from migtui.tui.widgets.log import LogPane
from migtui.tui.widgets.sections import SectionsNav
from migtui.tui.widgets.steps import BackfillProgress
from migtui.tui.widgets.tour import TourPanel


class MainScreen(RunView):
    CSS_PATH = Path(__file__).with_name("main.tcss")
    BINDINGS = keys.bindings("screen")

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
                                  traces=self.session.step_traces,
                                  risks=lambda: self.session.risks,
                                  baseline=self._baseline_text, id="content")
                yield LogPane(id="log")
            yield GaugesPanel(self.rules, id="gauges")
        if self.tour is not None:
            yield TourPanel(self.tour, id="tour")
        yield Static(id="keys")  # the key bar: keys.footer, most needed first

    def commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """The command palette's entries for this screen, from the key table."""
        return keys.commands("screen", self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_next", "run_phase", "rollback") and self.session.watching:
            return True  # they say why not: another migtui run holds the plan
        if action in ("run_next", "run_phase", "skip", "rollback", "pause"):
            return True if self.session.online else None
        return True

    # ---------------------------------------------------------------- helpers

    def _read_only(self, what: str) -> bool:
        """Watch mode: say why ``what`` is off (True), else False."""
        if self.session.watching is None:
            return False
        self.notify(f"{what} is off while another migtui run holds this plan "
                    f"({self.watch_text}). You are offered to take over when it ends.",
                    title="Watching: read-only", severity="warning", timeout=8)
        return True

    def _need_db(self) -> bool:
        if self._read_only("Running and rolling back"):
            return False
        if not self.session.online:
            self.notify("Cannot open the database: trying again; nothing runs until it "
                        "opens." if self._unopened is not None or self._open_tries else
                        "No database: open the plan with --dsn URL to run it.",
                        severity="warning")
            return False
        if not self.statuses_known:
            self.notify("Still opening the database: nothing runs until its history is "
                        "read.", severity="warning")
            return False
        lost = self.connection_lost()
        if lost:
            self.notify(f"{lost}. Nothing runs until it returns; the gauges keep trying.",
                        title="No database", severity="warning", timeout=8)
            return False
        return True

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
            self.jobs.job(label, fn)

        def gated() -> None:
            if confirm_production:
                self.production.then(go)
            else:
                go()

        trip = self.session.trip
        if not (trip.tripped or self.session.paused_by_trip):
            gated()
            return

        def answer(ok: bool | None) -> None:
            if ok:
                when = "during" if trip.tripped else "after"
                self._log(f"{self.session.operator} starts {label} {when} the trip: "
                          f"{trip.describe()}", "bold yellow")
                self.session.resume()
                gated()

        state = "is tripped now" if trip.tripped else "paused the run (it has recovered)"
        self.app.push_screen(ConfirmModal(
            "Start new work during a trip?" if trip.tripped else
            "Start new work after a trip?",
            f"Rollback trigger {trip.describe()} {state}.\nStart {label} anyway?",
            yes="Start anyway", danger=True), answer)

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

    # ---------------------------------------------------------------- widgets' messages

    @on(SectionsNav.SectionChosen)
    def _section(self, event: SectionsNav.SectionChosen) -> None:
        content = self.query_one(ContentPane)
        if content.section != event.section:
            content.show(event.section)

    @on(ChecklistView.ItemToggled)
    def _toggled(self, event: ChecklistView.ItemToggled) -> None:
        if self._read_only("Ticking"):
            self.query_one(ContentPane).refresh_checklists()  # the tick did not happen
            return
        self.session.tick(event.checklist, event.item, event.done)

    @on(ChecklistView.ItemRunRequested)
    def _run_item(self, event: ChecklistView.ItemRunRequested) -> None:
        cl, item = event.checklist, event.item
        self._start(f"item {short(item.text, 30)}", lambda: self.session.run_item(cl, item))

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
        phase = sec.phase
        if not self.session.phase_todo(phase):
            self.notify("Every bound item of this phase is done; tick the manual ones.",
                        severity="information")
            return
        self._start(f"phase {phase.name}", lambda: self.session.run_phase(phase))

    def action_pause(self) -> None:
        ctl = self.session.control
        if ctl.paused:
            self.session.resume()
            self._log(f"resumed by {self.session.operator}", "yellow")
        elif self.job is None:
            self.notify("Nothing is running.", severity="information")
            return
        else:
            ctl.pause(f"paused by {self.session.operator}")
            self._log(f"pause requested by {self.session.operator}: the step stops at the "
                      f"next safe point", "yellow")
        self._top()
        self._banner()

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
        if self._read_only("Adding a note"):
            return

        def done(answer: tuple[str, str] | None) -> None:
            if answer:
                self.session.note(answer[0], answer[1])

        self.app.push_screen(PromptModal("Add a note", "what happened, what you decided",
                                         channel_choice=True), done)

    def action_export(self) -> None:
        self._log("exporting the report …")
        self.jobs.export()

    def action_rehearse(self) -> None:
        if self._read_only("Rehearsing"):
            return
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
            try:
                report = self.session.rehearse(
                    choice, on_event=lambda e: self.post_message(RehearsalProgressed(e)))
            except RehearsalError as e:  # a refusal (already applied, production): no crash
                return Outcome("failed", scrub(str(e)))
            return Outcome("done" if report.ok else "failed", report.summary)

        self._start(f"rehearsal on {choice.target}", fn, needs_db=False,
                    confirm_production=False)

    def action_rollback(self) -> None:
        lost = self.connection_lost()
        if lost:  # nothing could roll back: say what happens when it returns
            self.notify(f"{lost}. R is offered again when it returns; the steps stay "
                        f"as they are until then.", title="No database", severity="warning",
                        timeout=8)
            return
        if not self._need_db():
            return
        if self.rolling_back:
            self.notify("The rollback is already running.", severity="information")
            return
        trip = self.session.trip
        applied = self.applied_steps()
        listed = ", ".join(reversed(applied)) if applied else "nothing seems applied"
        running = (f"\nThe running job ({self.job}) is cancelled first."
                   if self.job is not None else "")
        if trip.tripped and trip.event is not None:
            # one question, listing what goes: quick, but never a single accidental key
            reason = f"trip: {trip.describe()}"

            def now(ok: bool | None) -> None:
                if ok:
                    self._rollback_now(reason)

            self.app.push_screen(ConfirmModal(
                "Roll back now? (trip)",
                f"{trip.describe()} is tripped.\nRoll back, newest first: {listed}.{running}",
                yes="Roll back", danger=True), now)
            return

        def answer(ok: bool | None) -> None:
            if ok:
                self.production.then(lambda: self._rollback_now(
                    f"requested by {self.session.operator}"))

        body = f"Roll back every applied step, newest first: {listed}.{running}"
        self.app.push_screen(ConfirmModal("Roll back now?", body, yes="Roll back",
                                          danger=True), answer)

    def action_dismiss_banner(self) -> None:
        if self.session.trip.shown and not self.rolling_back:
            self.query_one(TripBanner).dismiss()

    def action_toggle_gauges(self) -> None:
        self.toggle_class("-show-gauges")
        self.remove_class("-show-log")

    def action_toggle_log(self) -> None:
        self.toggle_class("-show-log")
        self.remove_class("-show-gauges")
