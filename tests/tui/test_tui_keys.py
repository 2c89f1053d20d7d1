"""The key table is the one source of the bindings, the help screen and the palette; and a
worker that raises is reported once, by the screen's one worker-state handler."""

from __future__ import annotations

from pathlib import Path

from migtui.tui import keys, make_app
from migtui.tui.app import MigtuiApp
from migtui.tui.screens.help import HELP
from migtui.tui.screens.main import MainScreen
from migtui.tui.widgets.log import LogPane
from tests.tui.helpers import asynctest, copy_plan, until


def test_bindings_come_from_the_table() -> None:
    screen = {(b.key, b.action) for b in MainScreen.BINDINGS}
    app = {(b.key, b.action) for b in MigtuiApp.BINDINGS}
    assert screen == {(k.key, k.action) for k in keys.KEYS if k.where == "screen"}
    assert app == {(k.key, k.action) for k in keys.KEYS if k.where == "app"}
    assert ("R", "rollback") in screen and ("q", "quit") in app


def test_every_action_exists_and_every_key_is_in_the_help() -> None:
    for k in keys.KEYS:
        if k.where == "doc":
            continue
        owner = MainScreen if k.where == "screen" else MigtuiApp
        assert hasattr(owner, f"action_{k.action}"), k
        if k.help:
            assert f"| {k.shown} | {k.help} |" in HELP


@asynctest
async def test_the_palette_lists_the_tables_commands(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(120, 36)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        wanted = [k.title for k in keys.KEYS if k.title]
        assert all(t in titles for t in wanted), set(wanted) - set(titles)
        assert ("Roll back", "R: undo every applied step (asks first unless tripped)") in [
            (t, h) for t, h, _ in app.main.commands()]


@asynctest
async def test_a_job_that_raises_is_reported_once(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        scr = app.main
        assert isinstance(scr, MainScreen)

        def boom():
            raise RuntimeError("disk on fire")

        pane = scr.query_one(LogPane)
        lines: list[str] = []
        write = pane.write
        pane.write = lambda when, text, *a, **k: (lines.append(text), write(when, text, *a, **k))
        scr._start("step boom", boom, needs_db=False, confirm_production=False)
        await until(pilot, lambda: scr.job is None)
        failed = [line for line in lines if "disk on fire" in line]
        assert len(failed) == 1, failed
        assert "step boom: failed — RuntimeError: disk on fire" in failed[0]
        assert "idle" in str(scr.query_one("#top").render())
