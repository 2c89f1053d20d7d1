"""Helpers shared by the tests (moved out of test_tui_app.py)."""


from __future__ import annotations

import asyncio
import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from migtui.journal import journal_path, read_journal
from migtui.tui.screens.main import MainScreen
from tests.conftest import PLANS


def asynctest(fn: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


SIZE = (120, 36)


def copy_plan(tmp_path: Path, name: str = "add-order-status.yaml") -> Path:
    dst = tmp_path / name
    shutil.copy(PLANS / name, dst)
    return dst


def journal(path: Path, plan_id: str) -> list[dict]:
    return list(read_journal(journal_path(path, plan_id)))


async def until(pilot, pred: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def main(app) -> MainScreen:
    assert isinstance(app.main, MainScreen)
    return app.main


def column_exists(url: str, table: str, column: str) -> bool:
    with psycopg.connect(url) as c:
        return c.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s "
                         "AND column_name = %s", (table, column)).fetchone() is not None


async def connected(pilot) -> None:
    await until(pilot, lambda: main(pilot.app).statuses_known)


SLOW_PLAN = """
migtui: 1
id: slow
title: Slow check
type: schema_change
agent: tester
targets: {staging: {environment: staging}}
overview: [Ready]
documentation: [Done]
steps:
  - id: slow
    check: {sql: "SELECT count(*) FROM pg_sleep(5)", expect: "= 1"}
"""


PROD = """
migtui: 1
id: prod
title: Production change
type: schema_change
agent: tester
targets: {{production: {{environment: production, database: {db}}}}}
overview: [Ready]
documentation: [Done]
steps:
  - id: add_note
    sql: ALTER TABLE orders ADD COLUMN note text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS note;
"""


def dbname(url: str) -> str:
    with psycopg.connect(url) as c:
        return c.execute("SELECT current_database()").fetchone()[0]


def unsafe_plan(tmp_path: Path) -> Path:
    text = (PLANS / "add-order-status.yaml").read_text()
    text = text.replace("CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx",
                        "CREATE INDEX IF NOT EXISTS orders_status_idx")
    text = text.replace("DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx",
                        "DROP INDEX IF EXISTS orders_status_idx")
    path = tmp_path / "add-order-status.yaml"
    path.write_text(text)
    return path


def rendered(widget) -> str:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(widget.content)
    return console.export_text()
