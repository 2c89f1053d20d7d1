"""The app's header: a URL that points at another database than the target names is said
at once, before any key is pressed (issue 15 item 6)."""

from __future__ import annotations

from pathlib import Path

from migtui.tui import make_app
from tests.tui.helpers import PROD, asynctest, connected, dbname


@asynctest
async def test_the_header_names_a_database_mismatch_at_once(shop_db: str,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(PROD.format(db="shop_production"))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(200, 36)) as pilot:
        await connected(pilot)
        top = str(app.main.query_one("#top").render())
        assert (f"target 'production' expects database 'shop_production', but the URL "
                f"points at '{dbname(shop_db)}'") in top
        assert "refused" in top


@asynctest
async def test_the_header_is_quiet_when_the_database_matches(shop_db: str,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(PROD.format(db=dbname(shop_db)))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(200, 36)) as pilot:
        await connected(pilot)
        top = str(app.main.query_one("#top").render())
        assert "expects database" not in top and " production" in top


@asynctest
async def test_at_80_columns_a_running_step_on_production_still_shows_the_database(
        shop_db: str, tmp_path: Path) -> None:
    """Issue 15 item 9: the production header was cut before the host and database while a
    job ran. Where comes right after PRODUCTION, then what runs."""
    from migtui.tui.screens.header import Activity, header

    path = tmp_path / "prod.yaml"
    db = dbname(shop_db)
    path.write_text(PROD.format(db=db))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        for activity in (Activity(job="step backfill_status_of_every_order"),
                         Activity(job="phase Execution", paused=True,
                                  pause_reason="Performance degradation >50% tripped"),
                         Activity(rolling_back=True)):
            line = header(app.main.session, activity, "ok").plain[:80]
            assert line.startswith(" migtui  PRODUCTION "), line
            assert f"127.0.0.1:5432/{db}" in line or f"/{db}" in line, line
            assert activity.text()[:10] in line, line
        top = str(app.main.query_one("#top").render())[:80]
        assert f"/{db}" in top and "idle" in top


def test_where_stays_short_enough_for_the_run_state_at_80_columns() -> None:
    """CI's databases have long names: 'postgres@127.0.0.1:5432/migtui_t14870_195_181f09'
    pushed 'running: …' off an 80-column line. A long where drops the user, then a default
    port; the database and the host stay."""
    from migtui.tui.screens.header import where

    for dsn, shown in (
            ("postgresql://postgres:***@127.0.0.1:5432/migtui_t1487012_195_181f09",
             "127.0.0.1/migtui_t1487012_195_181f09"),
            ("postgresql://postgres:***@127.0.0.1:5432/shop", "postgres@127.0.0.1:5432/shop"),
            ("user=postgres password=*** dbname=shop host=db port=6432", "postgres@db:6432/shop"),
            ("postgresql://postgres@/migtui_t1487012_195_181f09?host=/tmp/s",
             "/migtui_t1487012_195_181f09 (socket)")):
        assert where(dsn) == shown
        assert 8 + 12 + len(shown) + 2 + len(" running: step x") <= 80


def test_where_says_what_libpq_connects_to_when_the_string_leaves_it_out(
        monkeypatch) -> None:
    """A bare database name with PGHOST set connects over TCP to that host: the header said
    '/shop15h (socket)'."""
    from migtui.tui.screens.header import where

    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGPORT", "6432")
    assert where("dbname=envdb") == "alice@127.0.0.1:6432/envdb"
    assert where("host=db dbname=envdb2") == "alice@db:6432/envdb2"
