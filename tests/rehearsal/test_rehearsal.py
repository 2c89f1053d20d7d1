"""Staging rehearsal on real PostgreSQL: clean plans, forgotten rollbacks, lost data, the gate."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest

from migtui.cli import main
from migtui.events import Event, ItemTicked, RehearsalFinished, RehearsalStage
from migtui.journal import Journal, journal_path, read_journal
from migtui.plan import load_plan, plan_checksum
from migtui.rehearsal import (
    JOURNAL_KINDS,
    RehearsalError,
    compare,
    rehearsal_gate,
    rehearse,
    traffic_present,
)
from migtui.rehearsal import fingerprint as fpr
from tests.runner_helpers import one

REPO = Path(__file__).resolve().parents[2]


def plan_file(tmp_path: Path, steps: str, *, settings: str = "", extra: str = "") -> Path:
    body = textwrap.dedent("""\
        migtui: 1
        id: reh
        title: Rehearsal test
        type: schema_change
        agent: tester
        targets:
          production: {dsn_env: MIGTUI_TEST_PROD_URL, environment: production}
          staging: {dsn_env: MIGTUI_TEST_STAGING_URL, environment: staging}
        default_target: production
        """)
    if settings:
        body += "settings:\n" + textwrap.indent(textwrap.dedent(settings).strip(), "  ") + "\n"
    body += "steps:\n" + textwrap.indent(textwrap.dedent(steps).strip(), "  ") + "\n"
    body += textwrap.dedent("""\
        phases:
          - name: Preparation
            items:
              - {text: Test migration on staging, run: {rehearse: true}}
              - Verify rollback procedures
        testing:
          staging: [Migration executed successfully, All tests passing, Performance acceptable,
                    Rollback tested]
        """) + textwrap.dedent(extra)
    p = tmp_path / "plan.yaml"
    p.write_text(body)
    return p


def run_rehearsal(path: Path, dsn: str, **kw: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    plan = load_plan(path)
    with Journal(journal_path(path, plan.id or path.stem)) as journal:
        def emit(e: Event) -> None:
            events.append(e)
            if e.kind in JOURNAL_KINDS:
                journal(e)
        report = rehearse(plan, path, dsn, emit=emit, target="staging", operator="tester",
                          **kw)
    return report, events


def ticked(events: list[Event]) -> dict[str, str]:
    return {e.item: e.evidence for e in events if isinstance(e, ItemTicked)}


def index_exists(url: str, name: str) -> bool:
    return bool(one(url, "SELECT to_regclass(%s) IS NOT NULL", (name,)))


def test_example_plan_rehearses_clean_and_can_be_kept(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "index.yaml"
    shutil.copy(REPO / "plans" / "index-orders-customer-created.yaml", path)
    report, events = run_rehearsal(path, shop_db)
    assert report.ok, report.text()
    assert [c.after for c in report.comparisons] == ["rollback", "rollback_again"]
    assert all(c.clean and not c.differences for c in report.comparisons)
    assert [p.name for p in report.passes] == ["apply", "rollback", "reapply", "rollback_again"]
    assert report.pass_("apply").steps["create_index"].status == "done"  # type: ignore[union-attr]
    assert report.tables == ["public.orders"] and report.table_rows["public.orders"] == 5000
    assert not index_exists(shop_db, "orders_customer_created_idx")
    stages = [e.stage for e in events if isinstance(e, RehearsalStage)]
    assert stages[0] == "fingerprint" and stages[-1] == "done" and "compare_again" in stages
    ticks = ticked(events)
    assert "identical fingerprint" in ticks["testing.staging/rollback-tested"]
    assert "testing.staging/migration-executed-successfully" in ticks
    assert "phases.preparation/test-migration-on-staging" in ticks
    # no other session was active: the gauges did not run, performance is not claimed
    assert not report.gauges and "testing.staging/performance-acceptable" not in ticks
    assert "testing.staging/all-tests-passing" not in ticks
    finished = [e for e in events if isinstance(e, RehearsalFinished)]
    assert len(finished) == 1 and finished[0].ok and finished[0].duration > 0
    text = path.read_text()
    assert rehearsal_gate(load_plan(path), path, plan_checksum(text))[0] == "ok"

    kept, _ = run_rehearsal(path, shop_db, keep=True)
    assert kept.ok and index_exists(shop_db, "orders_customer_created_idx")
    assert [p.name for p in kept.passes] == ["apply", "rollback", "reapply"]
    with pytest.raises(RehearsalError, match="already applied"):
        run_rehearsal(path, shop_db)


def test_rollback_that_forgets_an_index_fails_and_names_it(shop_db: str,
                                                          tmp_path: Path) -> None:
    path = plan_file(tmp_path, """
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        - id: add_idx
          sql: CREATE INDEX orders_created_idx ON orders (created_at);
          rollback: ANALYZE orders;
        """)
    report, events = run_rehearsal(path, shop_db)
    assert not report.ok
    assert "index orders_created_idx still present" in report.diff_lines[1]
    assert "index orders_created_idx still present" in report.summary
    # the column's rollback worked: only the index is reported
    assert not any("note" in ln for ln in report.diff_lines)
    assert [p.name for p in report.passes] == ["apply", "rollback"]  # no re-apply
    ticks = ticked(events)
    assert "testing.staging/migration-executed-successfully" in ticks
    assert "testing.staging/rollback-tested" not in ticks
    assert "phases.preparation/verify-rollback-procedures" not in ticks
    finished = next(e for e in events if isinstance(e, RehearsalFinished))
    assert not finished.ok
    assert finished.differences == ("index orders_created_idx still present",)
    status, msg = rehearsal_gate(load_plan(path), path, plan_checksum(path.read_text()))
    assert status == "failed" and "orders_created_idx" in msg


def test_rollback_that_loses_data_is_caught_by_the_checksums(shop_db: str,
                                                            tmp_path: Path) -> None:
    path = plan_file(tmp_path, """
        - id: fix_totals
          sql: UPDATE orders SET total_cents = total_cents + 1 WHERE id <= 10;
          rollback: UPDATE orders SET total_cents = 0 WHERE id <= 10;
        - id: archive
          sql: |
            CREATE TABLE orders_archive AS SELECT * FROM orders WHERE id > 4990 AND id NOT IN
              (SELECT order_id FROM order_items);
            DELETE FROM orders WHERE id IN (SELECT id FROM orders_archive);
          rollback: DROP TABLE orders_archive;
        """)
    extra = one(shop_db, "SELECT count(*) FROM orders o WHERE id > 4990 AND NOT EXISTS "
                         "(SELECT 1 FROM order_items i WHERE i.order_id = o.id)")
    report, _ = run_rehearsal(path, shop_db)
    assert not report.ok
    lines = "\n".join(report.diff_lines)
    if extra:
        assert f"table orders: {extra} rows fewer" in lines or "1 row fewer" in lines
    else:
        assert "table orders: data checksum differs" in lines
    # the schema itself came back: the only findings are about data
    assert {d.category for d in report.differences} == {"data"}

    # the checksum alone (same row count) catches a changed value
    (tmp_path / "second").mkdir()
    path2 = plan_file(tmp_path / "second", """
        - id: fix_other_totals
          sql: UPDATE orders SET total_cents = total_cents + 1 WHERE id BETWEEN 11 AND 20;
          rollback: UPDATE orders SET total_cents = 0 WHERE id BETWEEN 11 AND 20;
        """)
    report2, _ = run_rehearsal(path2, shop_db)
    assert not report2.ok
    assert any("table orders: data checksum differs" in ln for ln in report2.diff_lines)


def test_fingerprint_diff_reads_like_a_dba_finding(shop_db: str) -> None:
    with psycopg.connect(shop_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE orders ADD CONSTRAINT positive CHECK (total_cents >= 0)")
        before = fpr.take(conn, ["public.orders"])
        conn.execute("ALTER TABLE orders DROP CONSTRAINT positive")
        conn.execute("ALTER TABLE orders ADD CONSTRAINT positive CHECK (total_cents >= 0) "
                     "NOT VALID")
        conn.execute("ALTER TABLE customers ALTER COLUMN email DROP NOT NULL")
        conn.execute("ALTER TABLE orders ALTER COLUMN total_cents SET DEFAULT 7")
        conn.execute("CREATE TABLE scratch (a int PRIMARY KEY, b text)")
        conn.execute("DELETE FROM order_items WHERE order_id <= 3")
        conn.execute("DELETE FROM orders WHERE id <= 3")
        after = fpr.take(conn, ["public.orders"])
    texts = [d.text for d in compare(before, after)]
    assert "constraint orders.positive is NOT VALID (was valid)" in texts
    assert not any("positive: definition" in t for t in texts)  # NOT VALID is one finding
    assert "column customers.email is nullable (was NOT NULL)" in texts
    assert "column orders.total_cents: default 0 → 7" in texts
    assert "table scratch still present" in texts
    assert not any("scratch." in t or "scratch_pkey" in t for t in texts)  # one finding
    assert "table orders: 3 rows fewer (5000 → 4997)" in texts


def test_traffic_is_detected_from_other_sessions(shop_db: str) -> None:
    with psycopg.connect(shop_db, autocommit=True, application_name="migtui") as mine:
        assert not traffic_present(mine)
        with psycopg.connect(shop_db, autocommit=True, application_name="shop-app") as app:
            app.execute("SELECT count(*) FROM orders")
            assert traffic_present(mine)


def test_a_trigger_tripping_during_the_rehearsal_is_recorded(shop_db: str,
                                                            tmp_path: Path) -> None:
    """Forced gauges; a smoke query that fails while the index exists trips the trigger."""
    path = plan_file(tmp_path, """
        - id: add_idx
          sql: CREATE INDEX orders_created_idx ON orders (created_at);
          rollback: DROP INDEX orders_created_idx;
        - id: hold
          sql: SELECT pg_sleep(2);
          rollback: SELECT 1;
        """, settings="sample_interval: 250ms", extra="""\
        risks:
          rollback_triggers:
            - {text: Critical functionality broken, metric: smoke, above: 0, for: 0s}
        monitoring:
          smoke:
            - "SELECT 1 / (CASE WHEN to_regclass('orders_created_idx') IS NULL THEN 1 ELSE 0 END)"
        """)
    report, events = run_rehearsal(path, shop_db, gauges=True)
    assert report.ok, report.text()  # the policy is "offer": the migration itself worked
    assert report.gauges and report.trips and report.performance_ok is False
    assert "Critical functionality broken" in report.trips[0]
    assert "testing.staging/performance-acceptable" not in ticked(events)
    assert "TRIPPED" in report.text()


def test_cli_json_report_and_the_production_gate(shop_db: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    steps = """
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        """
    path = plan_file(tmp_path, steps, settings="require_rehearsal: refuse")
    monkeypatch.setenv("MIGTUI_TEST_STAGING_URL", shop_db)
    assert main(["rehearse", str(path), "--target", "production"]) == 2
    assert "is production" in capsys.readouterr().err
    assert main(["rehearse", str(path), "--json", "--production-dsn", shop_db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["target"] == "staging" and out["estimates"][0]["ratio"] == 1.0
    assert "pg_total_relation_size" in out["estimate_method"]
    recs = list(read_journal(journal_path(path, "reh")))
    assert {r["kind"] for r in recs} == {"RehearsalStarted", "RehearsalFinished", "ItemTicked"}

    # the rehearsed text runs without a word; an edited plan is refused, or warned about
    run = ["run", str(path), "--target", "production", "--dsn", shop_db, "--yes"]
    path.write_text(path.read_text() + "# edited after the rehearsal\n")
    assert main(run) == 2
    err = capsys.readouterr().err
    assert "plan changed since its last rehearsal" in err and "refuse" in err
    assert one(shop_db, "SELECT count(*) FROM information_schema.columns "
                        "WHERE table_name = 'orders' AND column_name = 'note'") == 0
    path.write_text(path.read_text().replace("require_rehearsal: refuse",
                                             "require_rehearsal: warn"))
    assert main(run) == 0
    captured = capsys.readouterr()
    assert "warning: no successful rehearsal" in captured.err
    assert "plan changed since its last rehearsal" in captured.err


def test_under_traffic_the_gauges_run_and_data_differences_are_advisory(
        shop_db: str, tmp_path: Path) -> None:
    from migtui.demo.traffic import Traffic
    from tests.runner_helpers import wait_until

    path = tmp_path / "index.yaml"
    shutil.copy(REPO / "plans" / "index-orders-customer-created.yaml", path)
    with Traffic(shop_db, workers=2, rate=20, customers=500, orders=5000, write_share=0.5):
        assert wait_until(lambda: one(shop_db, "SELECT count(*) FROM orders") > 5000)
        report, events = run_rehearsal(path, shop_db, baseline_seconds=1.0)
    assert report.traffic and report.gauges
    assert report.ok, report.text()  # the traffic's own writes never fail a rehearsal
    data = [d for d in report.differences if d.category == "data"]
    assert data and all(d.advisory for d in data)  # traffic inserted orders meanwhile
    assert not report.data_proven and "data not proven" in report.summary
    assert "data not proven" in ticked(events)["testing.staging/rollback-tested"]
