"""The corpus: per rule, unsafe statements it must flag and safe forms it must not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from migtui.lint import RULES, TableSizes, lint_plan
from migtui.sql import split
from tests.lint_helpers import plan_with

CORPUS = Path(__file__).resolve().parents[1] / "lint_corpus"
_META = {"suppression-without-reason", "suppression-unknown-rule"}  # see test_lint_suppress


def _cases(kind: str) -> list[Any]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for i, entry in enumerate(data[kind]):
            e = {"sql": entry} if isinstance(entry, str) else dict(entry)
            out.append(pytest.param(data["rule"], e, id=f"{data['rule']}-{kind}{i}"))
    return out


def _lint(entry: dict[str, Any]):
    step = {k: entry[k] for k in ("sql", "rollback", "irreversible") if k in entry}
    plan = plan_with(step, new_tables=entry.get("new_tables"))
    # `columns`: the old column types, as `check --dsn` reads them from the catalog
    sizes = TableSizes(columns=entry["columns"]) if "columns" in entry else None
    return lint_plan(plan, sizes, server_version=entry.get("server_version"))


def test_every_rule_has_a_corpus():
    files = {yaml.safe_load(p.read_text())["rule"] for p in CORPUS.glob("*.yaml")}
    assert files == set(RULES) - _META
    for p in CORPUS.glob("*.yaml"):
        data = yaml.safe_load(p.read_text())
        assert data["unsafe"] and data["safe"], p.name


@pytest.mark.parametrize(("rule", "entry"), _cases("unsafe"))
def test_rule_fires_on_unsafe_form(rule, entry):
    hits = [f for f in _lint(entry) if f.rule == rule]
    assert hits, f"{rule} did not fire on {entry}"
    f = hits[0]
    assert f.message and f.step_id == "s1"
    if "severity" in entry:
        assert f.severity == entry["severity"]
    assert f.which == entry.get("which", "sql")
    if rule not in ("missing-rollback",) and not rule.startswith("prefer-"):
        assert f.safe_alternative, f"{rule} gives no safe alternative"
    if "advice_lacks" in entry:
        assert entry["advice_lacks"] not in f.safe_alternative.upper(), f.safe_alternative


@pytest.mark.parametrize(("rule", "entry"), _cases("safe"))
def test_rule_silent_on_safe_form(rule, entry):
    hits = [f for f in _lint(entry) if f.rule == rule]
    assert not hits, [h.message for h in hits]


# Rules whose safe alternative is plain SQL: it parses, and the same rule stays silent on it.
_SQL_ALTERNATIVES = ["index-not-concurrent", "drop-index-not-concurrent",
                     "reindex-not-concurrent", "foreign-key-not-valid", "check-not-valid",
                     "unique-without-using-index", "set-not-null",
                     "add-column-volatile-default", "truncate-cascade", "vacuum-full"]


@pytest.mark.parametrize(("rule", "entry"), [
    c for c in _cases("unsafe") if c.values[0] in _SQL_ALTERNATIVES
    and not (c.values[0] == "reindex-not-concurrent" and "server_version" in c.values[1])])
def test_safe_alternative_is_safe(rule, entry):
    f = next(f for f in _lint(entry) if f.rule == rule)
    assert split(f.safe_alternative), f.safe_alternative  # it parses
    again = _lint({**entry, f.which: f.safe_alternative})
    assert not [g for g in again if g.rule == rule], f.safe_alternative
