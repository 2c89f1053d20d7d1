"""Headless runs with gauges: a real trip rolls back (exit 3), or is only reported."""

from __future__ import annotations

import json

import psycopg

from migtui.cli import main
from migtui.journal import journal_path, read_journal

PLAN = """\
migtui: 1
id: guarded
title: Guarded
type: schema_change
agent: tester
targets: {{dev: {{environment: development}}}}
settings: {{sample_interval: 250ms}}
steps:
  - id: add_col
    sql: ALTER TABLE customers ADD COLUMN nickname text;
    rollback: ALTER TABLE customers DROP COLUMN IF EXISTS nickname;
phases:
  - name: Execution
    items:
      - {{text: Execute migration scripts, run: {{steps: [add_col]}}}}
  - name: Verification
    items:
      - {{text: Performance monitoring, run: {{watch: 20s}}}}
risks:
  rollback_triggers:
    - {{text: Performance degradation, metric: latency, above: {above}, for: 1s}}
monitoring:
  probes: ["SELECT pg_sleep(0.03)"]
"""


def has_column(url: str) -> bool:
    with psycopg.connect(url) as c:
        row = c.execute("SELECT count(*) FROM information_schema.columns "
                        "WHERE table_name = 'customers' AND column_name = 'nickname'").fetchone()
        return bool(row and row[0])


def records(plan) -> list[dict]:
    return list(read_journal(journal_path(plan, "guarded")))


def test_a_real_trip_rolls_back_headless(shop_db, tmp_path, capsys):
    plan = tmp_path / "guarded.yaml"
    plan.write_text(PLAN.format(above="10ms"))  # the probe takes 30 ms: a real breach
    code = main(["run", str(plan), "--dsn", shop_db])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "TRIP Performance degradation tripped: latency" in out
    assert not has_column(shop_db)
    kinds = [r["kind"] for r in records(plan)]
    assert "ThresholdChanged" in kinds and "RollbackFinished" in kinds
    trip = next(r for r in records(plan) if r["kind"] == "ThresholdChanged"
                and r["state"] == "trip")
    assert trip["metric"] == "latency" and trip["value"] > trip["limit"]
    assert kinds.index("ThresholdChanged") < kinds.index("RollbackStarted")


def test_no_auto_rollback_reports_and_leaves_the_change(shop_db, tmp_path, capsys):
    plan = tmp_path / "guarded.yaml"
    plan.write_text(PLAN.format(above="10ms"))
    code = main(["run", str(plan), "--dsn", shop_db, "--no-auto-rollback", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert code == 1
    assert any(r["kind"] == "NoteAdded" and "rollback offered" in r["text"] for r in lines)
    assert has_column(shop_db)


def test_quiet_gauges_let_the_run_finish(shop_db, tmp_path, capsys):
    plan = tmp_path / "guarded.yaml"
    plan.write_text(PLAN.format(above="5s").replace("watch: 20s", "watch: 1s"))
    assert main(["run", str(plan), "--dsn", shop_db]) == 0
    out = capsys.readouterr().out
    assert "watched the gauges for 1s" in out
    assert has_column(shop_db)
