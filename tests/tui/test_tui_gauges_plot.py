"""The demo's final screen on a real database: after the export, the gauges over a short
real run plotted in the terminal, from the journal's samples (the PNG's numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.execution import Run, execute
from migtui.journal import journal_path, read_journal
from migtui.plan import load_plan
from migtui.plots import GaugeSeries
from migtui.plots.terminal import panels
from migtui.state import RunState
from migtui.tui import make_app
from migtui.tui.screens.gauges_plot import GaugesPlotScreen
from migtui.tui.screens.modals import ConfirmModal
from migtui.tui.widgets.gauge_plot import GaugePlot
from tests.metrics.helpers import PLAN
from tests.tui.helpers import asynctest, connected, until


@pytest.fixture
def recorded_run(shop_db: str, tmp_path: Path) -> Path:
    """A short real run: the backfill, slow probes trip the trigger, it rolls back."""
    path = tmp_path / "scraped.yaml"
    path.write_text(PLAN.format(above="5ms", settle="3"), encoding="utf-8")
    with Run(load_plan(path), path, shop_db, operator="alice", auto_rollback=True,
             gauge_every=0.25) as run:
        assert execute(run).status == "rolled_back"
    return path


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
@asynctest
async def test_the_export_ends_the_demo_on_the_gauges_plotted(recorded_run: Path,
                                                             shop_db: str,
                                                             size: tuple[int, int]) -> None:
    records = list(read_journal(journal_path(recorded_run, "scraped")))
    series = GaugeSeries.from_state(RunState.from_records(records))
    assert series.series("latency") and series.backfill.get("fill_note")
    app = make_app(recorded_run, shop_db, operator="presenter", demo=True, sample=False)
    async with app.run_test(size=size) as pilot:
        await connected(pilot)
        # the rolled-back run is offered for a resume: not now
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, GaugesPlotScreen))
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, GaugesPlotScreen)
        # the numbers the PNG beside the report is drawn from
        assert screen.series.values == series.values and screen.series.markers
        assert screen.panels == panels(series)
        plots = {p.panel.key: p for p in screen.query(GaugePlot)}
        assert set(plots) == {"latency", "backfill"}
        latency = plots["latency"].panel
        assert latency.lines[0].points == [(t, v * 1000) for t, v in series.series("latency")]
        assert {lv.label for lv in latency.levels} >= {"trip limit"}
        assert [m.kind for m in latency.moments][:2] == ["trip", "rollback"]
        assert plots["backfill"].panel.lines[0].points == series.backfill["fill_note"]
        # drawn, and inside the terminal
        for plot in plots.values():
            region = plot.region
            assert region.height >= 5 and region.right <= size[0] and region.bottom <= size[1]
            drawn = plot.render().plain
            # the trip's T (the rollback's R may share its column in so short a run)
            assert "T" in drawn or "R" in drawn
        assert "probe latency p95 (ms)" in plots["latency"].render().plain
        moments = str(screen.query_one("#gauges-plot-moments").render())
        assert "trip: Slow probes" in moments and "rollback of" in moments
        hint = screen.query_one("#gauges-plot-hint")
        assert "scraped.report.md" in str(hint.render())
        assert "scraped.report-gauges.png" in str(hint.render())
        assert hint.region.bottom <= size[1]
        assert (recorded_run.parent / "scraped.report-gauges.png").exists()
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main)
