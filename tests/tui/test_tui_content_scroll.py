"""A section of plain tables scrolls from the keyboard: Schema Changes' Fields table was
below the fold at 120x36, and Tab, PageDown, End and j did nothing (no mouse over SSH)."""

from __future__ import annotations

from pathlib import Path

from migtui.tui import make_app
from migtui.tui.widgets.content import ContentPane, PlanTable
from tests.tui.helpers import asynctest, copy_plan, until


@asynctest
async def test_a_section_of_tables_takes_the_focus_and_scrolls(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", sample=False, frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.screen.query_one(ContentPane)
        await pilot.press("j")  # Schema Changes
        await until(pilot, lambda: len(pane.query(PlanTable)) >= 3)
        await pilot.pause()
        assert pane.can_focus and pane.max_scroll_y > 0
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is pane)
        await pilot.press("end")
        await until(pilot, lambda: pane.scroll_y == pane.max_scroll_y)
        await pilot.press("home")
        await until(pilot, lambda: pane.scroll_y == 0)
        await pilot.press("shift+tab", "j")  # back to the sections: Steps has a table
        await until(pilot, lambda: not pane.can_focus)

