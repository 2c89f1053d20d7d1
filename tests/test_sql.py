"""migtui.sql: parse_once gives ``check`` each distinct SQL text's statements once, and
the same answers as parsing again, errors included."""

from __future__ import annotations

import pytest

from migtui.lint import lint_plan
from migtui.sql import SqlSyntaxError, parse_once, split
from tests.runner_helpers import make_plan

SQL = "ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX CONCURRENTLY i ON orders (note);"


def test_within_parse_once_a_text_is_parsed_once_with_the_same_statements() -> None:
    fresh = split(SQL)
    with parse_once():
        first, again = split(SQL), split(SQL)
        assert [s.node for s in first] == [s.node for s in again]
        assert all(a.node is b.node for a, b in zip(first, again, strict=True))  # parsed once
        with parse_once():  # nested: the same memo
            assert split(SQL)[0].node is first[0].node
    assert [(s.text, s.line, s.kind) for s in first] == [(s.text, s.line, s.kind) for s in fresh]
    assert split(SQL)[0].node is not first[0].node  # outside it, parsed again


def test_an_error_is_raised_every_time_within_parse_once() -> None:
    with parse_once():
        for _ in range(2):
            with pytest.raises(SqlSyntaxError):
                split("ALTER TABLE orders ADD COLUMN;")


def test_the_lint_says_the_same_within_parse_once() -> None:
    plan = make_plan("""
        - id: a
          sql: UPDATE orders SET note = 'x';
          rollback: UPDATE orders SET note = NULL;
        - id: b
          sql: CREATE INDEX orders_note ON orders (note);
          rollback: DROP INDEX orders_note;
        """)
    plain = [(f.rule, f.step_id, f.message) for f in lint_plan(plan)]
    with parse_once():
        once = [(f.rule, f.step_id, f.message) for f in lint_plan(plan)]
        twice = [(f.rule, f.step_id, f.message) for f in lint_plan(plan)]
    assert plain == once == twice and plain


def test_check_composes_the_plan_once_for_all_its_problems(tmp_path) -> None:
    """Every problem of a refused plan is located in the same text: composing the YAML once
    per problem made 2,000 of them take minutes."""
    from migtui.cli import main
    from migtui.lint.locate import _step_marks

    steps = "".join(f"  - id: s{i}\n    sql: ALTER TABLE t ADD COLUMN c{i} int; CREATE INDEX "
                    f"CONCURRENTLY i{i} ON t (c{i})\n    rollback: SELECT 1\n" for i in range(50))
    plan = tmp_path / "refused.yaml"
    plan.write_text("migtui: 1\nid: refused\ntitle: T\ntype: schema_change\nagent: t\n"
                    "targets: {dev: {environment: development}}\nsteps:\n" + steps)
    _step_marks.cache_clear()
    assert main(["check", str(plan)]) == 2
    info = _step_marks.cache_info()
    assert info.misses == 1 and info.hits >= 49, info
