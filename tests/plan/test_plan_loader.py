"""Plan loading: valid plans load; every kind of bad input gets a located, human error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from migtui.journal import journal_path
from migtui.plan import PlanError, load_plan, load_plan_text, reading
from migtui.plan.reading import MAX_PLAN_BYTES
from migtui.plan.values import Threshold, parse_duration, parse_expectation, parse_threshold
from migtui.sql import SqlSyntaxError, split
from tests.conftest import PLANS

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
migtui: 1
title: t
type: schema_change
agent: me
steps:
  - id: a
    sql: ALTER TABLE t ADD COLUMN c int;
    rollback: ALTER TABLE t DROP COLUMN c;
phases:
  - name: Execution
    items:
      - {text: Run it, run: {steps: [a]}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as exc:
        load_plan_text(textwrap.dedent(text), "plan.yaml")
    return [str(p) for p in exc.value.problems]


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_plans_load(path):
    plan = load_plan(path)
    assert plan.steps and plan.phases
    assert plan.id == path.stem


def test_minimal_plan_loads():
    plan = load_plan_text(MINIMAL, "m.yaml")
    assert plan.step("a").kind == "sql"
    assert plan.id == "m"


def test_invalid_yaml_is_located():
    (msg,) = problems("migtui: 1\ntitle: [unclosed\n")
    assert msg.startswith("plan.yaml:3:1:") or msg.startswith("plan.yaml:2:")
    assert "invalid YAML" in msg


def test_not_a_mapping():
    (msg,) = problems("- just\n- a list\n")
    assert "plan.yaml:1:1" in msg and "expected a mapping" in msg and "found a list" in msg


def test_wrong_type_is_located_with_found_and_expected():
    msgs = problems(MINIMAL.replace("type: schema_change", "type: [1, 2]"))
    (msg,) = [m for m in msgs if " type:" in m]
    assert msg.startswith("plan.yaml:3:")
    assert "found a list" in msg and "schema_change" in msg


def test_wrong_scalar_type():
    msgs = problems(MINIMAL + "settings: {retries: many}\n")
    assert any("settings.retries" in m and "found 'many'" in m and "integer" in m for m in msgs)


def test_unknown_key_suggests_the_right_one():
    msgs = problems(MINIMAL.replace("    rollback:", "    rollbak:"))
    (msg,) = [m for m in msgs if "unknown key" in m]
    assert msg.startswith("plan.yaml:8:5: steps[0].rollbak:")
    assert "did you mean 'rollback'" in msg


def test_unknown_top_level_key():
    msgs = problems(MINIMAL + "risk: {}\n")
    assert any("unknown key 'risk'" in m and "did you mean 'risks'" in m for m in msgs)


@pytest.mark.parametrize("bad", ["+50x", "fifty", "-5%", "+50ms"])
def test_malformed_threshold(bad):
    msgs = problems(MINIMAL + f"risks:\n  rollback_triggers:\n    - {{metric: latency, above: '{bad}'}}\n")
    (msg,) = msgs
    assert "risks.rollback_triggers[0].above" in msg
    assert msg.startswith("plan.yaml:15:")
    assert repr(bad) in msg or bad in msg


def test_malformed_duration():
    msgs = problems(MINIMAL + "settings: {lock_timeout: soon}\n")
    assert any("settings.lock_timeout" in m and "duration" in m and "'soon'" in m for m in msgs)


def test_duplicate_step_ids():
    text = MINIMAL.replace("phases:", textwrap.dedent("""\
          - id: a
            sql: SELECT 1;
            rollback: SELECT 1;
        phases:"""))
    msgs = problems(text)
    assert any("duplicate step id 'a'" in m and m.startswith("plan.yaml:9:") for m in msgs)


def test_item_bound_to_missing_step():
    msgs = problems(MINIMAL.replace("steps: [a]", "steps: [a, b_missing]"))
    (msg,) = msgs
    assert "phases[0].items[0].run.steps[1]" in msg
    assert "'b_missing', which does not exist" in msg and msg.startswith("plan.yaml:12:")


def test_step_without_rollback_is_an_error():
    msgs = problems(MINIMAL.replace("    rollback: ALTER TABLE t DROP COLUMN c;\n", ""))
    (msg,) = msgs
    assert "steps[0]" in msg and "no 'rollback'" in msg and "irreversible" in msg


def test_irreversible_with_reason_is_allowed():
    plan = load_plan_text(MINIMAL.replace(
        "    rollback: ALTER TABLE t DROP COLUMN c;",
        "    irreversible: the old values are gone"), "m.yaml")
    assert plan.step("a").irreversible == "the old values are gone"


def test_sql_syntax_error_points_at_the_line_inside_the_block():
    text = MINIMAL.replace("    sql: ALTER TABLE t ADD COLUMN c int;",
                           "    sql: |\n      SELECT 1;\n      SELEC 2;")
    (msg,) = problems(text)
    assert msg.startswith("plan.yaml:9:") and "does not parse" in msg and "SELEC" in msg


def test_duplicate_yaml_key():
    msgs = problems(MINIMAL + "title: again\n")
    assert any("duplicate key 'title'" in m and m.startswith("plan.yaml:13:1") for m in msgs)


def test_every_problem_is_reported_at_once():
    text = MINIMAL.replace("type: schema_change", "type: nope").replace("steps: [a]", "steps: [x]")
    assert len(problems(text)) == 2


def test_missing_file():
    with pytest.raises(PlanError) as exc:
        load_plan("/nonexistent/plan.yaml")
    assert "file not found" in str(exc.value)


def test_thresholds_are_typed():
    assert parse_threshold("+50%") == Threshold("relative", 50.0)
    assert parse_threshold("> 5%") == Threshold("absolute", 5.0, "%")
    assert parse_threshold("90%") == Threshold("absolute", 90.0, "%")
    assert parse_threshold("200ms") == Threshold("absolute", 0.2, "s")
    rel = parse_threshold("+50%")
    assert rel.limit(None) is None and rel.limit(0.010) == pytest.approx(0.015)
    assert rel.breached(0.016, 0.010) is True and rel.breached(0.014, 0.010) is False
    assert parse_duration("500ms") == 0.5 and parse_duration("2m") == 120


def test_expectations():
    assert parse_expectation("= 0").evaluate(0)
    assert not parse_expectation("= 0").evaluate(3)
    assert parse_expectation("> 10").evaluate("11")
    assert parse_expectation("= @before").evaluate(5, {"before": 5})
    assert parse_expectation("= 'abc'").evaluate("abc")


def test_a_latency_limit_needs_its_unit():
    msgs = problems(MINIMAL + "risks:\n  rollback_triggers:\n    - {metric: latency, above: 50}\n")
    (msg,) = msgs
    assert msg.startswith("plan.yaml:15:") and "200ms" in msg and "+50%" in msg
    msgs = problems(MINIMAL + "monitoring:\n  metrics:\n    - {metric: error_rate, alert: 2s}\n")
    assert any("percentage" in m for m in msgs)
    load_plan_text(MINIMAL + "risks:\n  rollback_triggers:\n"
                   "    - {metric: latency, above: 200ms}\n", "m.yaml")


# ---------------------------------------------------------------- hostile input (issue 12)


def one_problem(text: str, path: str = "plan.yaml") -> str:
    with pytest.raises(PlanError) as exc:
        load_plan_text(text, path)
    assert len(exc.value.problems) == 1, exc.value.problems
    return str(exc.value.problems[0])


@pytest.mark.parametrize(("setting", "value", "found"), [
    ("lock_timeout", ".inf", "found inf"), ("statement_timeout", ".nan", "found nan"),
    ("lock_timeout", "-.inf", "found -inf"),
    ("statement_timeout", "99999999999999999999h", "at most 576h"),
    ("retry_max", "100000000000000000000", "at most 9007199254740992"),
    ("latency_window", "25000h", "at most 576h"),
])
def test_non_finite_and_absurd_durations_are_refused_at_load(setting, value, found):
    text = MINIMAL + f"settings:\n  {setting}: {value}\n"
    msg = one_problem(text)
    assert msg.startswith("plan.yaml:14:") and f"settings.{setting}" in msg and found in msg


@pytest.mark.parametrize("value", ["100000000000000000000", "1e20", ".inf"])
def test_absurd_batch_size_is_located(value):
    text = MINIMAL.replace("    sql: ALTER TABLE t ADD COLUMN c int;\n",
                           f"    backfill: {{table: t, set: 'c = 1', batch_size: {value}}}\n")
    assert "plan.yaml:7:" in one_problem(text)


def test_step_duration_and_expectation_must_be_finite():
    text = MINIMAL.replace("    rollback: ALTER", "    lock_timeout: .inf\n    rollback: ALTER")
    assert "steps[0].lock_timeout" in one_problem(text)
    with pytest.raises(ValueError, match="finite"):
        parse_threshold("9" * 400 + "%")
    with pytest.raises(ValueError, match="finite"):
        parse_expectation(float("nan"))
    with pytest.raises(ValueError, match="at most"):
        parse_duration(float("inf"))


def test_lone_surrogate_in_sql_is_located(monkeypatch):
    text = MINIMAL.replace("sql: ALTER TABLE t ADD COLUMN c int;", "sql: \"SELECT '\\ud800'\"")
    assert one_problem(text).startswith("plan.yaml:7:")
    # the pure-Python YAML parser accepts the escape: the value check refuses it
    monkeypatch.setattr(reading, "_LOADER", yaml.SafeLoader)
    msg = one_problem(text)
    assert msg.startswith("plan.yaml:7:") and "surrogate" in msg and "steps[0].sql" in msg


def test_sql_with_surrogate_or_nul_is_a_syntax_error_not_a_crash():
    with pytest.raises(SqlSyntaxError, match="surrogate"):
        split("SELECT 1;\nSELECT '\ud800'")
    with pytest.raises(SqlSyntaxError, match="NUL") as exc:
        split("SELECT 1;\nSELECT 2\0; DROP TABLE t")  # the parser would stop at the NUL
    assert exc.value.line == 2


@pytest.mark.parametrize("sql", [
    "SELECT " + "+".join(["1"] * 50_000),
    " UNION ".join(["SELECT 1"] * 30_000),
], ids=["plus-chain", "union-chain"])
def test_deeply_nested_sql_does_not_kill_the_process(sql, tmp_path):
    # before the guard, pglast's AST building overflowed the C stack (SIGSEGV, exit 139)
    src = tmp_path / "q.sql"
    src.write_text(sql)
    code = ("import sys; from migtui.sql import split, SqlSyntaxError\n"
            "try:\n    print(len(split(open(sys.argv[1]).read())))\n"
            "except SqlSyntaxError as e:\n    print('error', e.message)\n")
    out = subprocess.run([sys.executable, "-c", code, str(src)], capture_output=True,
                         text=True, timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.startswith("error a statement nested more than 100 levels deep")


def test_sql_deeper_than_lint_can_walk_is_a_located_error():
    # 140 chained terms in a CHECK made check die with RecursionError inside the lint
    chain = "+".join(["c"] * 140)
    text = MINIMAL.replace("ADD COLUMN c int;", f"ADD CONSTRAINT k CHECK (c > {chain});")
    msg = one_problem(text)
    assert msg.startswith("plan.yaml:7:") and "levels deep" in msg
    from migtui.lint import lint_plan

    ok = load_plan_text(MINIMAL.replace("ADD COLUMN c int;",
                                        f"ADD CONSTRAINT k CHECK (c > {'+'.join(['c'] * 90)});"))
    assert lint_plan(ok, None) is not None


def test_split_lines_stay_right_over_many_statements():
    sql = "".join(f"-- {i}\nSELECT {i};\n" for i in range(3000))
    stmts = split(sql)
    assert [s.line for s in stmts[:3]] == [2, 4, 6] and stmts[-1].line == 6000


def test_loading_builds_no_sql_ast(monkeypatch):
    # check validated every SQL text by building pglast's (slow) AST, then lint built it again
    import pglast

    def no_ast(*_a, **_k):
        raise AssertionError("the loader built an AST")

    monkeypatch.setattr(pglast, "parse_sql", no_ast)
    assert load_plan_text(MINIMAL, "m.yaml").steps
    assert "does not parse" in one_problem(MINIMAL.replace("ADD COLUMN c int", "ADD COLUMN"))


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_before_expanding():
    text = "migtui: 1\n" + alias_bomb()
    assert len(text.encode()) < 600
    msg = one_problem(text)
    assert "alias" in msg and "200000" in msg and msg.startswith("plan.yaml:")


def test_recursive_alias_and_deep_nesting_are_refused():
    assert "recursive alias" in one_problem("migtui: 1\nx: &a [1, *a]\n")
    assert "levels deep" in one_problem("x: " + "[" * 150 + "]" * 150 + "\n")


def test_merge_keys_merge_and_keep_their_lines():
    text = MINIMAL.replace("steps:\n", "x-slow: &slow {lock_timeout: 5s, retries: 3}\nsteps:\n")
    text = text.replace("  - id: a\n", "  - id: a\n    <<: *slow\n    retries: 4\n")
    step = load_plan_text(text, "m.yaml").step("a")
    assert (step.lock_timeout, step.retries) == (5.0, 4)  # the step's own key wins
    bad = text.replace("lock_timeout: 5s", "lock_timeout: 5x")
    msg = one_problem(bad)
    assert msg.startswith("plan.yaml:5:") and "steps[0].lock_timeout" in msg
    assert "'<<' merges a mapping" in one_problem(text.replace("<<: *slow", "<<: 3"))


@pytest.mark.parametrize("bad", ["../../escaped", "/tmp/abs", "a\nb", ".hidden", "a/b", "x" * 201])
def test_plan_id_must_be_safe(bad):
    text = MINIMAL.replace("title: t\n", f"title: t\nid: {json.dumps(bad)}\n")
    msg = one_problem(text)
    assert msg.startswith("plan.yaml:3:1: id:") and "plan id" in msg


def test_default_plan_id_is_made_safe():
    assert load_plan_text(MINIMAL, "dir/my plan (v2).yaml").id == "my-plan-v2"
    assert load_plan_text(MINIMAL, "<plan>").id == "t"


def test_journal_path_cannot_leave_the_journal_directory(tmp_path):
    plan = tmp_path / "p.yaml"
    assert journal_path(plan, "ok.id").parent == (tmp_path / ".migtui").resolve()
    for bad in ("../../escaped", "/etc/x", "a/b", ".."):
        with pytest.raises(ValueError):
            journal_path(plan, bad)


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory", "too-big", "latin-1"])
def test_files_that_are_not_small_utf8_plans_are_refused(kind, tmp_path):
    path = tmp_path / "p.yaml"
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)  # opening it would block forever
    elif kind == "directory":
        path.mkdir()
    elif kind == "too-big":
        with path.open("wb") as fh:
            fh.truncate(MAX_PLAN_BYTES + 1)
    else:
        path.write_bytes(b"migtui: 1\ntitle: caf\xe9\n")
    with pytest.raises(PlanError) as exc:
        load_plan(path)
    msg = str(exc.value.problems[0])
    expected = {"dev-zero": "a device", "fifo": "a FIFO", "directory": "a directory",
                "too-big": "at most 10485760 bytes", "latin-1": "p.yaml:2:11: not UTF-8"}[kind]
    assert expected in msg
