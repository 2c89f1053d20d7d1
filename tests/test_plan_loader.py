"""Plan loading: valid plans load; every kind of bad input gets a located, human error."""

from __future__ import annotations

import textwrap

import pytest

from migtui.plan import PlanError, load_plan, load_plan_text
from migtui.plan.values import Threshold, parse_duration, parse_expectation, parse_threshold
from tests.conftest import PLANS

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
