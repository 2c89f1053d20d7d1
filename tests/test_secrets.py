"""A DSN password never shows: not on screens, in the journal, logs, exports, screenshots.

The test servers trust local connections, so a URL carrying a password still connects:
the password travels everywhere a real one would (the runner's connections, the sampler,
the ``DATABASE_URL`` that command steps get), and must come out masked everywhere.
Each test also checks that the masked form did show up where the URL is displayed, so
a test cannot pass just because nothing was shown.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from migtui.journal import Journal, journal_path
from tests.runner_helpers import column_exists, plan_text

PASSWORD = "Sup3r-S3cret"

STEPS = """
- id: add_col
  sql: ALTER TABLE orders ADD COLUMN note text;
  rollback: ALTER TABLE orders DROP COLUMN note;
- id: show_url
  command: {run: 'echo "url=$DATABASE_URL"'}
- id: count
  check: {sql: "SELECT count(*) FROM orders", expect: "> 0"}
"""


def with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def write_plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(STEPS, plan_id="secret-plan"))
    return p


def migtui(*args: str, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in a process of its own, with umask 0 (the worst case)."""
    return subprocess.run([sys.executable, "-m", "migtui", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120,
                          preexec_fn=lambda: os.umask(0))


def all_files(root: Path) -> Iterator[Path]:
    for p in root.rglob("*"):
        if p.is_file():
            yield p


def assert_no_password(where: str, text: str) -> None:
    assert PASSWORD not in text, f"the password shows in {where}"


def test_cli_outputs_journal_and_export_never_hold_the_password(
        shop_db: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    url = with_password(shop_db)
    outputs: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    run = migtui("run", str(plan), "--dsn", url)
    outputs.append(("run", run))
    assert run.returncode == 0, run.stdout + run.stderr
    # the command step printed the URL it got, and the printer masked it
    assert "url=postgresql://postgres:***@" in run.stdout
    assert column_exists(shop_db, "orders", "note")
    outputs.append(("run --json", migtui("run", str(plan), "--dsn", url, "--json")))
    outputs.append(("status", migtui("status", str(plan), "--dsn", url)))
    outputs.append(("status --json", migtui("status", str(plan), "--dsn", url, "--json")))
    outputs.append(("dry run", migtui("run", str(plan), "--dsn", url, "--dry-run")))
    # the URL from the target's dsn_env, the way most operators pass it
    outputs.append(("rollback", migtui("rollback", str(plan), "--to", "show_url",
                                       env={"MIGTUI_TEST_TARGET_URL": url})))
    assert outputs[-1][1].returncode == 0, outputs[-1][1].stdout + outputs[-1][1].stderr
    # a server that is not there: the connection error names the URL, masked
    gone = make_url(url).set(host="127.0.0.1", port=1, query={}).render_as_string(
        hide_password=False)
    failed = migtui("run", str(plan), "--dsn", gone)
    outputs.append(("connection error", failed))
    assert failed.returncode == 1 and "***" in failed.stdout + failed.stderr
    export = tmp_path / "export.md"
    outputs.append(("export", migtui("export", str(plan), "-o", str(export), "--dsn", url)))
    assert outputs[-1][1].returncode == 0, outputs[-1][1].stderr
    # the export tells the failed run's story, with the URL it could not reach, masked
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/" in export.read_text()
    for name, proc in outputs:
        assert "Traceback" not in proc.stderr, proc.stderr
        assert_no_password(f"the output of migtui {name}", proc.stdout + proc.stderr)
    jpath = journal_path(plan, "secret-plan")
    assert "url=postgresql://postgres:***@" in jpath.read_text()
    for f in all_files(tmp_path):  # journal, export, anything else written beside the plan
        assert_no_password(str(f.relative_to(tmp_path)), f.read_text(errors="replace"))
    # written with umask 0, the journal is still the owner's alone
    assert stat.S_IMODE(jpath.stat().st_mode) == 0o600
    assert stat.S_IMODE(jpath.parent.stat().st_mode) == 0o700


def test_journal_files_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "deep" / ".migtui" / "p.journal.jsonl"
        with Journal(path) as j:
            j.append({"kind": "NoteAdded", "text": "hello"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # a journal that exists with a wider mode is narrowed when it is opened again
    path.chmod(0o644)
    Journal(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------------- the app


def svg_text(svg: str) -> str:
    """The text of a Textual SVG screenshot (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_app_screens_log_and_screenshots_never_hold_the_password(
        shop_db: str, tmp_path: Path) -> None:
    from migtui.tui import make_app
    from migtui.tui.screens.main import MainScreen
    from migtui.tui.widgets.log import LogPane

    plan = write_plan(tmp_path)
    url = with_password(shop_db)
    handler = Records()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    shots: list[str] = []
    log_text: list[str] = []

    async def drive() -> None:
        app = make_app(plan, url, "main", operator="tester", sample=True)
        async with app.run_test(size=(120, 36)) as pilot:
            async def until(pred, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
                loop = asyncio.get_running_loop()
                end = loop.time() + timeout
                while not pred():
                    assert loop.time() < end, "condition not reached in time"
                    await pilot.pause(0.05)

            main = app.main
            assert isinstance(main, MainScreen)
            await until(lambda: main.statuses_known)
            await pilot.press("j", "j")  # the steps section
            for step in ("add_col", "show_url"):
                await pilot.press("x")
                await until(lambda s=step: main.rows[s].state == "applied")
                await until(lambda: main.job is None)
            shots.append(app.export_screenshot())
            app.save_screenshot(filename="shot.svg", path=str(tmp_path))
            await pilot.press("question_mark")
            await pilot.pause()
            shots.append(app.export_screenshot())
            await pilot.press("escape")
            await pilot.pause()
            for rich_log in main.query_one(LogPane).query("RichLog"):
                log_text.extend("".join(seg.text for seg in strip)
                                for strip in rich_log.lines)  # type: ignore[attr-defined]

    try:
        asyncio.run(drive())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = "\n".join(log_text)
    # the run log showed the URL (masked) and the command step's output (masked)
    assert "postgres:***@" in text and "url=postgresql://postgres:***@" in text
    assert_no_password("the run log", text)
    assert "postgres:***@" in svg_text(shots[0]) or "postgres@" in svg_text(shots[0])
    for i, svg in enumerate(shots):
        assert_no_password(f"screen {i}", svg)
        assert_no_password(f"screen {i} (text)", svg_text(svg))
    for f in all_files(tmp_path):  # the saved screenshot, the journal
        assert_no_password(str(f.relative_to(tmp_path)), f.read_text(errors="replace"))
    assert (tmp_path / "shot.svg").exists()
    assert_no_password("the Python log", "\n".join(handler.lines))


@pytest.mark.parametrize("url", [
    "postgresql://postgres:Sup3r-S3cret@db.example/x",
    "postgresql://postgres@db.example/x?password=Sup3r-S3cret",
    "postgresql+psycopg://postgres:Sup3r-S3cret@db.example:5433/x?sslmode=require",
])
def test_redacted_urls_never_hold_the_password(url: str) -> None:
    from migtui.secrets import redact_url, scrub

    shown = redact_url(url)
    assert PASSWORD not in shown and ("***" in shown or "%2A%2A%2A" in shown)
    assert scrub(f"error near {url}") == f"error near {url}".replace(PASSWORD, "***")
