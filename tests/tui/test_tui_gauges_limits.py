"""One word, one number: a gauge lists each rule's limit ("trip +50% → 21.2ms"), marks one a
floor or the baseline's noise set, and says why; the trip banner's limit is the gauge's
trip number. A gauge OK at 12x its baseline then says it is under a floor, not silent."""

from __future__ import annotations

import asyncio
import re

from textual.app import App, ComposeResult

from migtui.events import ThresholdChanged
from migtui.execution import trip as tr
from migtui.plan.model import Metric
from migtui.sampler import Baseline, Guard, format_value
from migtui.tui.model import Clock
from migtui.tui.widgets.banner import Context, render
from migtui.tui.widgets.gauges import Gauge
from tests.sampler.test_guard_noise import Probes, make_plan


class GaugeApp(App[None]):
    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self.guard = guard

    def compose(self) -> ComposeResult:
        yield Gauge(Metric.latency, self.guard.rules(Metric.latency))


def client_timed_guard(trips: list[ThresholdChanged]) -> tuple[Guard, Probes, float]:
    probes = Probes(seed=7, source="client")
    base = Baseline.from_snapshots(probes.healthy(30, median=0.0005, spread=0.0001), 30)
    g = Guard(make_plan(), baseline=base, on_trip=trips.append)
    for s in probes.healthy(10, median=0.0005, spread=0.0001):
        g.observe(s)
    median = base.median("latency")
    assert median is not None
    return g, probes, median


async def gauge_text(guard: Guard) -> str:
    app = GaugeApp(guard)
    async with app.run_test(size=(60, 20)) as pilot:
        gauge = app.query_one(Gauge)
        gauge.show(guard.states["latency"], [])
        await pilot.pause()
        return gauge._text(gauge._state).plain


def test_the_gauge_shows_each_limit_and_the_floor_that_set_it() -> None:
    trips: list[ThresholdChanged] = []
    g, probes, median = client_timed_guard(trips)
    for _ in range(6):
        g.observe(probes.snap(12 * median))
    text = asyncio.run(gauge_text(g))
    warn = format_value(Metric.latency, median + 0.010)
    trip = format_value(Metric.latency, median + 0.020)
    # the +25% alert's floor is half the trigger's: two reasons, each with its margin
    assert f"warn +25% → {warn}*" in text and f"trip +50% → {trip}** for 3s" in text
    assert "* the client-timing floor: base + 10ms" in text
    assert "** the client-timing floor: base + 20ms" in text
    assert "limit" not in text  # no word standing for one of two numbers
    # the trip's banner gives the trip rule's number, the one on the gauge, and why
    for _ in range(6):
        g.observe(probes.snap(0.050))
    (event,) = trips
    banner = render(tr.TripState(live={"latency": event}, last=event, kind=tr.TRIPPING),
                    Clock(frozen=True), Context(applied=("add_status",)))
    assert re.search(rf"\(limit {re.escape(trip)}, the client-timing floor: "
                     rf"base \+ 20ms\)", banner.plain), banner.plain


def test_a_limit_as_written_has_no_mark() -> None:
    probes = Probes(seed=3, source="server")
    g = Guard(make_plan(), baseline=Baseline.from_snapshots(
        probes.healthy(30, median=0.100, spread=0.001), 30))
    for s in probes.healthy(5, median=0.100, spread=0.001):
        g.observe(s)
    text = asyncio.run(gauge_text(g))
    assert "trip +50% → " in text and "*" not in text
