"""The gauges over the run, plotted in the terminal: the demo's final screen (after the
report is exported), the same numbers as the PNG beside the report.

Latency p95 with its baseline and the trip limit, the backfill rate, replica lag when
there is room (and a standby), a vertical line at each trip and rollback; under them, one
line per trip and rollback. Esc, q or Enter closes it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from migtui.plots import GaugeSeries
from migtui.plots.series import clock
from migtui.plots.terminal import moments_text, panels, span
from migtui.tui.widgets.gauge_plot import GaugePlot

ROOM_FOR_LAG = 32  # rows: below this, the replica lag panel stays out (the PNG has it)


class GaugesPlotScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    GaugesPlotScreen { align: center middle; background: $background 60%; }
    #gauges-plot { width: 100%; max-width: 140; height: 100%; max-height: 44;
                   border: thick $primary; background: $surface; padding: 0 1; }
    #gauges-plot-title { text-style: bold; width: 100%; }
    #gauges-plot-moments { height: auto; max-height: 3; color: $text-muted; }
    #gauges-plot-hint { color: $text-muted; width: 100%; height: auto; max-height: 2; }
    #gauges-plot-empty { height: 1fr; content-align: center middle; }
    """
    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, series: GaugeSeries, *, report: str = "", picture: str = "") -> None:
        super().__init__()
        self.series = series
        self.report = report
        self.picture = picture
        self.panels = panels(series)

    def compose(self) -> ComposeResult:
        s = self.series
        with Vertical(id="gauges-plot"):
            start = s.start.strftime("%H:%M:%S UTC") if s.start else ""
            yield Label(f"The gauges over the run · {clock(span(s))} from {start}"
                        if self.panels else "The gauges over the run", id="gauges-plot-title")
            if not self.panels:
                yield Static("No gauge samples in this session yet: a run with the gauges "
                             "records one every 5 s.", id="gauges-plot-empty")
            for p in self.panels:
                yield GaugePlot(p, span(s), id=f"plot-{p.key}")
            moments = moments_text(s)
            if len(moments) > 3:
                moments = [*moments[:2], f"… and {len(moments) - 2} more"]
            yield Static("\n".join(moments), id="gauges-plot-moments")
            where = [f"report: {self.report}"] if self.report else []
            if self.picture:
                where.append(f"picture beside it: {self.picture}")
            yield Static(" · ".join([*where, "Esc closes"]), id="gauges-plot-hint")

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        lag = self.query("#plot-lag")
        if lag:
            lag.first().display = self.app.size.height >= ROOM_FOR_LAG

    def action_close(self) -> None:
        self.dismiss(None)
