"""The demo's report is the app's export: with the lint's findings, and no secret."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from migtui.demo.story import play
from migtui.journal import journal_path, read_journal
from migtui.lint import TableSizes, lint_plan
from migtui.plan import load_plan
from tests.runner_helpers import plan_text

PASSWORD = "Dem0SecretPw"


def test_the_demo_report_has_the_lint_findings_and_no_password(shop_db: str,
                                                              tmp_path: Path) -> None:
    # the test server trusts local connections: any password is accepted (and must hide)
    url = make_url(shop_db).set(password=PASSWORD).render_as_string(hide_password=False)
    steps = f"""
    - id: add_col
      sql: ALTER TABLE orders ADD COLUMN note text;
      rollback: ALTER TABLE orders DROP COLUMN note;
    - id: note_idx
      sql: CREATE INDEX orders_note_idx ON orders (note);
      rollback: DROP INDEX orders_note_idx;
    - id: tell
      command: {{run: "echo migrated {url}"}}
    """
    path = tmp_path / "demo.yaml"
    path.write_text(plan_text(steps, plan_id="demo", phases="""
        - name: Execution
          items:
            - {text: Migrate, run: {steps: [add_col, note_idx, tell]}}
    """))
    plan = load_plan(path)
    # the export sizes the findings with the tables' real sizes, as the app's does
    sized = lint_plan(plan, sizes=TableSizes.read(shop_db))
    findings = [f for f in sized if f.severity != "info" and not f.suppressed]
    assert findings, "the plan should have a lint finding (a blocking DROP INDEX)"

    report = play(plan, path, url, say=lambda _line: None, warmup=0, recovery_wait=0,
                  baseline_seconds=1)
    assert report.report_path is not None
    text = report.report_path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    assert "echo migrated postgresql://postgres:***@" in text  # the plan's text, scrubbed
    for f in findings:
        assert f"({f.rule})" in text, f.rule
    kinds = [r["kind"] for r in read_journal(journal_path(path, "demo"))]
    assert kinds[0] == "RunStarted" and "RunFinished" in kinds
