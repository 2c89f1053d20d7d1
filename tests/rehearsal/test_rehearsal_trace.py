"""The rehearsal traces its passes: the locks each statement took, in the report and export."""

from __future__ import annotations

import textwrap
from pathlib import Path

from migtui.document import export_markdown
from migtui.journal import Journal, journal_path, read_journal
from migtui.plan import load_plan, plan_checksum
from migtui.rehearsal import JOURNAL_KINDS, rehearse
from migtui.state import RunState
from tests.runner_helpers import q

PLAN = textwrap.dedent("""\
    migtui: 1
    id: reh-trace
    title: Rehearsal trace
    type: schema_change
    agent: tester
    targets:
      staging: {dsn_env: MIGTUI_TEST_STAGING_URL, environment: staging}
    steps:
      - id: add_seen
        sql: ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT clock_timestamp()
        rollback: ALTER TABLE orders DROP COLUMN seen
      - id: idx
        sql: CREATE INDEX CONCURRENTLY orders_amount_idx ON orders (amount)
        rollback: DROP INDEX CONCURRENTLY orders_amount_idx
    """)


def test_rehearsal_reports_and_exports_the_locks_taken(db_url: str, tmp_path: Path) -> None:
    q(db_url, "CREATE TABLE orders (id bigint PRIMARY KEY, amount int); "
              "INSERT INTO orders SELECT g, g FROM generate_series(1, 50000) g; ANALYZE orders")
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    plan = load_plan(path)
    with Journal(journal_path(path, plan.id)) as journal:
        report = rehearse(plan, path, db_url, gauges=False, operator="tester",
                          emit=lambda e: journal(e) if e.kind in JOURNAL_KINDS else None)
    assert report.ok, report.summary
    # the first apply and the first rollback of each statement; not the re-apply's repeats
    assert [(t["step_id"], t["which"]) for t in report.traces] == [
        ("add_seen", "sql"), ("idx", "sql"), ("idx", "rollback"), ("add_seen", "rollback")]
    first = report.traces[0]
    assert first["strongest"] == "ACCESS EXCLUSIVE on table public.orders"
    assert "table public.orders" in first["rewritten"] and not first["disagreements"]
    assert report.traces[1]["sampled"]
    text = report.text()
    assert "Locks taken (measured; see docs/trace.md):" in text
    assert "add_seen apply line 1: ACCESS EXCLUSIVE on table public.orders for " in text
    assert report.to_dict()["traces"] == report.traces

    state = RunState.from_records(read_journal(journal_path(path, plan.id)))
    md = export_markdown(plan, state, plan_checksum=plan_checksum(path.read_text()))
    perf = md.split("### Database Performance", 1)[1].split("\n---\n", 1)[0]
    assert "Locks taken, measured in the rehearsal of" in perf
    assert "| add_seen | apply | 1 | ACCESS EXCLUSIVE on table public.orders |" in perf
    assert "| idx | apply | 1 | SHARE UPDATE EXCLUSIVE on table public.orders |" in perf
