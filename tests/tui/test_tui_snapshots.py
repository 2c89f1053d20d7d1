"""Snapshots of the main screens at 80x24 and 120x36.

Deterministic: the plan opens without a database (no live values), the clock is frozen
(``frozen=True``: fixed log times, no timers), the terminal size is fixed. The trip banner
is drawn from a ThresholdChanged event like the one the guard emits. Update with
``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from migtui.events import ThresholdChanged
from migtui.tui import make_app
from tests.conftest import PLANS

SIZES = [(80, 24), (120, 36)]


def app_for(tmp_path: Path):
    plan = tmp_path / "add-order-status.yaml"
    shutil.copy(PLANS / "add-order-status.yaml", plan)
    return make_app(plan, None, operator="tester", frozen=True)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_phase_view(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), press=["j", "j", "j", "j", "tab", "tab"],
                        terminal_size=size)


def test_help(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), press=["question_mark"], terminal_size=(80, 24))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_trip_banner(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def trip(pilot) -> None:
        pilot.app.session.emit(ThresholdChanged(
            metric="latency", state="trip", previous="warn", value=0.084, threshold="+50%",
            limit=0.030, baseline=0.020, since=dt.datetime(2026, 11, 23, 2, 59, 48,
                                                           tzinfo=dt.UTC),
            trigger="Performance degradation >50%", policy="offer",
            at=dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)))
        await pilot.pause()

    assert snap_compare(app_for(tmp_path), run_before=trip, terminal_size=size)


def test_note_modal(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(app_for(tmp_path), press=["n", *"backfill paused for the batch job"],
                        terminal_size=(80, 24))


def test_demo_tour(snap_compare, tmp_path: Path) -> None:
    from importlib import resources

    plan = tmp_path / "demo.yaml"
    plan.write_text(resources.files("migtui.demo").joinpath("plan.yaml").read_text())
    app = make_app(plan, None, operator="tester", frozen=True, demo=True, tour=True)
    assert snap_compare(app, terminal_size=(80, 24))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_demo_final_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """The gauges over a (recorded) demo run, plotted: shown after the report's export."""
    from tests.tui.gauge_plot_helpers import demo_plan_with_run

    app = make_app(demo_plan_with_run(tmp_path), None, operator="tester", frozen=True,
                   demo=True)

    async def plot(pilot) -> None:
        pilot.app.main.show_gauges_plot()
        await pilot.pause()

    assert snap_compare(app, run_before=plot, terminal_size=size)
