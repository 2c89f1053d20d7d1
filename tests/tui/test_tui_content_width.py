"""The content pane is never narrower at 120 columns than at 80 (it was 52 cells against
58: the side panes kept their full widths), and a plan table never cuts a word of its
header ("Descriptio/n") while another column has room to spare."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from migtui.tui import make_app
from migtui.tui.widgets.content import ContentPane, PlanGrid
from tests.tui.helpers import asynctest, copy_plan


async def content_width(plan: Path, size: tuple[int, int]) -> int:
    app = make_app(plan, None, operator="tester", sample=False, frozen=True)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        return app.screen.query_one(ContentPane).scrollable_content_region.width


@asynctest
async def test_the_content_pane_is_wider_at_120_columns_than_at_80(tmp_path: Path) -> None:
    plan = copy_plan(tmp_path)
    narrow = await content_width(plan, (80, 24))
    assert await content_width(plan, (120, 36)) >= narrow
    assert await content_width(plan, (160, 40)) > narrow


def test_a_plan_table_keeps_each_header_word_whole() -> None:
    grid = PlanGrid("Tables to modify", ("Table", "Change", "Description", "Risk"),
                    [("orders", "add column", "New status column, backfilled from "
                      "shipped_at, indexed, NOT NULL", "low (no lint findings)")])
    for width in (grid.needed(), 50, 56, 70):
        console = Console(width=width, record=True, color_system=None)
        console.print(grid)
        text = console.export_text()
        assert "Description" in text and "│ Table " in text, (width, text)
        assert "shipped_at," in text  # no word of a cell is folded either
