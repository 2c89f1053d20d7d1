"""One journal policy: the same plan journals the same event kinds headless and in the app."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from migtui.cli import main
from migtui.events import NoteAdded, StepProgress
from migtui.execution.journal_policy import journaled
from migtui.execution.session import Session
from migtui.journal import journal_path, read_journal
from migtui.plan import load_plan
from tests.runner_helpers import plan_text

STEPS = """
- id: add_col
  sql: ALTER TABLE items ADD COLUMN note text;
  rollback: ALTER TABLE items DROP COLUMN note;
- id: bump
  backfill: {table: items, key: id, set: "n = n + 1", batch_size: 100, min_batch: 100,
             max_batch: 100}
  rollback: UPDATE items SET n = 0
"""

PHASES = """
- name: Execution
  items:
    - {text: Migrate, run: {steps: [add_col, bump]}}
    - {text: All bumped, run: {check: "SELECT count(*) FROM items WHERE n = 0", expect: "= 0"}}
    - {text: Say hello, run: {command: "echo hello"}}
"""


def make_items(url: str, n: int) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)")
        c.execute("INSERT INTO items (id) SELECT generate_series(1, %s)", (n,))


def kinds(path: Path) -> list[str]:
    return [r["kind"] for r in read_journal(journal_path(path, "t-plan"))]


def test_the_policy_leaves_out_progress_only() -> None:
    assert not journaled(StepProgress(step_id="s", done=1, total=2, rate=1.0, eta=1.0,
                                      batch_size=1))
    assert journaled(NoteAdded(text="x", author="y"))


def test_headless_and_app_session_journal_the_same_kinds(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_items(db_url, 500)  # five batches: StepProgress is emitted, never journaled
    headless = tmp_path / "headless"
    app = tmp_path / "app"
    for d in (headless, app):
        d.mkdir()
        (d / "plan.yaml").write_text(plan_text(STEPS, phases=PHASES))

    assert main(["run", str(headless / "plan.yaml"), "--dsn", db_url]) == 0, \
        capsys.readouterr().out
    main(["rollback", str(headless / "plan.yaml"), "--dsn", db_url])  # back to the start
    head_kinds = kinds(headless / "plan.yaml")
    # the rollback is its own run: compare the first run (up to its RunFinished)
    head_kinds = head_kinds[:head_kinds.index("RunFinished") + 1]

    plan = load_plan(app / "plan.yaml")
    progress: list[StepProgress] = []
    session = Session(app / "plan.yaml", plan, dsn=db_url, operator="tester", sample=False)
    session.subscribe(lambda e: progress.append(e) if isinstance(e, StepProgress) else None)
    session.open()
    for item in plan.phases[0].items:  # as the app's "run phase" does, on its worker
        assert session.run_item("phases.execution", item).status == "done"
    session.close()
    app_kinds = kinds(app / "plan.yaml")

    assert len(progress) >= 5  # the backfill did report progress to the screens
    assert "StepProgress" not in head_kinds
    assert head_kinds[0] == "RunStarted" and head_kinds[-1] == "RunFinished"
    assert app_kinds == head_kinds
