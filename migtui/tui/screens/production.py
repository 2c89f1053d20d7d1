"""The production confirmation: type the database name once, then go on.

The question is the core's (``execution.confirm``, through ``Session.production_question``);
the modal is how the app asks it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.dom import DOMNode

from migtui.execution.confirm import WrongDatabase
from migtui.execution.session import Session
from migtui.tui.screens.modals import TypedConfirmModal

Log = Callable[[str, str], None]


class ProductionGate:
    """Asks once per session; a wrong database refuses every time."""

    def __init__(self, node: DOMNode, session: Session, log: Log) -> None:
        self.node = node
        self.session = session
        self.log = log
        self.confirmed = False

    def then(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` now if the target is not production or was confirmed; otherwise
        ask first and run it only on the right answer."""
        s = self.session
        try:
            question = s.production_question()
        except WrongDatabase as e:
            msg = f"{e}: refusing to run. Open the right database, or use --target."
            self.log(msg, "bold red")
            self.node.notify(msg, title="Wrong database", severity="error", timeout=10)
            return
        if question is None or self.confirmed:
            fn()
            return

        def done(ok: bool | None) -> None:
            if ok:
                self.confirmed = True
                self.log(f"production confirmed by {s.operator} (typed {question.database})",
                         "")
                fn()
            else:
                self.log("production not confirmed: nothing was run", "yellow")

        self.node.app.push_screen(TypedConfirmModal(
            "PRODUCTION target",
            f"Target {s.target!r} is production: database {question.database!r} on "
            f"{s.display_dsn}.\nType the database name to allow changes in this session.",
            question.database), done)
