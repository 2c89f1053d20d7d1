"""A backfill's set and where are parsed on their own at plan load, and refused with a
located error when they are anything but assignments / one boolean expression."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.backfill_sql import FragmentError, set_clause, where_clause
from migtui.cli import main
from migtui.plan import PlanError, load_plan_text
from tests.runner_helpers import plan_text


def backfill_plan(set_: str, where: str | None = None) -> str:
    # a Python repr of a str without ' or \\ is a valid YAML single-quoted scalar
    lines = ["- id: fill", "  backfill:", "    table: items", f"    set: {set_!r}"]
    if where is not None:
        lines.append(f"    where: {where!r}")
    lines.append("  rollback: UPDATE items SET n = 0")
    return plan_text("\n".join(lines))


BAD_WHERE = [
    "true) OR (true",            # closes the batch's parenthesis: the whole table each batch
    "true; DROP TABLE items",
    "status IS NULL -- and more",
    "status /* hidden */ IS NULL",
    "id IN (SELECT id FROM items)",
    "EXISTS (SELECT 1 FROM other WHERE other.id = items.id)",
    "true GROUP BY 1",
    "true ORDER BY 1 LIMIT 1",
    "true FOR UPDATE",
    "true UNION SELECT 1",
    "",
]
BAD_SET = [
    "n = 1; DROP TABLE items",
    "n = 1 WHERE false --",
    "n = 1 WHERE false",
    "n = 1 FROM other",
    "n = 1 RETURNING *",
    "n = (SELECT max(n) FROM other)",
    "n = 1 /* comment */",
    "n",
    "",
]


@pytest.mark.parametrize("where", BAD_WHERE)
def test_a_where_that_is_not_one_expression_is_refused_at_its_line(where: str) -> None:
    text = backfill_plan("n = n + 1", where)
    with pytest.raises(PlanError) as e:
        load_plan_text(text, "plan.yaml")
    [p] = e.value.problems
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("where:"))
    assert (p.path, p.line, p.field) == ("plan.yaml", line, "steps[0].backfill.where")
    assert "found" in p.message and "expected one boolean expression" in p.message


@pytest.mark.parametrize("set_", BAD_SET)
def test_a_set_that_is_not_assignments_is_refused_at_its_line(set_: str) -> None:
    text = backfill_plan(set_)
    with pytest.raises(PlanError) as e:
        load_plan_text(text, "plan.yaml")
    [p] = e.value.problems
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("set:"))
    assert (p.line, p.field) == (line, "steps[0].backfill.set")
    assert "found" in p.message and "expected a list of assignments" in p.message


def test_refusals_name_what_was_found() -> None:
    with pytest.raises(FragmentError, match="2 statements"):
        set_clause("n = 1; DROP TABLE items")
    with pytest.raises(FragmentError, match="adds a WHERE clause"):
        set_clause("n = 1 WHERE false")
    with pytest.raises(FragmentError, match="a comment"):
        set_clause("n = 1 WHERE false --")
    with pytest.raises(FragmentError, match="subquery"):
        where_clause("id IN (SELECT id FROM items)")
    with pytest.raises(FragmentError, match="does not parse"):
        where_clause("true) OR (true")
    with pytest.raises(FragmentError, match="GROUP BY"):
        where_clause("true GROUP BY 1")


@pytest.mark.parametrize("deep", [
    "NOT " * 900 + "true",              # deep enough for the printer's recursion
    "a = " + "1 + " * 50_000 + "1",     # deep enough to crash the tree parser
])
def test_deeply_nested_fragment_is_refused_not_a_crash(deep: str) -> None:
    with pytest.raises(FragmentError, match="expected one boolean expression"):
        where_clause(deep)
    with pytest.raises(FragmentError, match="expected a list of assignments"):
        set_clause("n = " + deep.removeprefix("a = "))


@pytest.mark.parametrize(("set_", "where", "printed"), [
    ("n = coalesce(n, 0) + 1", None, ("n = COALESCE(n, 0) + 1", None)),
    ("a = 1, b = lower(x)", None, ("a = 1, b = lower(x)", None)),
    ("n = n % 7", "status IS NULL AND created_at < now()",
     ("n = n % 7", "status IS NULL AND created_at < now()")),
    ("(a, b) = (1, 2)", "a LIKE 'x%' OR b = 2", ("(a, b) = (1, 2)", "a LIKE 'x%' OR b = 2")),
])
def test_legit_fragments_load_and_print_back(set_: str, where: str | None,
                                            printed: tuple[str, str | None]) -> None:
    plan = load_plan_text(backfill_plan(set_, where))
    bf = plan.steps[0].backfill
    assert bf is not None and bf.set == set_ and bf.where == where  # the author's text kept
    assert " ".join(set_clause(set_).replace("( ", "(").split()) == printed[0]
    assert (where_clause(where) if where else None) == printed[1]


def test_check_and_dry_run_refuse_an_escaping_where_with_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "plan.yaml"
    p.write_text(backfill_plan("n = n + 1", "true) OR (true"))
    line = next(i for i, ln in enumerate(p.read_text().splitlines(), 1)
                if ln.strip().startswith("where:"))
    assert main(["check", str(p)]) == 2
    out = capsys.readouterr()
    assert f"plan.yaml:{line}:" in out.out + out.err
    assert "steps[0].backfill.where" in out.out + out.err
    assert main(["run", str(p), "--dry-run", "--dsn", "postgresql://nobody@127.0.0.1:1/x"]) == 2
    out = capsys.readouterr()
    assert "steps[0].backfill.where" in out.out + out.err and "Traceback" not in out.err
