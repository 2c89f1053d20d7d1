"""Property tests of the plan loader: any text in, a Plan or a located PlanError out.

Three sources of input: arbitrary text, random YAML documents built from dicts, lists and
scalars, and the example plans mutated (lines dropped, duplicated, cut, re-indented, values
replaced, keys removed). Whatever comes in, ``load_plan_text`` returns a Plan or raises
``PlanError`` whose every problem has a message, and a line whenever the YAML parsed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migtui.plan import Plan, PlanError, load_plan_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [p.read_text(encoding="utf-8") for p in sorted((REPO / "plans").glob("*.yaml"))]
EXAMPLE_DATA = [yaml.safe_load(t) for t in EXAMPLES]

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# keys the loader knows, so random documents reach the model's validation, not only 'unknown'
KEYS = sorted({k for d in EXAMPLE_DATA for k in d} | {
    "id", "sql", "rollback", "backfill", "check", "command", "manual", "irreversible",
    "table", "key", "set", "where", "expect", "capture", "run", "lock_timeout", "steps",
    "metric", "above", "below", "for", "policy", "items", "text", "done", "name"})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["1s", "500ms", "+50%", "5%", "> 0", "= @x", "SELECT 1;", "production",
                     "-1", "0s", "1e999", "NaN", "~", "1:2:3", "2026-11-23", "!!binary AA=="]))
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers(-5, 5), st.booleans())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(keys, children, max_size=6)),
    max_leaves=30)


def check(text: str) -> None:
    try:
        plan = load_plan_text(text, path="p.yaml")
    except PlanError as e:
        assert e.problems, "a PlanError without problems"
        try:
            parsed = True
            yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            parsed = False
        for p in e.problems:
            assert p.message.strip(), f"a problem without a message: {p!r}"
            assert p.path == "p.yaml"
            if parsed:
                assert p.line is not None and p.line >= 1, f"no line for: {p}"
        assert str(e)
        return
    assert isinstance(plan, Plan)


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    check(text)


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list(":-[]{}#&*!|>'\"%@`, \n\tabc019")), max_size=200))
def test_yaml_punctuation(text: str) -> None:
    check(text)


@SETTINGS
@given(documents)
def test_random_documents(doc: Any) -> None:
    check(yaml.safe_dump(doc, allow_unicode=True))


@SETTINGS
@given(st.sampled_from(EXAMPLE_DATA), st.data())
def test_examples_with_values_replaced_or_keys_dropped(base: dict[str, Any],
                                                        data: st.DataObject) -> None:
    doc = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = doc
        # walk down a random path, then replace or drop what is there
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(
                enumerate(node)) if isinstance(node, list) else []
            if not children:
                break
            k, child = data.draw(st.sampled_from(children))
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            if isinstance(node, dict) and data.draw(st.booleans()):
                del node[k]
            else:
                node[k] = data.draw(documents)
            break
    check(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@SETTINGS
@given(st.sampled_from(EXAMPLES), st.data())
def test_examples_with_lines_mutated(text: str, data: st.DataObject) -> None:
    lines = text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(st.sampled_from(["drop", "dup", "cut", "indent", "dedent", "insert",
                                         "truncate"]))
        if how == "drop":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "cut":
            n = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:n] + "\n"
        elif how == "indent":
            lines[i] = "  " + lines[i]
        elif how == "dedent":
            lines[i] = lines[i].lstrip()
        elif how == "insert":
            lines.insert(i, data.draw(st.text(max_size=30)) + "\n")
        else:
            lines = lines[:i]
    check("".join(lines))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 12)), min_size=1, max_size=14),
       st.booleans(), st.booleans())
def test_anchors_aliases_and_merge_keys(links: list[tuple[int, int]], merge: bool,
                                        in_steps: bool) -> None:
    """Chains of aliases (alias bombs among them) and merge keys: a Plan or a located error,
    never an expansion that runs away (each level multiplies by its fan-out)."""
    lines = ["migtui: 1", "title: t", "type: schema_change", "agent: a",
             "x-0: &a0 {lock_timeout: 1s, retries: 2}"]
    for i, (ref, fan) in enumerate(links, 1):
        j = min(ref, i - 1)
        refs = ", ".join([f"*a{j}"] * fan)
        if merge:
            lines.append(f"x-{i}: &a{i} {{<<: [{refs}], k{i}: [{refs}]}}")
        else:
            lines.append(f"x-{i}: &a{i} [{refs}]")
    if in_steps:
        lines += ["steps:", "  - id: s", "    <<: *a0", "    manual: do it"]
    check("\n".join(lines) + "\n")
