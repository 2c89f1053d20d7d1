"""Safety in the app: a production target asks for the database name before the first
change; NO_COLOR gives a monochrome screen whose states still read as words; SIGTERM ends
the app like a confirmed quit."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import psycopg
import pytest

from migtui.tui import make_app
from migtui.tui.screens.modals import TypedConfirmModal
from tests.tui.helpers import (
    PROD,
    SLOW_PLAN,
    asynctest,
    column_exists,
    connected,
    copy_plan,
    dbname,
    until,
)


@asynctest
async def test_production_asks_for_the_database_name_once(shop_db: str,
                                                          tmp_path: Path) -> None:
    db = dbname(shop_db)
    path = tmp_path / "prod.yaml"
    path.write_text(PROD.format(db=db))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await connected(pilot)
        assert "PRODUCTION" in str(app.main.query_one("#top").render())
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, TypedConfirmModal))
        await pilot.press(*"shop_wrong", "enter")  # a wrong name: still asking, nothing run
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmModal)
        assert not column_exists(shop_db, "orders", "note")
        await pilot.press("escape")  # declined: nothing was run
        await pilot.pause()
        assert not isinstance(app.screen, TypedConfirmModal) and app.main.job is None
        assert not column_exists(shop_db, "orders", "note")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, TypedConfirmModal))
        await pilot.press(*db, "enter")
        await until(pilot, lambda: app.main.rows["add_note"].state == "applied"
                    and app.main.job is None)
        assert column_exists(shop_db, "orders", "note")
        await pilot.press("R")  # once per session: the rollback asks yes/no, not the name
        await pilot.pause()
        assert not isinstance(app.screen, TypedConfirmModal)
        await pilot.press("y")
        await until(pilot, lambda: app.main.rows["add_note"].state == "rolled_back")
    assert not column_exists(shop_db, "orders", "note")


@asynctest
async def test_production_refuses_another_database(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(PROD.format(db="shop_production"))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await connected(pilot)
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, TypedConfirmModal) and app.main.job is None
    assert not column_exists(shop_db, "orders", "note")


@asynctest
async def test_no_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(copy_plan(tmp_path), None, "production", operator="tester", frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        svg = app.export_screenshot()
    assert app.no_color
    chrome = {"ff5f57", "febc2e", "28c840", "c5c8c6"}  # the SVG's window buttons and title
    colours = set(re.findall(r"#([0-9a-fA-F]{6})\b", svg)) - chrome
    assert colours
    grey = {c for c in colours if c[0:2] == c[2:4] == c[4:6]}
    assert colours == grey, f"colours under NO_COLOR: {sorted(colours - grey)[:5]}"
    # what colour says elsewhere is also said in words
    text = re.sub(r"&#160;", " ", svg)
    assert "PRODUCTION" in text and "INACTIVE" in text


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX only")
@asynctest
async def test_sigterm_ends_the_app_and_cancels_the_step(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text(SLOW_PLAN)
    app = make_app(path, db_url, operator="tester", sample=False)
    before = signal.getsignal(signal.SIGTERM)
    async with app.run_test(size=(120, 36)) as pilot:
        await connected(pilot)
        await pilot.press("x")
        await until(pilot, lambda: app.main.rows["slow"].state == "running")
        os.kill(os.getpid(), signal.SIGTERM)
        await until(pilot, lambda: not app.is_running, timeout=15)
    assert app.return_code == 130
    assert signal.getsignal(signal.SIGTERM) == before  # the caller's handler is back
    with psycopg.connect(db_url) as c:
        row = c.execute("SELECT status, error FROM migtui.history").fetchone()
    assert row == ("failed", "cancelled: stopped (SIGTERM)")
