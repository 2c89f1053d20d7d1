"""Plan-file lines for findings: where in the YAML a step's SQL statement was written."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from migtui.lint.findings import Finding


@functools.lru_cache(maxsize=4)
def _step_marks(text: str) -> dict[str, dict[str, tuple[int, bool]]]:
    """step id -> key -> (first line of the value, True when line-for-line exact).

    Kept for the last few texts: ``check`` locates every problem of a plan in the same
    text (composed once per problem, 2,000 problems took minutes). Read-only."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    steps = next((v for k, v in root.value if getattr(k, "value", None) == "steps"), None)
    out: dict[str, dict[str, tuple[int, bool]]] = {}
    if not isinstance(steps, yaml.SequenceNode):
        return out
    for node in steps.value:
        if not isinstance(node, yaml.MappingNode):
            continue
        marks: dict[str, tuple[int, bool]] = {}
        sid = None
        for k, v in node.value:
            key = getattr(k, "value", None)
            if key == "id" and isinstance(v, yaml.ScalarNode):
                sid = str(v.value)
            line = v.start_mark.line + 1
            exact = isinstance(v, yaml.ScalarNode) and v.style == "|"
            if isinstance(v, yaml.ScalarNode) and v.style in ("|", ">"):
                line += 1  # the text starts on the line after the indicator
            if isinstance(key, str):
                marks[key] = (line, exact or "\n" not in str(getattr(v, "value", "")))
                marks["@" + key] = (k.start_mark.line + 1, True)
        if sid is not None:
            out[sid] = marks
    return out


def locate(findings: list[Finding], plan: str | Path) -> list[Finding]:
    """The findings with ``plan_line`` set, from the plan file (a path) or its text."""
    text = Path(plan).read_text(encoding="utf-8") if isinstance(plan, Path) else plan
    if isinstance(plan, str) and "\n" not in plan and Path(plan).is_file():
        text = Path(plan).read_text(encoding="utf-8")
    marks = _step_marks(text)
    out = []
    for f in findings:
        m = marks.get(f.step_id, {})
        line: int | None = None
        if f.line == 0:  # not in the SQL: the step's lint_ignore
            line = m.get("@lint_ignore", (None, True))[0]
        elif f.rule == "missing-rollback" and "@irreversible" in m:
            line = m["@irreversible"][0]
        elif f.which in m:
            start, exact = m[f.which]
            line = start + f.line - 1 if exact else start
        elif f.which == "sql" and "@backfill" in m:
            line = m["@backfill"][0]
        out.append(f.with_(plan_line=line))
    return out


def field_line(plan: str | Path, step_id: str, field: str, sql_line: int | None = None
               ) -> int | None:
    """The plan-file line of a step's field (``sql``, ``rollback``, ``backfill.where``...):
    the SQL's own line ``sql_line`` when the YAML keeps lines exact, else the key's line."""
    text = Path(plan).read_text(encoding="utf-8") if isinstance(plan, Path) else plan
    if isinstance(plan, str) and "\n" not in plan and Path(plan).is_file():
        text = Path(plan).read_text(encoding="utf-8")
    marks = _step_marks(text)
    m = marks.get(step_id, {})
    top = field.split(".", 1)[0]
    if sql_line is not None and top == field and top in m and m[top][1]:
        return m[top][0] + sql_line - 1
    key = m.get("@" + top)
    return key[0] if key else None
