"""The demo served to a real browser: headless Chromium (Debian's package) driven by
Playwright's Python package. The tour's keys are pressed in the page; the screen text comes
from the websocket's terminal output, and a screenshot is taken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from migtui.demo.traffic import failing_transactions
from tests.serve.helpers import CHROMIUM

from .helpers import Served, plain


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright's Python package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's 'chromium' package "
                    f"(.ci/run does when it can)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def wait_for(page, what: Callable[[], bool], timeout: float,
             describe: Callable[[], str]) -> None:
    """Poll (bounded); Playwright's wait pumps the events that deliver the frames."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        page.wait_for_timeout(200)
    raise AssertionError(describe())


@pytest.mark.slow
def test_the_demo_tour_in_a_browser(browser, db_url, tmp_path):
    shop_db = db_url  # the server creates the shop itself (its traffic knows its size)
    served = Served("demo", "--dsn", shop_db, "--orders", "5000", "--workers", "1",
                    "--rate", "10", "--port", "0", "--max-visitors", "1")
    stop = threading.Event()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        frames: list[bytes | str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
        page.goto(served.url)

        def shows(text: str, timeout: float = 60) -> None:
            wait_for(page, lambda: text in plain(frames), timeout,
                     lambda: f"{text!r} not on screen:\n{plain(frames)[-3000:]}")

        shows("TOUR 1/9")
        shows("Capture a baseline")
        # the cap: a second visitor is told the seats are taken, and gets no app
        second = browser.new_page()
        resp = second.goto(served.url)
        assert resp is not None and resp.status == 503
        assert "All 1 seats are taken" in second.inner_text("body")
        second.close()

        page.click("#terminal")
        for key in ("j", "j", "j"):
            page.keyboard.press(key)
        page.wait_for_timeout(500)
        for key in ("Tab", "End", "r"):
            page.keyboard.press(key)
        shows("TOUR 2/9", timeout=90)  # the baseline was recorded
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("j")
        page.wait_for_timeout(500)
        for n in range(3, 7):  # add_status, index_created_at, backfill_status, drop index
            page.keyboard.press("x")
            shows(f"TOUR {n}/9", timeout=90)
        # a real trip: the broken application's failing transactions
        t = threading.Thread(target=failing_transactions, args=(shop_db, stop), daemon=True)
        t.start()
        try:
            shows("TOUR 7/9", timeout=60)
        finally:
            stop.set()
            t.join(10)
        shows("R rolls back")
        page.keyboard.press("Shift+R")
        shows("Roll back now?")  # one question, listing what goes
        page.keyboard.press("y")
        shows("TOUR 8/9", timeout=90)
        shot = tmp_path / "served-demo.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000  # a rendered terminal, not a blank page
        assert "DEMO" in plain(frames)
    finally:
        stop.set()
        out = served.stop()
    assert "application traffic: 1 threads" in out
    assert "visitor cap of 1 reached" not in out or "refused a visitor" in out
