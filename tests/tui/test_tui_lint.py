"""The lint in the app: findings beside each step, risk levels derived from them."""

from __future__ import annotations

from pathlib import Path

from migtui.tui import make_app
from migtui.tui.widgets.content import ContentPane, PlanTable
from migtui.tui.widgets.steps import StepDetail, StepsTable
from tests.tui.helpers import asynctest, rendered, unsafe_plan


@asynctest
async def test_findings_show_beside_the_step_and_raise_the_risk(tmp_path: Path) -> None:
    app = make_app(unsafe_plan(tmp_path), None, operator="tester", sample=False, frozen=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        content = app.screen.query_one(ContentPane)
        await pilot.press("j")  # Schema Changes
        await pilot.pause()
        risk = content.query(PlanTable).first()
        assert "high" in str(risk.get_row_at(0)[3]).lower()
        await pilot.press("j")  # Steps
        await pilot.pause()
        table = content.query_one(StepsTable)
        table.move_cursor(row=3)  # index_status
        await pilot.pause()
        assert str(table.get_row_at(3)[-1]) == "✗ 2"  # CREATE and its DROP INDEX rollback
        text = rendered(content.query_one(StepDetail))
        assert "index-not-concurrent" in text and "SHARE" in text
        assert "CONCURRENTLY" in text.split("safer:", 1)[1]
        table.move_cursor(row=0)
        await pilot.pause()
        assert "lint: no findings" in rendered(content.query_one(StepDetail))
