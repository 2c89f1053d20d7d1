"""The app on a fleet: ``migtui fleet FLEET PLAN`` opens it on the fleet view.

Enter on a member ends this app with ``("open", member)``: the CLI then opens that member's
normal app view (``make_app`` on its connection string) and comes back here when it is
quit. ``R`` on an applied or failed member (a tripped one says its trip), or on a wave,
asks first, then rolls it back as ``fleet rollback --member/--wave`` does, in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from migtui.fleet.snapshot import FleetSnapshot
from migtui.fleet.status import trip_of
from migtui.secrets import scrub
from migtui.tui.screens.fleet import FleetScreen
from migtui.tui.screens.modals import ConfirmModal

# (member, wave) -> a one-line outcome; runs in a worker thread
Rollback = Callable[[str | None, int | None], str]


class FleetApp(App[Any]):
    TITLE = "migtui fleet"

    def __init__(self, fetch: Callable[[], FleetSnapshot], *, rollback: Rollback | None = None,
                 openable: Callable[[str], bool] = lambda _n: False, poll: float = 2.0,
                 frozen: bool = False) -> None:
        super().__init__()
        self.fetch = fetch
        self.rollback = rollback
        self.openable = openable
        self.fleet = FleetScreen(fetch, poll=poll, live=not frozen)
        self.rolling: str | None = None

    def on_mount(self) -> None:
        self.push_screen(self.fleet)

    async def action_quit(self) -> None:
        if not self.rolling:
            self.exit(None)
            return

        def answer(ok: bool | None) -> None:
            if ok:
                self.exit(None)

        self.push_screen(ConfirmModal(
            "Quit during the rollback?", f"The rollback of {self.rolling} is running in this "
            f"app. Quitting stops it at once; its members are taken over by another fleet "
            f"worker after the heartbeat timeout (or by `migtui fleet rollback`).",
            yes="Quit", danger=True), answer)

    def open_member(self, name: str) -> None:
        if self.rolling:
            self.notify(f"the rollback of {self.rolling} is running; open {name} when it is "
                        f"done", title="Open member", severity="warning")
            return
        if not self.openable(name):
            self.notify(f"{name}: its connection string is not known here (the fleet file "
                        f"does not resolve it on this host)", title="Open member",
                        severity="warning")
            return
        self.exit(("open", name))

    def ask_rollback(self, *, member: str | None = None, wave: int | None = None,
                     row: dict[str, Any] | None = None,
                     rows: list[dict[str, Any]] | None = None) -> None:
        if self.rollback is None:
            self.notify("this view cannot roll back (no plan loaded)", title="Rollback")
            return
        if self.rolling:
            self.notify(f"a rollback is running: {self.rolling}", title="Rollback")
            return
        if member is not None and row is not None:
            trip = trip_of(row)
            what = f"member {member}"
            body = (f"{member} is {row['state']}" + (f"; it tripped: {trip}" if trip else "")
                    + ". Roll back its applied steps (newest first), as `migtui fleet "
                    f"rollback --member {member}` does? The rollout stops: no new member "
                    "starts.")
        else:
            what = f"wave {wave}"
            tripped = sum(1 for r in rows or [] if trip_of(r))
            body = (f"Roll back the {len(rows or [])} applied or failed member(s) of wave "
                    f"{wave}" + (f" ({tripped} tripped)" if tripped else "")
                    + f", as `migtui fleet rollback --wave {wave}` does? The rollout stops.")

        def answer(ok: bool | None) -> None:
            if ok:
                self._start_rollback(what, member, wave)

        self.push_screen(ConfirmModal(f"Roll back {what}?", body, yes="Roll back",
                                      danger=True), answer)

    def _start_rollback(self, what: str, member: str | None, wave: int | None) -> None:
        self.rolling = what
        self.notify(f"rolling back {what}…", title="Rollback")
        rollback = self.rollback
        assert rollback is not None

        def work() -> None:
            try:
                out = rollback(member, wave)
                severity = "information"
            except Exception as e:  # noqa: BLE001 - said on screen, the app goes on
                out, severity = scrub(f"{what}: rollback failed: {type(e).__name__}: {e}"), \
                    "error"
            self.call_from_thread(self._rolled_back, out, severity)

        self.run_worker(work, thread=True, group="fleet-rollback", exit_on_error=False)

    def _rolled_back(self, text: str, severity: str) -> None:
        self.rolling = None
        self.notify(text, title="Rollback", severity=severity,  # type: ignore[arg-type]
                    timeout=15)
        self.fleet.read()
