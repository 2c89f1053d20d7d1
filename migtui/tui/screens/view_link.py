"""The main screen's trip banner and the database link: what R would roll back, the
banner from the session's live trip state, and the header, strip and gauges while the
connection is lost. A mixin of ``RunView`` (``screens.view``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from migtui.runner.rollback import undoes
from migtui.tui.model import StepRow, secs
from migtui.tui.widgets.banner import Context as BannerContext
from migtui.tui.widgets.banner import TripBanner
from migtui.tui.widgets.gauges import GaugesPanel, GaugeStrip

if TYPE_CHECKING:
    from migtui.execution.session import Session
    from migtui.plan.model import Plan
    from migtui.tui.model import Clock


class LinkView:
    """Needs the screen's ``session``, ``clock``, ``plan``, ``rows`` and ``query_one``."""

    session: Session
    clock: Clock
    plan: Plan
    rows: dict[str, StepRow]
    watch_text: str
    query_one: Any
    job: Any
    rolling_back: bool

    def applied_steps(self) -> list[str]:
        """What R would roll back, in plan order: the runner's own rule (a failed SQL step
        left nothing behind; a failed backfill did)."""
        return [s.id for s in self.plan.steps
                if undoes(s, self.rows.get(s.id, StepRow()).state)]

    def _banner(self) -> None:
        """The trip banner from the session's live trip state, with the tripped gauge's
        value now (none while the connection is lost: its last value is not now)."""
        trip = self.session.trip.event
        lost = self.connection_lost()
        gauge = self.session.guard.states.get(trip.metric) if trip is not None else None
        self.query_one(TripBanner).show(self.session.trip, self.clock, BannerContext(
            applied=tuple(self.applied_steps()), paused=self.session.paused_by_trip,
            lost=lost, watching=self.watch_text if self.session.watching is not None else "",
            now=gauge.value if gauge is not None and not lost else None,
            running=self.job is not None or self.rolling_back))

    def connection_lost(self) -> str:
        """'connection lost since 12:03:04, reconnecting (try 3)' ("" while connected)."""
        return self.session.link.text(self.clock.hms)

    def _show_link(self) -> None:
        """While the connection is lost: the header, the strip and every gauge say so,
        greyed, with the age of their last sample."""
        lost = self.connection_lost()
        seconds = self.session.link.age(self.clock.now()) if lost else None
        age = secs(seconds) if seconds is not None else ""  # "": no sample ever
        gauges = self.query_one(GaugesPanel)
        if lost or gauges.has_class("-stale"):
            gauges.stale(lost, age)
        if lost:
            self.query_one(GaugeStrip).show(self.session.guard.states, None, Text(
                f"LOST {age} ago" if age else "NOT REACHED", style="bold reverse red"))
