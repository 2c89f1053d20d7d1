"""Rehearsal from the app: h picks a database (never production), the stages show, the
report (with its diff) opens in a modal, and the header shows the status of the plan text."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migtui.journal import journal_path, read_journal
from migtui.tui import make_app
from migtui.tui.screens.modals import ChoiceModal, ReportModal
from tests.tui.helpers import asynctest, until

PLAN = """
migtui: 1
id: rh
title: Rehearse me
type: schema_change
agent: tester
targets:
  production: {{dsn_env: MIGTUI_TEST_PROD_URL, environment: production}}
  staging: {{dsn_env: MIGTUI_TEST_STAGING_URL, environment: staging}}
default_target: staging
overview: [Ready]
documentation: [Done]
steps:
  - id: add_flag
    sql: ALTER TABLE orders ADD COLUMN flag boolean;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS flag;
  - id: index_total
    sql: CREATE INDEX orders_total_idx ON orders (total_cents);
    rollback: {rollback}
phases:
  - name: Preparation
    items:
      - {{text: Test migration on staging, run: {{rehearse: true}}}}
"""
GOOD = "DROP INDEX IF EXISTS orders_total_idx;"
FORGETS_THE_INDEX = "SELECT 1;"


def header(app) -> str:
    return str(app.main.query_one("#top").render())


@pytest.fixture(autouse=True)
def _no_target_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGTUI_TEST_PROD_URL", raising=False)
    monkeypatch.delenv("MIGTUI_TEST_STAGING_URL", raising=False)


@asynctest
async def test_rehearsal_from_the_app(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "rh.yaml"
    path.write_text(PLAN.format(rollback=GOOD))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.main.statuses_known)
        assert "rehearsal missing" in header(app)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, ChoiceModal))
        assert app.screen.options == [f"this database, target staging: "
                                      f"{app.session.display_dsn}"]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReportModal), timeout=60)
        assert app.screen.title_text.startswith("Rehearsal clean")
        assert "add_flag" in app.screen.text
        await pilot.press("escape")
        assert "rehearsal ok" in header(app)
        # rehearsed on this very database: its history says rolled back, nothing applied
        await until(pilot, lambda: app.main.job is None)
        assert {r.state for r in app.main.rows.values()} == {"rolled_back"}
        # and the app's runner has its database back: the next step runs
        await pilot.press("x")
        await until(pilot, lambda: app.main.rows["add_flag"].state == "applied")
    recs = list(read_journal(journal_path(path, "rh")))
    kinds = [r["kind"] for r in recs]
    assert "RehearsalStarted" in kinds and "RehearsalFinished" in kinds
    # a rehearsal's steps are not journaled as a run: the only steps are the later x
    assert "StepStarted" not in kinds[:kinds.index("RehearsalFinished")]
    ticked = {r["item"] for r in recs if r["kind"] == "ItemTicked" and r["done"]}
    assert "phases.preparation/test-migration-on-staging" in ticked
    # editing the plan makes the rehearsal stale
    path.write_text(path.read_text() + "\n# edited\n")
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.main.statuses_known)
        assert "rehearsal stale" in header(app)


@asynctest
async def test_a_failed_rehearsal_shows_its_diff(shop_db: str, tmp_path: Path) -> None:
    path = tmp_path / "rh.yaml"
    path.write_text(PLAN.format(rollback=FORGETS_THE_INDEX))
    app = make_app(path, shop_db, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.main.statuses_known)
        # the {rehearse: true} item runs it too: Phase 1, its checklist, r
        await pilot.press("j", "j", "j")
        await pilot.pause(0.3)
        await pilot.press("tab", "r")
        await until(pilot, lambda: isinstance(app.screen, ReportModal), timeout=60)
        assert app.screen.title_text.startswith("Rehearsal FAILED")
        assert "index orders_total_idx still present" in app.screen.text
        await pilot.press("escape")
        assert "rehearsal failed" in header(app)
    with psycopg.connect(shop_db) as c:
        c.execute("DROP INDEX IF EXISTS orders_total_idx")


@asynctest
async def test_never_on_production(shop_db: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rh.yaml"
    path.write_text(PLAN.format(rollback=GOOD))
    monkeypatch.setenv("MIGTUI_TEST_STAGING_URL", shop_db)  # staging is production's URL
    monkeypatch.setenv("MIGTUI_TEST_PROD_URL", shop_db)
    app = make_app(path, shop_db, "production", operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.main.statuses_known)
        assert app.session.rehearsal_choices() == []
        await pilot.press("h")
        await pilot.pause()
        assert not isinstance(app.screen, ChoiceModal)
    assert "RehearsalStarted" not in {r["kind"] for r in read_journal(journal_path(path, "rh"))}
