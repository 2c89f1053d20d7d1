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
