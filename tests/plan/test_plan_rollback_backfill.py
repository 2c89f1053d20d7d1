"""The scaffold and the example plans undo their backfills in batches, and lint sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.cli.cmd_new import scaffold
from migtui.lint import lint_plan
from migtui.plan import load_plan, load_plan_text

REPO = Path(__file__).resolve().parents[2]


def test_the_scaffold_undoes_its_backfill_in_batches(tmp_path: Path) -> None:
    text = scaffold(tmp_path / "fill.yaml", "data_migration", "Fill", "orders", "me")
    plan = load_plan_text(text, "fill.yaml")
    (step,) = [s for s in plan.steps if s.backfill is not None]
    rb = step.rollback_backfill
    assert rb is not None and rb.table == "orders" and rb.where == "new_column IS NOT NULL"
    assert not [f for f in lint_plan(plan) if f.rule.startswith("unbatched")]


@pytest.mark.parametrize("name", sorted(
    str(p.relative_to(REPO)) for p in [*(REPO / "plans").glob("*.yaml"),
                                       REPO / "migtui/demo/plan.yaml"]
    if "backfill:" in p.read_text()))
def test_example_backfills_roll_back_as_backfills(name: str) -> None:
    plan = load_plan(REPO / name)
    backfills = [s for s in plan.steps if s.backfill is not None]
    assert backfills and all(s.rollback_backfill is not None for s in backfills)
    found = lint_plan(plan)
    assert not [f for f in found if f.rule.startswith("unbatched")]
    assert not [s for s in plan.steps if "unbatched-update" in s.lint_ignore]


def test_an_unbatched_rollback_of_a_backfill_is_flagged() -> None:
    plan = load_plan_text("""\
migtui: 1
title: t
type: data_migration
agent: me
overview: []
documentation: []
steps:
  - id: fill
    backfill: {table: orders, set: "status = 'x'", where: "status IS NULL"}
    rollback: "UPDATE orders SET status = NULL"
""", "t.yaml")
    (f,) = [f for f in lint_plan(plan) if f.rule == "unbatched-update"]
    assert f.which == "rollback" and f.step_id == "fill"
    assert "rollback:\n  backfill: {table: orders" in f.safe_alternative


def test_a_filtered_rollback_of_a_backfill_is_flagged_with_its_filter() -> None:
    """The demo's first rollback, ``UPDATE … WHERE status = 'shipped'``, undid 700k rows in
    one transaction: a WHERE does not make a backfill's rollback small."""
    plan = load_plan_text("""\
migtui: 1
title: t
type: data_migration
agent: me
overview: []
documentation: []
steps:
  - id: fill
    backfill: {table: orders, set: "status = 'shipped'", where: "status IS NULL"}
    rollback: "UPDATE orders SET status = NULL WHERE status = 'shipped'"
  - id: purge
    backfill: {table: orders, set: "note = 'x'", where: "note IS NULL"}
    rollback: "DELETE FROM orders WHERE note = 'x'"
  - id: small
    sql: "UPDATE orders SET status = 'x' WHERE id = 1"
    rollback: "UPDATE orders SET status = NULL WHERE id = 1"
""", "t.yaml")
    found = {(f.rule, f.step_id): f for f in lint_plan(plan) if f.rule.startswith("unbatched")}
    assert set(found) == {("unbatched-update", "fill"), ("unbatched-delete", "purge")}
    upd = found[("unbatched-update", "fill")]
    assert upd.which == "rollback" and "all the rows the backfill of fill changed" in upd.message
    assert "where: \"status = 'shipped'\"" in upd.safe_alternative
    assert "WHERE note = 'x' LIMIT 5000" in found[("unbatched-delete", "purge")].safe_alternative
