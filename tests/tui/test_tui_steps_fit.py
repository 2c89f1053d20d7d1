"""The Steps table fits its pane (issue 15 item 10): at 120x36 every column it shows, Retry
and Lint among them, is on screen without scrolling sideways; at 80x24 the step's state and
id are; a step's rows growing during the run lays the table out again instead of pushing
columns off."""

from __future__ import annotations

from pathlib import Path

from migtui.fmt import rows_counted
from migtui.tui import make_app
from migtui.tui.widgets.content import ContentPane
from migtui.tui.widgets.steps import COLUMNS, STEP_MIN, StepsTable, fit_columns
from tests.runner_helpers import plan_text
from tests.tui.helpers import asynctest, connected, copy_plan, main, until

IDS = ["add_status", "count_before", "backfill_status", "index_status", "status_not_null",
       "validate_not_null", "verify_counts", "verify_no_nulls"]


def visible(table: StepsTable) -> int:
    """The cells a row of the table shows: its width less a vertical scrollbar."""
    return table.scrollable_content_region.width


def assert_fits(table: StepsTable) -> None:
    shown = sum(c.get_render_width(table) for c in table.columns.values())
    assert shown <= visible(table), (shown, visible(table), shown_keys(table))
    assert table.virtual_size.width <= visible(table)
    assert not table.show_horizontal_scrollbar


def shown_keys(table: StepsTable) -> list[str]:
    return [str(c.key.value) for c in table.columns.values()]


async def steps_table(pilot) -> StepsTable:
    await pilot.press("j", "j")  # Steps
    await until(pilot, lambda: pilot.app.screen.query_one(ContentPane).query(StepsTable))
    await pilot.pause()
    return pilot.app.screen.query_one(ContentPane).query_one(StepsTable)


