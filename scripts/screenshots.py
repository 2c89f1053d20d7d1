"""Make the README's screenshots by driving the real app against a real database.

    python scripts/screenshots.py [--dsn URL] [--out screenshots]

Without --dsn an embedded PostgreSQL is started (and destroyed afterwards), a ``shop``
database is created with the demo schema, and the example plan runs against it:

* ``overview.svg``  — the plan overview (sections, checklist, gauges);
* ``run.svg``       — phase 2 running, with live gauges (a backfill in flight if caught);
* ``trip.svg``      — a real trip: failing transactions push the error rate past 5%;
* ``rollback.svg``  — after R: the finished rollback.

PNGs are written beside the SVGs when cairosvg is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from migtui.tui import make_app  # noqa: E402
from migtui.tui.widgets.banner import TripBanner  # noqa: E402
from migtui.tui.widgets.steps import BackfillProgress  # noqa: E402

SIZE = (140, 40)
DB = "shop"


def create_shop(admin_url: str, orders: int) -> str:
    try:
        from migtui.demo.data import create_shop as make
    except ImportError:  # older layout
        from migtui.demo_data import create_shop as make  # type: ignore[no-redef]
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    url = make_url(admin_url).set(database=DB).render_as_string(hide_password=False)
    make(url, orders=orders, customers=2000)
    return url


def failing_transactions(url: str, stop: threading.Event) -> None:
    # A busy backend may hold back its statistics for a long time; short-lived
    # connections (as many apps have) flush them when they end.
    while not stop.is_set():
        with psycopg.connect(url, autocommit=True) as c:
            end = time.monotonic() + 0.5
            while time.monotonic() < end and not stop.is_set():
                try:
                    with c.transaction():
                        c.execute("SELECT 1 / 0")
                except psycopg.errors.DivisionByZero:
                    time.sleep(0.005)


async def until(pilot, pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.1)
    return True


async def drive(url: str, out: Path, work: Path) -> None:
    plan = work / "add-order-status.yaml"
    shutil.copy(REPO / "plans" / "add-order-status.yaml", plan)
    app = make_app(plan, url, "production", operator="dba-oncall")

    def shot(name: str) -> None:
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {out / name}.svg")

    async with app.run_test(size=SIZE) as pilot:
        scr = app.main
        assert scr is not None
        await until(pilot, lambda: scr.statuses_known and scr.latest is not None, 30)
        await pilot.pause(3)  # a few samples for the sparklines
        shot("overview")
        # phase 2: type the production database name once, then watch it run
        await pilot.press("j", "j", "j", "j")
        await pilot.pause(0.5)
        await pilot.press("a")
        await pilot.pause(0.5)
        await pilot.press(*DB, "enter")
        progress = scr.query_one(BackfillProgress)
        await until(pilot, lambda: progress.has_class("-active"), 60)
        await pilot.pause(1.0)
        shot("run")
        await until(pilot, lambda: scr.job is None, 300)
        await pilot.pause(1)
        # a real trip: a broken client makes most transactions fail
        stop = threading.Event()
        threads = [threading.Thread(target=failing_transactions, args=(url, stop))
                   for _ in range(1)]
        for t in threads:
            t.start()
        banner = scr.query_one(TripBanner)
        try:
            await until(pilot, lambda: banner.tripped, 60)
            await pilot.pause(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        shot("trip")
        await pilot.press("R")
        await until(pilot, lambda: not scr.rolling_back and "ROLLED" in str(banner.render()),
                    120)
        await pilot.pause(1)
        shot("rollback")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="a superuser URL of a server to create the 'shop' db on")
    ap.add_argument("--out", default=str(REPO / "screenshots"))
    ap.add_argument("--orders", type=int, default=200_000)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server = None
    admin = args.dsn
    if not admin:
        from migtui.embedded import EmbeddedPostgres
        server = EmbeddedPostgres(name="screenshots", settings={
            "shared_preload_libraries": "pg_stat_statements", "fsync": "off"})
        admin = server.start()
    try:
        url = create_shop(admin, args.orders)
        with tempfile.TemporaryDirectory() as work:
            asyncio.run(drive(url, out, Path(work)))
    finally:
        if server is not None:
            server.destroy()
    try:
        import cairosvg
    except ImportError:
        return 0
    for svg in sorted(out.glob("*.svg")):
        cairosvg.svg2png(url=str(svg), write_to=str(svg.with_suffix(".png")))
        print(f"wrote {svg.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
