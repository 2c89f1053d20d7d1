"""The tour names gauges by the labels the gauge pane shows, also at 80 columns."""

from __future__ import annotations

import re

from migtui.demo.tour import TOUR
from migtui.plan.model import METRIC_LABELS
from migtui.tui.widgets.gauges import SHORT


def test_every_gauge_a_hint_names_is_named_as_on_screen() -> None:
    named = 0
    for hint in TOUR:
        text = f"{hint.title} {hint.press} {hint.look}"
        for metric, label in METRIC_LABELS.items():
            if label in text:  # the wide pane's label: the compact one must be there too
                named += 1
                assert re.search(rf"\b{SHORT[metric]}\b", text), (hint.title, label)
    assert named  # the tour does name the latency gauge
    short_named = sum(bool(re.search(r"\bLAT\b", f"{h.press} {h.look}")) for h in TOUR)
    assert short_named >= 3
