"""Watch mode on the main screen: another migtui run holds the plan (a headless run, or
the app left in a lost SSH session).

The session (``execution.watching``) reads; the screen shows: the header says WATCHING
and names the holder and its current step, the steps follow the history, the log and the
backfill bar follow the other run's journal (its records replayed as events), the gauges
are the app's own. A thread worker polls every few seconds; once the lock is free, a
modal offers to take over: open exclusively, then the usual resume offer. A mixin of
``RunView`` (``screens.view``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migtui.execution.watching import WATCH_EVERY, WatchUpdate
from migtui.secrets import scrub
from migtui.tui.model import StepRow, mono_at
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.screens.workers import EventReceived, Finished

if TYPE_CHECKING:
    from textual.timer import Timer

    from migtui.execution.session import Session
    from migtui.tui.screens.workers import Workers

TAKE_OVER = ("The other migtui run on this plan has ended: the run lock is free.\n\n"
             "Take over: this app opens the plan for itself, then offers to resume from "
             "where that run stopped.")


class WatchView:
    session: Session
    jobs: Workers
    watch_text: str
    _watch_timer: Timer | None
    _takeover_offered: bool
    app: Any
    notify: Any
    set_interval: Any
    post_message: Any
    _log: Any
    _top: Any
    _banner: Any
    _statuses: Any
    _mono: Any
    clock: Any
    _watch_update: WatchUpdate | None
    rows: dict[str, StepRow]

    def _start_watching(self) -> None:
        w = self.session.watching
        assert w is not None
        self.watch_text = "another migtui run holds this plan"
        self._log(f"watching: {scrub(w.locked)}", "bold yellow")
        self._log("read-only while that run holds the lock: x, a, R, ticks and notes are "
                  "off. When it ends you are offered to take over", "yellow")
        self._told_how = ""
        self.notify("Another migtui run holds this plan: watching it, read-only. You are "
                    "offered to take over when it ends.", title="Watching", timeout=10)
        self._takeover_offered = False
        if self._watch_timer is None:
            self._watch_timer = self.set_interval(WATCH_EVERY, self.jobs.watch)
        self.jobs.watch()
        self._top()

    def _stop_watching(self) -> None:
        if self._watch_timer is not None:
            self._watch_timer.stop()
            self._watch_timer = None

    def _watched(self, done: Finished) -> None:
        """A watch round's result: the other run's events, the history, the holder."""
        if self.session.watching is None:
            return  # taken over meanwhile
        if done.error:
            self._log(f"watching: cannot read the other run: {done.error}", "red")
            return
        u: WatchUpdate = done.update
        for event in u.events:
            self.post_message(EventReceived(event))
        self._statuses(u.statuses, first=False)
        row = self.rows.get(u.step) if u.step else None
        if row is not None and row.started_mono is None and u.step_since is not None:
            row.started_mono = mono_at(u.step_since, self._mono())  # it ran when we opened
        self._watch_update = u
        self.watch_text = scrub(u.summary(self.clock.now()))
        how = u.how_to_stop()
        if not u.free and how != getattr(self, "_told_how", ""):  # once, and when it changes
            self._told_how = how
            self._log(scrub(how), "yellow")
        self._top()
        self._banner()
        if not u.free:
            self._takeover_offered = False
        elif not self._takeover_offered:
            self._offer_take_over()

    def _watch_tick(self) -> None:
        """Each second: the holder's "for 1m05s" goes on between polls, as the Steps
        table's Time does (they disagreed by up to a poll)."""
        u = self._watch_update
        if u is not None and self.session.watching is not None and not u.free:
            self.watch_text = scrub(u.summary(self.clock.now()))

    def _offer_take_over(self) -> None:
        self._takeover_offered = True
        self._log("the other run ended: the run lock is free", "bold green")

        def answer(ok: bool | None) -> None:
            if ok:
                self._take_over()
            else:
                self._log("still watching; quit and open the plan again to take over",
                          "yellow")

        self.app.push_screen(ConfirmModal("Take over this run?", TAKE_OVER, yes="Take over"),
                             answer)

    def _take_over(self) -> None:
        self._stop_watching()
        self._log(f"taking over: opening the plan for {self.session.operator}")
        self.jobs.take_over()
