"""Read a filled-in migration-plan template (Markdown) back into a plan.

Markdown is parsed with markdown-it-py (a Textual dependency) and the SQL blocks with
pglast. A file that is not the template gets a located error naming what is missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any

import yaml
from pglast import parser as pgparser

from migtui.document import meta
from migtui.document.markdown_doc import Doc, cells, checklist, parse
from migtui.plan import outline
from migtui.plan.errors import PlanError, Problem

REQUIRED_H2 = [s.title for s in outline.SECTIONS]
TITLE = outline.TITLE
_TYPES = {"schema change": "schema_change", "data migration": "data_migration",
          "index addition": "index_addition"}
_METRICS = {"query performance": "latency", "error rate": "error_rate",
            "connection pool": "connection_pool", "disk space": "disk", "lock waits": "lock_waits",
            "throughput": "tps", "critical functionality": "smoke", "data integrity": "integrity"}


class ImportError_(PlanError):
    """A Markdown file that cannot be read as the template (exit 2)."""

    def __str__(self) -> str:
        n = len(self.problems)
        return (f"{n} problem{'s' if n != 1 else ''} in the document:\n"
                + "\n".join(f"  {p}" for p in self.problems))


def _steps_from_sql(doc: Doc, problems: list[Problem]) -> list[dict[str, Any]]:
    fwd, fwd_line = doc.fences.get(_at(outline.SCRIPTS, "steps"), ("", 0))
    back, back_line = doc.fences.get(_at(outline.SCRIPTS, "rollback"), ("", 0))
    fwd_chunks = _chunks(fwd, fwd_line, doc.path, problems)
    back_chunks = {c["meta"].get("step"): c["sql"] for c in _chunks(back, back_line, doc.path,
                                                                     problems) if c["meta"]}
    steps: list[dict[str, Any]] = []
    if any(c["meta"] for c in fwd_chunks):
        for c in fwd_chunks:
            if not c["meta"]:
                continue
            step = {"id": c["meta"].get("id"), **c["meta"]}
            if "backfill" not in step and "check" not in step and "command" not in step \
                    and "manual" not in step:
                step["sql"] = c["sql"]
            if step["id"] in back_chunks and not isinstance(step.get("rollback"), dict):
                step["rollback"] = back_chunks[step["id"]]  # a backfill's stays in the meta
            steps.append(step)
        return steps
    body = "\n".join(c["sql"] for c in fwd_chunks).strip()
    if body:
        step = {"id": "migration", "sql": body}
        rb = "\n".join(c["sql"] for c in _chunks(back, back_line, doc.path, problems)).strip()
        if rb:
            step["rollback"] = rb
        else:
            step["irreversible"] = "the imported document has no rollback script"
        steps.append(step)
    return steps


def _chunks(sql: str, first_line: int, path: str,
            problems: list[Problem]) -> list[dict[str, Any]]:
    """Cut a SQL block at ``-- migtui: {...}`` comments, found with the pglast scanner."""
    if not sql.strip():
        return []
    try:
        tokens = pgparser.scan(sql)
    except pgparser.ParseError as e:
        problems.append(Problem(path, first_line, None, outline.SCRIPTS.title,
                                f"SQL block does not scan: {e}"))
        return []
    # pglast's token offsets count characters, not bytes
    marks: list[tuple[int, int, dict[str, Any]]] = []
    for tok in tokens:
        if tok.name == "SQL_COMMENT":
            text = sql[tok.start:tok.end + 1]
            data = meta.parse_sql_comment(text)
            if data is not None:
                marks.append((tok.start, tok.end + 1, data))
    if not marks:
        return [{"meta": None, "sql": _strip_comments(sql)}]
    out = []
    for n, (_start, end, data) in enumerate(marks):
        stop = marks[n + 1][0] if n + 1 < len(marks) else len(sql)
        body = sql[end:stop]
        # drop the human comment lines that precede the next marker
        out.append({"meta": data, "sql": _strip_trailing_comments(body)})
    return out


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return "\n".join(lines).strip()


def _strip_trailing_comments(body: str) -> str:
    lines = body.strip("\n").splitlines()
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    text = "\n".join(lines).strip()
    return text


def import_markdown(text: str, path: str = "<markdown>") -> dict[str, Any]:
    """A plan (as plain data, ready for YAML) from a filled-in template."""
    doc = parse(text, path)
    missing = [h for h in REQUIRED_H2 if h not in doc.seen_h2]
    if doc.h1 != TITLE or len(missing) > len(REQUIRED_H2) // 2:
        found = f"'# {doc.h1}'" if doc.h1 else "no '# ' title"
        raise ImportError_([Problem(
            path, 1, 1, "", f"this is not the migration plan template: expected the title "
            f"'# {TITLE}' and its sections ({', '.join(REQUIRED_H2[:3])}, ...); found {found}"
            + (f" and no sections {', '.join(missing[:4])}" if missing else ""))])
    problems: list[Problem] = []
    for h in missing:
        problems.append(Problem(path, None, None, h, f"missing section '## {h}'"))

    head = doc.head_meta or {}
    mtype_text = doc.h3_values.get(outline.MIGRATION_TYPE, "")
    mtype = _TYPES.get(mtype_text.strip().lower())
    if mtype is None:
        problems.append(Problem(path, None, None, outline.MIGRATION_TYPE,
                                f"expected Schema Change, Data Migration or Index Addition; "
                                f"found {mtype_text or 'nothing'!r}"))
    if problems:
        raise ImportError_(problems)

    plan: dict[str, Any] = {"migtui": 1}
    if head.get("id"):
        plan["id"] = head["id"]
    plan["title"] = head.get("title") or doc.h3_values.get("Title") or "Imported plan"
    date = doc.h3_values.get(outline.SESSION, "")
    with contextlib.suppress(ValueError):
        plan["date"] = dt.date.fromisoformat(date)
    plan["type"] = mtype
    agent = doc.h3_values.get(outline.AGENT, "")
    plan["agent"] = "" if agent.startswith("[") else agent
    for k in ("targets", "default_target", "settings"):
        if k in head:
            plan[k] = head[k]
    plan["overview"] = checklist(doc, outline.OVERVIEW.title, None)

    sc = outline.SCHEMA
    plan["schema_changes"] = {
        "tables_to_modify": [
            _table_change(r) for r in doc.tables.get(_at(sc, "tables_to_modify"), [])],
        "new_tables": [dict(zip(("table", "purpose", "relationships", "indexes"),
                                cells(r, 4), strict=True))
                       for r in doc.tables.get(_at(sc, "new_tables"), [])],
        "fields": [_field(r) for r in doc.tables.get(_at(sc, "fields"), [])],
    }
    plan["steps"] = _steps_from_sql(doc, problems)
    phases = []
    for (h2, h3), _items in doc.lists.items():
        if h2 == outline.STRATEGY.title and h3 and h3.startswith("Phase"):
            name = h3.split(":", 1)[1].strip() if ":" in h3 else h3
            phases.append({"name": name, "items": checklist(doc, h2, h3)})
    plan["phases"] = phases
    zd = outline.ZERO_DOWNTIME
    plan["zero_downtime"] = {
        "application_compatibility": checklist(doc, *_at(zd, "application_compatibility")),
        "database_performance": checklist(doc, *_at(zd, "database_performance"))}
    dm = outline.DATA_MIGRATION
    plan["data_migration"] = {
        "data": [dict(zip(("source", "destination", "transformation", "volume"), cells(r, 4),
                          strict=True)) for r in doc.tables.get(_at(dm, "data"), [])],
        "validation": checklist(doc, *_at(dm, "validation"))}
    ra = outline.RISKS
    plan["risks"] = {
        "high_risk_areas": [dict(zip(("risk", "impact", "probability", "mitigation"),
                                     cells(r, 4), strict=True))
                            for r in doc.tables.get(_at(ra, "high_risk_areas"), [])
                            if not _is_finding_row(r)],
        "rollback_triggers": [_trigger(done, t)
                              for done, t, _ in doc.lists.get(_at(ra, "rollback_triggers"), [])]}
    tp = outline.TESTING
    plan["testing"] = {"staging": checklist(doc, *_at(tp, "staging")),
                       "production_readiness": checklist(doc, *_at(tp, "production_readiness"))}
    ac = outline.CODE_CHANGES
    plan["code_changes"] = {
        "backend": [_code(r) for r in doc.tables.get(_at(ac, "backend"), [])],
        "frontend": [_code(r) for r in doc.tables.get(_at(ac, "frontend"), [])]}
    monitoring = dict(head.get("monitoring") or {})
    metrics = []
    for r in doc.tables.get(_at(outline.MONITORING, "metrics"), []):
        name, base, alert, action = cells(r, 4)
        metric = _METRICS.get(name.strip().lower())
        if metric and alert:
            row: dict[str, Any] = {"metric": metric, "alert": alert, "action": action}
            if base:
                row["baseline"] = base
            metrics.append(row)
    if metrics or "metrics" in monitoring:
        # the table's thresholds win over the comment: people edit the table
        by_metric = {m["metric"]: m for m in monitoring.get("metrics", [])}
        for m in metrics:
            prev = by_metric.get(m["metric"], {})
            merged = {**prev, **{k: v for k, v in m.items() if k != "baseline"}}
            if "baseline" in prev:
                merged["baseline"] = prev["baseline"]
            by_metric[m["metric"]] = merged
        monitoring["metrics"] = list(by_metric.values())
    plan["monitoring"] = monitoring
    plan["documentation"] = checklist(doc, outline.DOCUMENTATION.title, None)
    plan["timeline"] = [dict(zip(("phase", "duration", "dependencies", "criteria"),
                                 cells(r, 4), strict=True))
                        for r in doc.tables.get((outline.TIMELINE.title, None), [])]
    comm = []
    for heading, body, _line in doc.comm:
        if heading.startswith("[TIMESTAMP]"):
            continue
        at, _, author = heading.partition(" - ")
        comm.append({"at": at.strip(), "author": author.strip(), "text": body})
    plan["communication"] = comm
    if problems:
        raise ImportError_(problems)
    return _prune(plan)


def _at(section: outline.Section, key: str) -> tuple[str, str]:
    """The (H2, H3) a Doc files the subsection ``key`` of ``section`` under."""
    return section.title, section.sub(key).title


def _is_finding_row(r: list[str]) -> bool:
    # rows the exporter adds from lint findings are derived, not the author's
    return bool(re.match(r"^[\w.-]+: .* \([a-z0-9-]+\)$", r[0] if r else "")) and \
        len(r) > 2 and r[2] in ("error", "warning")


def _table_change(r: list[str]) -> dict[str, Any]:
    table, change, desc, risk = cells(r, 4)
    out: dict[str, Any] = {"table": table, "change": change, "description": desc}
    m = re.match(r"^(low|medium|high|critical)\b\s*(?:\(override: (.*)\))?", risk.strip(), re.I)
    if m and m.group(2):
        out["risk"] = m.group(1).lower()
        out["risk_reason"] = m.group(2)
    elif m and not re.search(r"\(", risk):
        out["risk"] = m.group(1).lower()
    return out


def _field(r: list[str]) -> dict[str, Any]:
    table, fld, action, typ, default = cells(r, 5)
    return {"table": table, "field": fld, "action": action.lower() or "add", "type": typ,
            "default": default}


def _code(r: list[str]) -> dict[str, Any]:
    return dict(zip(("file", "change", "description", "testing"), cells(r, 4), strict=True))


def _trigger(done: bool, text: str) -> dict[str, Any]:
    text, data = meta.parse_html(text)
    if data:
        return {"text": text, **data}
    m = re.match(r"^performance degradation\s*>\s*(\d+(?:\.\d+)?)%", text, re.I)
    if m:
        return {"text": text, "metric": "latency", "above": f"+{m.group(1)}%"}
    m = re.match(r"^error rate\s*>\s*(\d+(?:\.\d+)?)%", text, re.I)
    if m:
        return {"text": text, "metric": "error_rate", "above": f"{m.group(1)}%"}
    return {"text": text}  # a manual trigger: the operator's judgement


def _prune(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _prune(v) for k, v in data.items() if v not in (None, "", [], {})}
    if isinstance(data, list):
        return [_prune(v) for v in data]
    return data


def to_yaml(plan: dict[str, Any]) -> str:
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)