@asynctest
async def test_at_120_columns_every_column_of_the_steps_table_is_on_screen(
        shop_db: str, tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await connected(pilot)
        table = await steps_table(pilot)
        assert_fits(table)
        keys = shown_keys(table)
        assert {"st", "id", "elapsed", "rows", "retries", "lint"} <= set(keys), keys
        ids = [str(table.get_cell(i, "id")) for i in IDS]
        assert ids == IDS  # whole step ids: the Mode column gives way first
        # run through the backfill: its rows (5,000) widen the Rows column
        for step in IDS[:3]:  # add_status, count_before, backfill_status
            await pilot.press("x")
            await until(pilot, lambda s=step: main(app).rows[s].state == "applied")
            await until(pilot, lambda: main(app).job is None)
        await pilot.pause(1.2)  # the one-second tick refreshes the rows
        assert_fits(table)
        assert {"st", "id", "elapsed", "rows", "retries", "lint"} <= set(shown_keys(table))
        rows = str(table.get_cell("backfill_status", "rows")).strip()
        assert rows == rows_counted(main(app).rows["backfill_status"].rows) != ""
        assert "applied" in str(table.get_cell("backfill_status", "st"))


@asynctest
async def test_at_80_columns_the_state_and_step_are_on_screen(
        shop_db: str, tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        table = await steps_table(pilot)
        assert_fits(table)
        keys = shown_keys(table)
        assert keys[:2] == ["st", "id"]
        assert "pending" in str(table.get_cell("add_status", "st"))
        for i in IDS:  # cut with an ellipsis at worst, never to fewer than STEP_MIN cells
            shown = str(table.get_cell(i, "id"))
            head, _, tail = shown.partition("…")
            assert shown == i or (i.startswith(head) and i.endswith(tail)
                                  and len(shown) >= STEP_MIN)


def test_the_fit_never_exceeds_the_width_and_keeps_state_and_step() -> None:
    natural = {"st": 14, "id": 19, "mode": 5, "elapsed": 5, "rows": 7, "retries": 5,
               "lint": 7}
    order = [k for k, _label, _right in COLUMNS]
    previous = 0
    for width in range(20, 100):
        layout = fit_columns(natural, width)
        keys = [k for k, _w, _gap in layout]
        assert keys[:2] == ["st", "id"] and keys == sorted(keys, key=order.index)
        assert sum(w + gap for _k, w, gap in layout) <= width
        assert len(keys) >= previous  # a wider pane never shows fewer columns
        previous = len(keys)
    assert [k for k, _w, _gap in fit_columns(natural, 200)] == order
    assert "mode" not in [k for k, _w, _gap in fit_columns(natural, 60)]


LONG_IDS_PLAN = plan_text("".join(
    f"- {{id: backfill_customer_first_last_name_part_{i}, sql: 'SELECT {i}', "
    f"rollback: 'SELECT 1'}}\n" for i in range(14)), plan_id="long-ids")


@asynctest
async def test_long_step_ids_are_cut_in_the_middle_and_many_steps_still_fit(
        tmp_path: Path) -> None:
    """Fourteen steps scroll the table (its own scrollbar takes a column); ids that share a
    long prefix keep their distinguishing end."""
    plan = tmp_path / "long.yaml"
    plan.write_text(LONG_IDS_PLAN)
    for size in ((120, 36), (80, 24)):
        app = make_app(plan, None, operator="tester", sample=False, frozen=True)
        async with app.run_test(size=size) as pilot:
            table = await steps_table(pilot)
            assert_fits(table)
            assert shown_keys(table)[:2] == ["st", "id"]
            shown = [str(table.get_cell(f"backfill_customer_first_last_name_part_{i}", "id"))
                     for i in range(14)]
            assert all("…" in s and len(s) >= STEP_MIN for s in shown), shown
            assert len(set(shown)) == 14 and shown[3].endswith("part_3"), shown


@asynctest
async def test_a_backfill_s_rows_in_the_table_follow_its_progress_bar(tmp_path: Path) -> None:
    """The bar and the step's Rows come from the same StepProgress: the table no longer
    waits for the one-second tick (a screenshot showed 90k rows under a bar at 157k)."""
    from migtui.events import StepProgress
    from migtui.tui.screens.workers import EventReceived

    app = make_app(copy_plan(tmp_path), None, operator="tester", sample=False, frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        table = await steps_table(pilot)  # frozen: no tick refreshes the rows
        for done in (100_000, 156_991):  # the first also shows the bar (a resize)
            main(app).post_message(EventReceived(StepProgress(
                step_id="backfill_status", done=done, total=200_000, rate=125_626.0,
                eta=0.3, batch_size=6771)))
            await until(pilot, lambda d=done: str(table.get_cell(
                "backfill_status", "rows")).strip() == f"{d:,}")
        # a backfill whose WHERE skips rows: Rows counts the rows changed, as the history
        # and the finish will (it showed the keyset's 218,098, then 210,000 at the end);
        # the bar, the rows scanned, and says how many of them changed
        main(app).post_message(EventReceived(StepProgress(
            step_id="backfill_status", done=170_000, total=200_000, rate=125_626.0,
            eta=0.2, batch_size=6771, changed=161_000)))
        await until(pilot, lambda: str(table.get_cell(
            "backfill_status", "rows")).strip() == "161,000")
        label = str(app.screen.query_one("#bf-label").render())
        assert "170,000/200,000 rows (161,000 changed)" in label, label


@asynctest
async def test_a_reopened_app_shows_the_historys_time_for_applied_steps(
        shop_db: str, tmp_path: Path) -> None:
    """After a restart the Time column was empty ("—") for steps the history had timed."""
    from migtui.plan import load_plan
    from migtui.runner import Runner

    path = copy_plan(tmp_path)
    with Runner(load_plan(path), shop_db) as r:
        r.open()
        r.apply(["add_status"])
    app = make_app(path, shop_db, "staging", operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await connected(pilot)
        await until(pilot, lambda: app.screen is not main(app))  # "Resume this plan?"
        await pilot.press("n")
        table = await steps_table(pilot)
        row = main(app).rows["add_status"]
        assert row.state == "applied" and row.elapsed is not None and row.elapsed >= 0
        assert str(table.get_cell("add_status", "elapsed")).strip() not in ("", "—")
