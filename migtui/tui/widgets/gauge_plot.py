"""One panel of the gauges over a run, plotted in the terminal (textual-plotext).

It draws what ``migtui.plots.terminal.panels`` gives, the numbers the PNG beside the
report is drawn from: the lines (cut where no sample came), the levels (baseline, trip
limit) as labelled horizontal lines, and a vertical line with ``T`` at each trip, ``R`` at
each rollback.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from migtui.plots.series import clock
from migtui.plots.terminal import COLORS, Panel


class GaugePlot(PlotextPlot):
    DEFAULT_CSS = """
    GaugePlot { height: 1fr; min-height: 7; }
    """

    def __init__(self, panel: Panel, duration: float, *, id: str | None = None) -> None:
        super().__init__(id=id, classes=f"gauge-plot -{panel.key}")
        self.panel = panel
        self.duration = max(duration, 1.0)

    def on_mount(self) -> None:
        super().on_mount()
        self.draw()

    def draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        panel, end = self.panel, self.duration
        plt.frame(False)
        # the levels first: a line drawn later wins a shared cell, and the data matters more
        for level in panel.levels:
            plt.plot([0.0, end], [level.y, level.y], color=level.color, marker="braille",
                     label=f"{level.label} {level.y:.3g} {panel.unit}")
        for line in panel.lines:
            for i, seg in enumerate(line.segments):
                plt.plot([t for t, _y in seg], [y for _t, y in seg], color=line.color,
                         marker="braille",
                         label=f"{line.label} ({panel.unit})" if i == 0 else None)
        top = panel.top * 1.2 or 1.0
        for m in panel.moments:
            plt.vline(m.t, color=COLORS[m.kind])
            plt.text("T" if m.kind == "trip" else "R", m.t, top, color=COLORS[m.kind],
                     alignment="center")
        plt.xlim(0.0, end)
        plt.ylim(0.0, top * 1.05)
        plt.yticks(value_ticks(top))
        ticks = time_ticks(end)
        plt.xticks(ticks, [f"{t:g}s" if end < 120 else clock(t) for t in ticks])
        self.refresh()


def value_ticks(top: float, most: int = 4) -> list[float]:
    """Round values from 0 to ``top`` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0]
    exp = math.floor(math.log10(top / most))
    for mult in (1, 2, 5, 10):
        step = mult * 10.0 ** exp
        if top / step <= most:
            break
    return [round(step * i, 9) for i in range(int(top / step) + 1)]


def time_ticks(end: float, most: int = 5) -> list[float]:
    """Round times (10 s, 30 s, 1 min, 5 min, ...) from 0 to ``end``, at most ``most``."""
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if end / step < most:
            return [round(step * i, 3) for i in range(int(end / step) + 1)]
    step = end / (most - 1)
    return [step * i for i in range(most)]
