"""The new gauges appear in the pane once measured, with their own sparkline history."""

from __future__ import annotations

import asyncio
import datetime as dt

from textual.app import App, ComposeResult

from migtui.plan.model import Metric
from migtui.sampler import GaugeState, Snapshot
from migtui.sampler.snapshot import MEGABYTE, SlotRetention, Standby
from migtui.tui.widgets.gauges import Gauge, GaugesPanel, ImpactList


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GaugesPanel({}, id="gauges")


def snap(seq: int, **kw) -> Snapshot:
    return Snapshot(taken_at=dt.datetime.now(dt.UTC), mono=float(seq), elapsed=1.0,
                    duration=0.01, seq=seq, **kw)


async def measured_gauges_show() -> None:
    app = PanelApp()
    async with app.run_test(size=(60, 60)) as pilot:
        panel = app.query_one(GaugesPanel)
        gauges = {g.metric: g for g in panel.query(Gauge)}
        assert not gauges[Metric.wal_rate].display
        for i in (1, 2):
            s = snap(i, wal_bytes_per_sec=float(i * MEGABYTE),
                     standbys=(Standby("standby-a@local", "gone"),),
                     slots=(SlotRetention("cdc", "logical", False, 5 * MEGABYTE),),
                     slot_retained_bytes=5 * MEGABYTE)
            states = {m.value: GaugeState(m.value, "ok", s.metric(m)) for m in Metric}
            panel.show(s, states, {})
        await pilot.pause()
        assert gauges[Metric.wal_rate].display and gauges[Metric.slot_retained].display
        assert not gauges[Metric.replication_lag].display  # never measured
        assert not gauges[Metric.app_latency].display
        assert list(panel._own_history[Metric.wal_rate]) == [1.0, 2.0]
        impact = app.query_one(ImpactList)
        text = str(impact.render())
        assert impact.display and "standby-a@local GONE" in text and "slot cdc" in text


def test_measured_gauges_show_with_history_and_a_gone_standby() -> None:
    asyncio.run(measured_gauges_show())
