"""Make the README's screenshots by driving the real app against a real database.

    python scripts/screenshots.py [--dsn URL] [--out screenshots]

Without --dsn an embedded PostgreSQL is started (and destroyed afterwards), a ``shop``
database is created with the demo schema, and the example plan runs against it:

* ``overview.svg``  — the plan overview (sections, checklist, gauges);
* ``run.svg``       — phase 2 running, with live gauges (a backfill in flight if caught);
* ``trip.svg``      — a real trip: failing transactions push the error rate past 5%;
* ``rollback-ask.svg`` — R asks once, listing what will be rolled back;
* ``rollback.svg``  — after R and y: the finished rollback;
* ``demo-*.svg``    — the stages of ``migtui demo --tour`` on the demo plan, with simulated
  application traffic: baseline, backfill (throttled if caught), the trip banner, the
  finished rollback, the exported report.

PNGs are written beside the SVGs when cairosvg is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

from migtui.demo.traffic import failing_transactions  # noqa: E402
from migtui.tui import make_app  # noqa: E402
from migtui.tui.widgets.banner import TripBanner  # noqa: E402
from migtui.tui.widgets.steps import BackfillProgress  # noqa: E402

SIZE = (140, 40)
DEMO_SIZE = (120, 36)
DB = "shop"


def create_shop(admin_url: str, orders: int, db: str = DB) -> str:
    try:
        from migtui.demo.data import create_shop as make
    except ImportError:  # older layout
        from migtui.demo_data import create_shop as make  # type: ignore[no-redef]
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    url = make_url(admin_url).set(database=db).render_as_string(hide_password=False)
    make(url, orders=orders, customers=2000)
    with psycopg.connect(url, autocommit=True) as c:  # the latency gauge reads it
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return url


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
        await pilot.press("R")  # asks once, listing what will be rolled back
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmModal", 10)
        await pilot.pause(0.3)
        shot("rollback-ask")
        await pilot.press("y")
        await until(pilot, lambda: not scr.rolling_back and "ROLLED" in str(banner.render()),
                    120)
        await pilot.pause(1)
        shot("rollback")


async def drive_demo(url: str, out: Path, work: Path, orders: int) -> None:
    """The demo's story with the tour, under simulated traffic, one shot per stage."""
    from migtui.demo.traffic import Traffic
    from migtui.events import StepProgress

    plan = work / "demo.yaml"
    text = (REPO / "migtui" / "demo" / "plan.yaml").read_text()
    plan.write_text(text.replace("baseline: 15s", "baseline: 8s"))
    app = make_app(plan, url, operator="presenter", demo=True, tour=True)
    throttled: list[StepProgress] = []

    def hook(message) -> None:
        ev = getattr(message, "event", None)
        if isinstance(ev, StepProgress) and ev.throttled:
            throttled.append(ev)

    def shot(name: str) -> None:
        app.save_screenshot(filename=f"demo-{name}.svg", path=str(out))
        print(f"wrote {out / 'demo-'}{name}.svg")

    with Traffic(url, workers=4, rate=25.0, seed=42, customers=2000, orders=orders):
        async with app.run_test(size=DEMO_SIZE, message_hook=hook) as pilot:
            scr = app.main
            tour = app.tour
            assert scr is not None and tour is not None
            await until(pilot, lambda: scr.statuses_known and scr.latest is not None, 30)
            await pilot.pause(3)
            await pilot.press("j", "j", "j")
            await pilot.pause(0.5)
            await pilot.press("tab", "end", "r")
            await until(pilot, lambda: tour.index >= 1, 60)
            await pilot.pause(1)
            shot("baseline")
            await pilot.press("shift+tab", "j")
            await pilot.pause(0.5)
            for step in ("add_status", "index_created_at"):
                await pilot.press("x")
                await until(pilot, lambda s=step: scr.rows[s].state == "applied"
                            and scr.job is None, 60)
            progress = scr.query_one(BackfillProgress)
            await pilot.press("x")
            await until(pilot, lambda: progress.has_class("-active"), 60)
            await pilot.pause(0.5)
            if scr.job is not None:
                shot("backfill")
            # better: a batch that throttled, if the traffic's latency catches one
            if await until(pilot, lambda: bool(throttled) or scr.job is None, 5) and \
                    scr.job is not None and throttled:
                shot("backfill")
            await until(pilot, lambda: scr.job is None, 300)
            await pilot.press("x")  # the bad step
            banner = scr.query_one(TripBanner)
            await until(pilot, lambda: banner.tripped, 120)
            await pilot.pause(2)
            shot("trip")
            await pilot.press("R")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmModal", 10)
            await pilot.press("y")
            await until(pilot, lambda: not scr.rolling_back and "ROLLED" in str(banner.render()),
                        180)
            await until(pilot, lambda: tour.index >= 8, 90)
            await pilot.pause(1)
            shot("rollback")
            await pilot.press("e")
            await until(pilot, lambda: tour.done, 60)
            await pilot.pause(0.5)
            shot("report")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsn", help="a superuser URL of a server to create the 'shop' db on")
    ap.add_argument("--out", default=str(REPO / "screenshots"))
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--demo-only", action="store_true", help="only the demo-*.svg shots")
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
        if not args.demo_only:
            url = create_shop(admin, args.orders)
            with tempfile.TemporaryDirectory() as work:
                asyncio.run(drive(url, out, Path(work)))
        demo_orders = max(args.orders, 500_000)  # a backfill long enough to be seen
        url = create_shop(admin, demo_orders)  # "shop", as `migtui demo` names it: no mismatch
        with tempfile.TemporaryDirectory() as work:
            here = Path.cwd()
            os.chdir(work)  # the report's path shows as the presenter sees it: relative
            try:
                asyncio.run(drive_demo(url, out, Path(work), demo_orders))
            finally:
                os.chdir(here)
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
