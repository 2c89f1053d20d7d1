"""Helpers for the fleet tests: databases made from a template, fleet files and plans."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tests.conftest import REPO, _with_db

PLAN = """\
migtui: 1
id: fleet-plan
title: Fleet test plan
type: schema_change
agent: tester
targets: {{dev: {{environment: development}}}}
settings:
  lock_timeout: 2s
steps:
{steps}
"""

THREE_STEPS = """\
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN tier int
    rollback: ALTER TABLE accounts DROP COLUMN tier
  - id: fill
    sql: UPDATE accounts SET tier = id % 3
    rollback: UPDATE accounts SET tier = NULL
  - id: index
    sql: CREATE INDEX accounts_tier_idx ON accounts (tier)
    rollback: DROP INDEX accounts_tier_idx
"""

SEED = """CREATE TABLE accounts (id int PRIMARY KEY, name text);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 50) g;"""


def slow_steps(seconds: float) -> str:
    """Steps for ``write_plan``: a column, then a step that takes ``seconds`` (one row
    updated after a ``pg_sleep``), so a member is caught mid-step."""
    return f"""\
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN tier int
    rollback: ALTER TABLE accounts DROP COLUMN tier
  - id: slow
    sql: UPDATE accounts SET tier = 1 WHERE id = 1 AND pg_sleep({seconds:g}) IS NOT NULL
    rollback: UPDATE accounts SET tier = NULL
"""


def write_plan(tmp: Path, steps: str = THREE_STEPS, extra: str = "") -> Path:
    p = tmp / "plan.yaml"
    p.write_text(PLAN.format(steps=steps.rstrip()) + extra, encoding="utf-8")
    return p


def write_fleet(tmp: Path, body: str, name: str = "fleet.yaml") -> Path:
    p = tmp / name
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


def admin(url: str, *stmts: Any) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        for s in stmts:
            c.execute(s)


@contextmanager
def databases(admin_url: str, n: int, seed: str = SEED) -> Iterator[tuple[str, list[str]]]:
    """``n`` databases copied from a seeded template: (their LIKE prefix, their names)."""
    prefix = f"mf{os.getpid()}_{uuid.uuid4().hex[:5]}"
    tmpl = f"{prefix}_tmpl"
    names = [f"{prefix}_m{i:03d}" for i in range(n)]
    admin(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(tmpl)))
    try:
        admin(_with_db(admin_url, tmpl), seed)
        for nm in names:
            admin(admin_url, sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(nm), sql.Identifier(tmpl)))
        yield f"{prefix}_m%", names
    finally:
        for nm in [*names, tmpl]:
            admin(admin_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(nm)))


def migtui(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "migtui", *args], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout)


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    e = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "migtui", *args], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def q(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else []


def control_rollout(url: str, waves: list[int], *, on_failure: str = "stop",
                    soak: float = 0.0, timeout: float = 30.0,
                    concurrency: int = 4) -> tuple[Any, Any]:
    """A rollout in the control database at ``url`` (no member database behind it: for
    driving the scheduler's ticks directly), members named m1, m2, … wave by wave."""
    from migtui.fleet.control import ControlDb, Rollout
    from migtui.fleet.members import Member

    db = ControlDb(url)
    db.ensure_schema()
    cut, i = [], 0
    for size in waves:
        cut.append([Member(f"m{i + k + 1}", "dbname=unused", "h:5432", f"d{i + k + 1}")
                    for k in range(size)])
        i += size
    r = Rollout("f/p", "f", "p", "running", on_failure, concurrency, None, soak, timeout, None)
    db.create_rollout(r, "x", cut)
    return db, db.rollout(r.id)
