"""The terminal plot's colours are plotext's own names. An unknown name ("yellow") is not an
error in plotext: each plot call takes the next colour of its default sequence instead, so
a backfill cut by a rollback came back in another colour, matching no legend entry."""

from __future__ import annotations

import re

import plotext
from plotext._dict import colors as PLOTEXT_COLORS

from migtui.plots.terminal import BACKFILL_COLORS, COLORS


def test_every_colour_is_one_plotext_knows() -> None:
    unknown = {c for c in (*COLORS.values(), *BACKFILL_COLORS) if c not in PLOTEXT_COLORS}
    assert not unknown


def test_two_segments_of_one_line_are_drawn_in_one_colour() -> None:
    plotext.clear_figure()
    plotext.plotsize(60, 12)
    plotext.frame(False)
    for xs in ([0, 1, 2], [5, 6, 7]):  # a backfill's rate, cut where the rollback began
        plotext.plot(xs, [1, 2, 3], color=BACKFILL_COLORS[0], marker="braille")
    drawn = set(re.findall(r"\x1b\[38;5;(\d+)m", plotext.build())) - {"0"}  # 0: the axes
    plotext.clear_figure()
    assert len(drawn) == 1, drawn
