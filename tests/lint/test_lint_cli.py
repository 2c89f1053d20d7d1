"""migtui check: lint output, --fail-on, --format json, --dsn, exit codes."""

from __future__ import annotations

import json

import pytest

from migtui.cli import main
from tests.conftest import PLANS

PLAN = """\
migtui: 1
title: Unsafe
type: schema_change
agent: tests
schema_changes:
  tables_to_modify:
    - {table: orders, change: index}
steps:
  - id: idx
    sql: |
      ALTER TABLE orders ADD COLUMN note text;
      CREATE INDEX orders_note_idx ON orders (note);
    rollback: DROP INDEX CONCURRENTLY orders_note_idx;
  - id: ren
    sql: ALTER TABLE customers RENAME COLUMN full_name TO name;
    rollback: ALTER TABLE customers RENAME COLUMN name TO full_name;
"""


@pytest.fixture
def unsafe(tmp_path):
    p = tmp_path / "unsafe.yaml"
    p.write_text(PLAN)
    return p


def test_examples_pass_even_on_info(capsys):
    plans = [str(p) for p in sorted(PLANS.glob("*.yaml"))]
    assert main(["check", "--fail-on", "info", *plans]) == 0
    assert "0 errors, 0 warnings, 0 info" in capsys.readouterr().out


def test_text_output_and_exit_1_on_error(unsafe, capsys):
    assert main(["check", str(unsafe)]) == 1
    out = capsys.readouterr().out
    assert f"{unsafe}:12: idx: index-not-concurrent error: CREATE INDEX on orders" in out
    assert "    lock: SHARE" in out
    assert "    safe alternative:\n      CREATE INDEX CONCURRENTLY orders_note_idx ON orders" in out
    assert f"{unsafe}:15: ren: rename-column warning:" in out
    assert "breaks: queries, INSERTs and ORM models naming customers.full_name" in out


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("error", 1), ("warning", 1)])
def test_fail_on(unsafe, fail_on, code):
    assert main(["check", "--fail-on", fail_on, str(unsafe)]) == code


def test_warnings_only_pass_by_default(unsafe):
    # a concurrent build runs in a step of its own (check refuses it mixed with the ALTER)
    unsafe.write_text(PLAN.replace("ALTER TABLE orders ADD COLUMN note text;\n      "
                                   "CREATE INDEX orders_note_idx",
                                   "CREATE INDEX CONCURRENTLY orders_note_idx"))
    assert main(["check", str(unsafe)]) == 0
    assert main(["check", "--fail-on", "warning", str(unsafe)]) == 1


def test_inline_suppression_makes_it_pass(unsafe, capsys):
    unsafe.write_text(PLAN.replace(
        "(note);", "(note);  -- migtui: ignore index-not-concurrent because note is all NULL"))
    assert main(["check", str(unsafe)]) == 0
    assert "index-not-concurrent suppressed: note is all NULL" in capsys.readouterr().out


def test_json(unsafe, capsys):
    assert main(["check", "--format", "json", str(unsafe)]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["valid"] and report["counts"] == {"error": 1, "warning": 1, "info": 0,
                                                    "suppressed": 0}
    idx = next(f for f in report["findings"] if f["rule"] == "index-not-concurrent")
    assert idx["step_id"] == "idx" and idx["line"] == 2 and idx["plan_line"] == 12
    assert idx["lock"] == "SHARE" and idx["which"] == "sql" and idx["rewrites"] is False
    assert report["risks"]["orders"]["level"] == "high"
    assert any(z.startswith("Old code works with new schema: ren: rename-column")
               for z in report["zero_downtime"])


def test_invalid_plan_still_exit_2(unsafe, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("migtui: 1\ntitle: x\n")
    assert main(["check", str(unsafe), str(bad)]) == 2


def test_dsn_sizes_and_bad_dsn(unsafe, shop_db, capsys):
    assert main(["check", "--dsn", shop_db, str(unsafe)]) == 0  # orders is small: info
    out = capsys.readouterr().out
    assert "index-not-concurrent info:" in out and "indexes ~" in out and "at 50 MB/s" in out
    bad = "postgresql://postgres:s3cret-pw@127.0.0.1:1/nowhere"
    assert main(["check", "--dsn", bad, str(unsafe)]) == 2
    captured = capsys.readouterr()
    assert "cannot read table sizes" in captured.err and "Traceback" not in captured.err
    assert "s3cret-pw" not in captured.err + captured.out
