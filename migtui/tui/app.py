"""The migtui app and its factory, shared by the CLI, the tests and the screenshot script."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.screen import Screen

from migtui.demo.tour import Tour
from migtui.execution.session import Session
from migtui.journal import journal_path
from migtui.plan import Plan, load_plan, plan_checksum
from migtui.secrets import scrub
from migtui.tui import keys
from migtui.tui.model import Clock
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.main import MainScreen
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.screens.view_results import shown_path
from migtui.tui.terminal import AFTER_CLOSE_S, LAST_RESORT_S, terminal_driver

FREEZE_ENV = "MIGTUI_FREEZE"  # "1": fixed clock, no timers, for deterministic snapshots


class MigtuiApp(App[int]):
    TITLE = "migtui"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = keys.bindings("app")

    def __init__(self, session: Session, clock: Clock | None = None, *, demo: bool = False,
                 tour: Tour | None = None) -> None:
        super().__init__()
        self.session = session
        self.clock = clock or Clock()
        self.demo = demo
        self.tour = tour
        self.main: MainScreen | None = None
        self._signals: dict[int, object] = {}
        self._hung_up = False
        self._closed_at: float | None = None  # the session closed: journal ended, lock free
        self.finished = threading.Event()  # run() returned

    def run(self, **kwargs: Any) -> int | None:  # type: ignore[override]
        try:
            return super().run(**kwargs)
        finally:
            self.finished.set()

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver; on a POSIX terminal, one that notices the terminal going
        away (``TerminalDriver``). The web driver (``migtui serve``) is left as it is."""
        driver = super().get_driver_class()
        terminal = terminal_driver()
        return terminal if terminal is not None and driver in terminal.__bases__ else driver

    def on_mount(self) -> None:
        self.main = MainScreen(self.session, self.clock, demo=self.demo, tour=self.tour)
        self.push_screen(self.main)
        self._catch_signals()

    def _catch_signals(self) -> None:
        """SIGHUP (a dropped SSH session) and SIGTERM end the app like a confirmed quit.
        The previous handlers come back when the app ends, so the caller (the demo's
        cleanup) still sees a later signal."""
        loop = asyncio.get_running_loop()
        for name in ("SIGHUP", "SIGTERM"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, self.hangup, name)
                self._signals[sig] = previous

    def _release_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig, previous in self._signals.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, TypeError):
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)  # type: ignore[arg-type]
        self._signals.clear()

    def hangup(self, name: str = "SIGHUP") -> None:
        """The terminal went away (a dropped SSH session) or we were told to stop: cancel
        the statement in flight, let the runner record it, close the journal, exit."""
        if self._hung_up:
            return
        self._hung_up = True
        why = {"SIGHUP": "terminal hung up (SIGHUP)",
               "terminal": "the terminal went away"}.get(name, f"stopped ({name})")
        self.session.cancel(why)
        self.exit(130, return_code=130)

    def terminal_lost(self) -> None:
        """The terminal hung up, with or without a SIGHUP here (the driver saw it)."""
        self.hangup("terminal")

    def terminal_lost_last_resort(self) -> None:
        """From the driver's watcher thread, once the terminal is lost: if the app has not
        ended ``LAST_RESORT_S`` later (its clean exit is stuck), or ``AFTER_CLOSE_S``
        after its session closed (a thread it waits for is stuck), cancel the running statement (it would go on on the
        server) and stop the process: SIGTERM first, so a caller's cleanup runs (the demo
        stops its server), then, 10 s later, a hard exit; the server frees the run lock
        with the connection. An app that ended leaves the rest to its caller."""
        deadline = time.monotonic() + LAST_RESORT_S
        while not self.finished.wait(0.5):
            now, closed_at = time.monotonic(), self._closed_at
            if now > deadline or (closed_at is not None and now > closed_at + AFTER_CLOSE_S):
                break
        else:
            return
        with contextlib.suppress(Exception):
            self.session.cancel("the terminal went away")
        os.kill(os.getpid(), signal.SIGTERM)
        if self.finished.wait(10.0):
            return
        os._exit(130)

    def on_unmount(self) -> None:
        self._release_signals()
        self.session.close()
        self._closed_at = time.monotonic()

    async def action_interrupt(self) -> None:
        """Ctrl+C: copy the selected text if there is some; otherwise what q does (quit,
        asking first while something runs)."""
        focused = self.focused
        selected = getattr(focused, "selected_text", "") if focused is not None else ""
        selected = selected or self.screen.get_selected_text() or ""
        if selected:
            self.copy_to_clipboard(selected)
            return
        await self.action_quit()

    def screenshot(self) -> Path | None:
        """Save an SVG of the screen in the journal's folder (``.migtui/screenshots/``
        beside the plan), made if missing, and say where it went."""
        folder = journal_path(self.session.path, self.session.plan.id).parent / "screenshots"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = Path(self.save_screenshot(path=str(folder)))
        except OSError as e:
            self.notify(scrub(f"cannot save the screenshot in {folder}: {e}"),
                        title="Screenshot", severity="error", timeout=10)
            return None
        self.notify(shown_path(str(saved)), title="Screenshot saved", timeout=10)
        return saved

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        main = self.main
        if main is not None and (main.job is not None or main.rolling_back):
            what = "The rollback" if main.rolling_back else f"A job ({main.job})"

            def answer(ok: bool | None) -> None:
                if ok:
                    self.session.cancel("the operator quit")
                    self.exit(130, return_code=130)

            self.push_screen(ConfirmModal(
                "Quit while running?",
                f"{what} is running. Quitting cancels the running statement; the history "
                f"records it as failed and the journal keeps everything so far.",
                yes="Quit", danger=True), answer)
            return
        self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's wants ~/Downloads to exist
                command = SystemCommand(
                    "Screenshot", "Save an SVG of the screen beside the journal "
                    "(.migtui/screenshots/)", lambda: self.set_timer(0.1, self.screenshot))
            yield command
        commands = keys.commands("app", self)
        if self.main is not None:
            commands += self.main.commands()
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)


def make_app(plan_path: str | Path, dsn: str | None = None, target: str | None = None, *,
             operator: str | None = None, frozen: bool | None = None, sample: bool = True,
             plan: Plan | None = None, demo: bool = False, tour: bool = False,
             exporter: Any = None) -> MigtuiApp:
    """Build the app on a plan. ``dsn`` None: a read-only view with the gauges off.

    ``frozen`` (default: the MIGTUI_FREEZE environment variable) fixes the clock and stops
    the timers, so snapshots are deterministic. ``sample`` False leaves the gauges off.
    ``demo``: the header says DEMO. ``tour``: a hint panel tells the presenter what to press
    next (``migtui.demo.tour``). ``exporter``: a metrics exporter the session's run feeds
    (``migtui.metrics``; the caller serves and closes it).
    """
    path = Path(plan_path)
    plan = plan or load_plan(path)
    if frozen is None:
        frozen = os.environ.get(FREEZE_ENV, "") not in ("", "0")
    who = operator or os.environ.get("MIGTUI_OPERATOR") or os.environ.get("USER") or "operator"
    session = Session(path, plan, dsn=dsn, target=target, operator=who,
                      plan_text_checksum=plan_checksum(path.read_text(encoding="utf-8")),
                      sample=sample, exporter=exporter)
    return MigtuiApp(session, Clock(frozen=frozen), demo=demo, tour=Tour() if tour else None)
