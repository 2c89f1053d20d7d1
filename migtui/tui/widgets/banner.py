"""The trip banner: which metric tripped, its value against threshold and baseline, for
how long, and the one key that rolls back."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from migtui.events import ThresholdChanged
from migtui.plan.model import Metric
from migtui.sampler import format_value
from migtui.tui.model import secs


class TripBanner(Static):
    DEFAULT_CSS = """
    TripBanner { display: none; height: auto; background: $error; color: $text;
                 padding: 0 1; text-style: bold; }
    TripBanner.-shown { display: block; }
    TripBanner.-done { background: $success-darken-2; }
    TripBanner.-busy { background: $warning-darken-2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event: ThresholdChanged | None = None
        self.status = ""  # "" while tripped; else the rollback's progress or outcome

    @property
    def tripped(self) -> bool:
        return self.event is not None and not self.status

    def trip(self, event: ThresholdChanged, held: float | None) -> None:
        self.event = event
        self.status = ""
        self.set_classes("-shown")
        self.render_trip(held)

    def render_trip(self, held: float | None) -> None:
        if self.status:
            self.update(Text(self.status))
            return
        e = self.event
        if e is None:
            return
        m = Metric(e.metric)
        t = Text()
        t.append("ROLLBACK TRIGGER TRIPPED: ")
        t.append(e.trigger or m.label)
        t.append(f"\n{m.label} {format_value(m, e.value)} vs threshold {e.threshold}")
        if e.limit is not None:
            t.append(f" (limit {format_value(m, e.limit)})")
        t.append(f", baseline {format_value(m, e.baseline)}" if e.baseline is not None
                 else ", no baseline")
        t.append(f", for {secs(held)}")
        if e.policy and e.policy != "offer":
            t.append(f" · policy: {e.policy}")
        t.append("\nPress R to roll back now · Esc dismisses (the gauges keep watching)")
        self.update(t)

    def set_status(self, text: str, css: str) -> None:
        self.status = text
        self.set_classes(f"-shown {css}")
        self.render_trip(None)

    def dismiss(self) -> None:
        self.event = None
        self.status = ""
        self.set_classes("")
