"""migtui trace as a user runs it: the traces printed and as JSON, the database back as it
was, a production target refused, and no password anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli_run import PASSWORD, cli, with_password, write_plan
from tests.runner_helpers import column_exists, one

STEPS = """
- id: add_seen
  sql: ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT clock_timestamp();
  rollback: ALTER TABLE orders DROP COLUMN seen;
- id: seen_idx
  sql: CREATE INDEX CONCURRENTLY orders_seen_idx ON orders (seen);
  rollback: DROP INDEX CONCURRENTLY IF EXISTS orders_seen_idx;
"""


def test_trace_prints_each_statements_locks_and_rolls_back(
        shop_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path, STEPS)
    url = with_password(shop_db)
    code, out = cli(capsys, "trace", str(plan), "--dsn", url)
    assert code == 0, out
    assert "add_seen (apply, line 1)" in out
    assert "took ACCESS EXCLUSIVE on table public.orders" in out
    assert "rewrote:" in out and "public.orders" in out
    assert "seen_idx (apply" in out and "sampled from a second connection" in out
    assert "add_seen (rollback" in out
    assert "4 statement(s) traced; the lint agreed on every one" in out
    assert not column_exists(shop_db, "orders", "seen")  # rolled back, traced too
    code, js = cli(capsys, "trace", str(plan), "--dsn", url, "--json", "--keep")
    assert code == 0, js
    report = json.loads(js)
    got = {(s["step_id"], s["which"]): s for s in report["statements"]}
    assert set(got) == {("add_seen", "sql"), ("seen_idx", "sql")}  # --keep: no rollback
    assert got[("add_seen", "sql")]["strongest"].startswith("ACCESS EXCLUSIVE")
    assert got[("add_seen", "sql")]["predicted_rewrite"] is True
    assert report["disagreements"] == 0 and report["rolled_back"] is False
    assert one(shop_db, "SELECT count(*) FROM pg_class WHERE relname = 'orders_seen_idx'") == 1
    for text in (out, js):
        assert PASSWORD not in text


def test_trace_refuses_a_production_target(shop_db: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGTUI_TEST_TARGET_URL", shop_db)
    plan = write_plan(tmp_path, STEPS, env="production")
    code, out = cli(capsys, "trace", str(plan), "--target", "main")
    assert code == 2 and "production" in out, out
    assert not column_exists(shop_db, "orders", "seen")
