"""The migtui app and its factory, shared by the CLI, the tests and the screenshot script."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from migtui.plan import Plan, load_plan, plan_checksum
from migtui.tui.model import Clock
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.main import MainScreen
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.session import Session

FREEZE_ENV = "MIGTUI_FREEZE"  # "1": fixed clock, no timers, for deterministic snapshots


class MigtuiApp(App[int]):
    TITLE = "migtui"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: Session, clock: Clock | None = None) -> None:
        super().__init__()
        self.session = session
        self.clock = clock or Clock()
        self.main: MainScreen | None = None

    def on_mount(self) -> None:
        self.main = MainScreen(self.session, self.clock)
        self.push_screen(self.main)
        if hasattr(signal, "SIGHUP"):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hangup)

    def hangup(self) -> None:
        """The terminal went away (a dropped SSH session): cancel the statement in flight,
        let the runner record it, close the journal, exit."""
        self.session.cancel("terminal hung up (SIGHUP)")
        self.exit(130)

    def on_unmount(self) -> None:
        self.session.close()

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
                    self.exit(130)

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
             plan: Plan | None = None) -> MigtuiApp:
    """Build the app on a plan. ``dsn`` None: a read-only view with the gauges off.

    ``frozen`` (default: the MIGTUI_FREEZE environment variable) fixes the clock and stops
    the timers, so snapshots are deterministic. ``sample`` False leaves the gauges off.
    """
    path = Path(plan_path)
    plan = plan or load_plan(path)
    if frozen is None:
        frozen = os.environ.get(FREEZE_ENV, "") not in ("", "0")
    who = operator or os.environ.get("MIGTUI_OPERATOR") or os.environ.get("USER") or "operator"
    session = Session(path, plan, dsn=dsn, target=target, operator=who,
                      plan_text_checksum=plan_checksum(path.read_text(encoding="utf-8")),
                      sample=sample)
    return MigtuiApp(session, Clock(frozen=frozen))
