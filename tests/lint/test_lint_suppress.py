"""Suppressions: lint_ignore on a step, inline comments found by the scanner, reasons."""

from __future__ import annotations

from migtui.lint import lint_plan
from migtui.lint.suppress import inline_ignores, parse_comment
from migtui.sql import split
from tests.lint_helpers import plan_with

IDX = "CREATE INDEX orders_a_idx ON orders (a);"


def _rules(findings, active=True):
    return [f.rule for f in findings if f.active == active]


def test_lint_ignore_on_step_suppresses_with_reason():
    found = lint_plan(plan_with({"sql": IDX, "lint_ignore": {
        "index-not-concurrent": "orders is empty until launch"}}))
    assert _rules(found) == []
    (f,) = found
    assert f.rule == "index-not-concurrent" and f.suppressed == "orders is empty until launch"


def test_lint_ignore_applies_to_rollback_too():
    found = lint_plan(plan_with({"sql": "SELECT 1", "rollback": "DROP INDEX orders_a_idx;",
                                 "lint_ignore": {"drop-index-not-concurrent": "tiny index"}}))
    assert [(f.which, f.suppressed) for f in found] == [("rollback", "tiny index")]


def test_lint_ignore_without_reason_is_a_finding_and_does_not_apply():
    found = lint_plan(plan_with({"sql": IDX, "lint_ignore": {"index-not-concurrent": " "}}))
    assert sorted(_rules(found)) == ["index-not-concurrent", "suppression-without-reason"]


def test_lint_ignore_unknown_rule():
    found = lint_plan(plan_with({"sql": "SELECT 1", "lint_ignore": {"no-such-rule": "x"}}))
    assert _rules(found) == ["suppression-unknown-rule"]


def test_inline_comment_before_statement():
    sql = f"-- migtui: ignore index-not-concurrent because built before traffic\n{IDX}"
    (f,) = lint_plan(plan_with({"sql": sql}))
    assert f.suppressed == "built before traffic"


def test_inline_trailing_comment_applies_to_its_line_not_the_next_statement():
    sql = (f"{IDX}  -- migtui: ignore index-not-concurrent because small\n"
           "CREATE INDEX orders_b_idx ON orders (b);")
    found = lint_plan(plan_with({"sql": sql}))
    assert [(f.line, f.suppressed) for f in found] == [(1, "small"), (2, None)]


def test_inline_block_comment_and_several_rules():
    sql = ("/* migtui: ignore drop-column, drop-table because retired in release 41 */\n"
           "ALTER TABLE customers DROP COLUMN legacy;\nDROP TABLE legacy;")
    found = lint_plan(plan_with({"sql": sql}))
    assert [(f.rule, f.suppressed) for f in found] == [
        ("drop-column", "retired in release 41"), ("drop-table", None)]


def test_inline_ignore_needs_a_reason():
    sql = f"-- migtui: ignore index-not-concurrent\n{IDX}"
    found = lint_plan(plan_with({"sql": sql}))
    assert sorted(_rules(found)) == ["index-not-concurrent", "suppression-without-reason"]
    meta = next(f for f in found if f.rule == "suppression-without-reason")
    assert meta.line == 1 and "because" in meta.message


def test_inline_ignore_of_unknown_rule():
    found = lint_plan(plan_with({"sql": f"-- migtui: ignore idx because x\n{IDX}"}))
    assert sorted(_rules(found)) == ["index-not-concurrent", "suppression-unknown-rule"]


def test_comment_text_inside_a_string_is_not_a_suppression():
    sql = ("COMMENT ON TABLE orders IS '-- migtui: ignore index-not-concurrent because no';\n"
           "DO $$ BEGIN -- migtui: ignore index-not-concurrent because nope\nEND $$;\n" + IDX)
    assert inline_ignores(sql, split(sql)) == []  # a string and a dollar-quoted body
    found = lint_plan(plan_with({"sql": sql}))
    assert _rules(found) == ["index-not-concurrent"]


def test_parse_comment():
    assert parse_comment("-- migtui: ignore a,b c because it is fine") == (
        ("a", "b", "c"), "it is fine")
    assert parse_comment("-- just a comment") is None
    assert parse_comment("-- migtui: ignore a") == (("a",), "")
