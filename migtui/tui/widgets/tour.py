"""The tour's hint panel (``migtui demo --tour``): what to press next, what to look at."""

from __future__ import annotations

import contextlib
from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from migtui.demo.tour import Tour


class TourPanel(Static):
    DEFAULT_CSS = """
    TourPanel { height: auto; max-height: 3; background: $accent 20%;
                padding: 0 1; }
    """

    def __init__(self, tour: Tour, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tour = tour

    def on_mount(self) -> None:
        self.show_hint()

    def show_hint(self) -> None:
        t = Text()
        hint = self.tour.current
        n, of = self.tour.position
        if hint is None:
            t.append(f" TOUR {of}/{of} ", style="bold reverse green")
            t.append(" The story is told.", style="bold")
            if self.tour.report_path:
                path = Path(self.tour.report_path)
                with contextlib.suppress(ValueError, OSError):
                    path = path.resolve().relative_to(Path.cwd().resolve())
                t.append(f" Report: {path}")
            t.append("\nq quits: the traffic and the demo server stop.", style="dim")
        else:
            t.append(f" TOUR {n}/{of} ", style="bold reverse")
            t.append(f" {hint.title}", style="bold")
            t.append("\npress ", style="bold")
            t.append(hint.press)
            t.append("\nlook  ", style="bold")
            t.append(hint.look, style="italic")
        self.update(t)
