"""The migtui app and its factory, shared by the CLI, the tests and the screenshot script."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from migtui.demo.tour import Tour
from migtui.execution.session import Session
from migtui.plan import Plan, load_plan, plan_checksum
from migtui.tui.model import Clock
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.main import MainScreen
from migtui.tui.screens.modals import ConfirmModal

FREEZE_ENV = "MIGTUI_FREEZE"  # "1": fixed clock, no timers, for deterministic snapshots


class MigtuiApp(App[int]):
    TITLE = "migtui"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(self, session: Session, clock: Clock | None = None, *, demo: bool = False,
                 tour: Tour | None = None) -> None:
        super().__init__()
        self.session = session
        self.clock = clock or Clock()
        self.demo = demo
        self.tour = tour
        self.main: MainScreen | None = None
        self._signals: dict[int, object] = {}

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
        why = "terminal hung up (SIGHUP)" if name == "SIGHUP" else f"stopped ({name})"
        self.session.cancel(why)
        self.exit(130, return_code=130)

    def on_unmount(self) -> None:
        self._release_signals()
        self.session.close()

    async def action_interrupt(self) -> None:
        """Ctrl+C in the demo: quit, asking first during a step, as q does."""
        await self.action_quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "interrupt":
            return self.demo  # elsewhere Ctrl+C keeps Textual's meaning (copy, "press q")
        return True

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
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "?: keys and panes", self.action_help)
        if self.main is not None:
            for title, help_text, callback in self.main.commands():
                yield SystemCommand(title, help_text, callback)


def make_app(plan_path: str | Path, dsn: str | None = None, target: str | None = None, *,
             operator: str | None = None, frozen: bool | None = None, sample: bool = True,
             plan: Plan | None = None, demo: bool = False, tour: bool = False,
             exporter: Any = None) -> MigtuiApp:
    """Build the app on a plan. ``dsn`` None: a read-only view with the gauges off.

    ``frozen`` (default: the MIGTUI_FREEZE environment variable) fixes the clock and stops
    the timers, so snapshots are deterministic. ``sample`` False leaves the gauges off.
    ``demo``: the header says DEMO and Ctrl+C quits too. ``tour``: a hint panel tells the
    presenter what to press next (``migtui.demo.tour``). ``exporter``: a metrics
    exporter the session's run feeds (``migtui.metrics``; the caller serves and closes it).
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
