"""Read a filled-in migration-plan template (Markdown) back into a plan.

Markdown is parsed with markdown-it-py (a Textual dependency) and the SQL blocks with
pglast. A file that is not the template gets a located error naming what is missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pglast import parser as pgparser

from migtui.document import meta
from migtui.plan.errors import PlanError, Problem

REQUIRED_H2 = ["Migration Overview", "Schema Changes", "Migration Strategy",
               "Prisma Migration Scripts", "Zero-Downtime Considerations",
               "Data Migration Requirements", "Risk Assessment", "Testing Plan",
               "Application Code Changes", "Monitoring & Alerts", "Documentation Updates",
               "Timeline", "Communication Log"]
TITLE = "Database Migration & Schema Change Plan"
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


@dataclass
class _Doc:
    path: str
    h1: str | None = None
    h2: str | None = None
    h3: str | None = None
    seen_h2: list[str] = field(default_factory=list)
    h3_values: dict[str, str] = field(default_factory=dict)
    lists: dict[tuple[str | None, str | None], list[tuple[bool, str, int]]] = field(
        default_factory=dict)
    tables: dict[tuple[str | None, str | None], list[list[str]]] = field(default_factory=dict)
    fences: dict[tuple[str | None, str | None], tuple[str, int]] = field(default_factory=dict)
    comm: list[tuple[str, str, int]] = field(default_factory=list)  # heading, text, line
    head_meta: dict[str, Any] | None = None
    paragraphs: dict[tuple[str | None, str | None], list[str]] = field(default_factory=dict)


def _parse(text: str, path: str) -> _Doc:
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    doc = _Doc(path)
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open":
            content = tokens[i + 1].content.strip()
            line = (t.map[0] + 1) if t.map else 0
            if t.tag == "h1":
                doc.h1 = content
            elif t.tag == "h2":
                doc.h2, doc.h3 = content, None
                doc.seen_h2.append(content)
                if ":" in content:
                    k, v = content.split(":", 1)
                    doc.h3_values[k.strip()] = v.strip()
            elif t.tag == "h3":
                doc.h3 = content
                if doc.h2 == "Communication Log":
                    body = _following_paragraph(tokens, i + 3)
                    doc.comm.append((content, body, line))
                elif ":" in content:
                    k, v = content.split(":", 1)
                    doc.h3_values[k.strip()] = v.strip()
            i += 3
            continue
        key = (doc.h2, doc.h3)
        if t.type == "html_block" and doc.h2 is None:
            _, data = meta.parse_html("x " + t.content.strip())
            if data is not None:
                doc.head_meta = data
        elif t.type == "bullet_list_open":
            items, i = _list_items(tokens, i)
            doc.lists.setdefault(key, []).extend(items)
            continue
        elif t.type == "table_open":
            rows, i = _table_rows(tokens, i)
            doc.tables[key] = rows
            continue
        elif t.type == "fence":
            doc.fences[key] = (t.content, (t.map[0] + 2) if t.map else 0)
        elif t.type == "paragraph_open" and doc.h2 != "Communication Log":
            doc.paragraphs.setdefault(key, []).append(tokens[i + 1].content)
        i += 1
    return doc


def _following_paragraph(tokens: list[Token], i: int) -> str:
    if i < len(tokens) and tokens[i].type == "paragraph_open":
        return tokens[i + 1].content.strip()
    return ""


def _list_items(tokens: list[Token], i: int) -> tuple[list[tuple[bool, str, int]], int]:
    items: list[tuple[bool, str, int]] = []
    depth = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "bullet_list_open":
            depth += 1
        elif t.type == "bullet_list_close":
            depth -= 1
            if depth == 0:
                return items, i + 1
        elif t.type == "inline" and depth == 1:
            content = t.content
            line = (t.map[0] + 1) if t.map else 0
            m = re.match(r"^\[( |x|X)\]\s+(.*)$", content, re.S)
            if m:
                items.append((m.group(1).lower() == "x", m.group(2).strip(), line))
            else:
                items.append((False, "\0" + content.strip(), line))
        i += 1
    return items, i


def _table_rows(tokens: list[Token], i: int) -> tuple[list[list[str]], int]:
    rows: list[list[str]] = []
    row: list[str] = []
    in_body = False
    while i < len(tokens):
        t = tokens[i]
        if t.type == "tbody_open":
            in_body = True
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and in_body:
            row.append(t.content.replace("\\|", "|").strip())
        elif t.type == "tr_close" and in_body:
            if any(c for c in row):
                rows.append(row)
        elif t.type == "table_close":
            return rows, i + 1
        i += 1
    return rows, i


def _checklist(doc: _Doc, h2: str, h3: str | None) -> list[Any]:
    out: list[Any] = []
    for done, text, _line in doc.lists.get((h2, h3), []):
        if text.startswith("\0"):
            continue  # a plain bullet (e.g. a lint flag), not a checkbox
        text, data = meta.parse_html(text)
        data = data or {}
        note = data.get("note")
        if note is None and " — " in text:
            text, note = text.split(" — ", 1)
        elif note is not None and " — " in text:
            text, extra = text.split(" — ", 1)
            note = extra
        item: dict[str, Any] = {"text": text.strip()}
        if done:
            item["done"] = True
        if note:
            item["note"] = note.strip()
        for k in ("id", "run"):
            if k in data:
                item[k] = data[k]
        out.append(item)
    return out


def _cells(row: list[str], n: int) -> list[str]:
    return (row + [""] * n)[:n]


def _steps_from_sql(doc: _Doc, problems: list[Problem]) -> list[dict[str, Any]]:
    fwd, fwd_line = doc.fences.get(("Prisma Migration Scripts", "Migration File"), ("", 0))
    back, back_line = doc.fences.get(("Prisma Migration Scripts", "Rollback Script"), ("", 0))
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
            if step["id"] in back_chunks:
                step["rollback"] = back_chunks[step["id"]]
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
        problems.append(Problem(path, first_line, None, "Prisma Migration Scripts",
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
    doc = _parse(text, path)
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
    mtype_text = doc.h3_values.get("Migration Type", "")
    mtype = _TYPES.get(mtype_text.strip().lower())
    if mtype is None:
        problems.append(Problem(path, None, None, "Migration Type",
                                f"expected Schema Change, Data Migration or Index Addition; "
                                f"found {mtype_text or 'nothing'!r}"))
    if problems:
        raise ImportError_(problems)

    plan: dict[str, Any] = {"migtui": 1}
    if head.get("id"):
        plan["id"] = head["id"]
    plan["title"] = head.get("title") or doc.h3_values.get("Title") or "Imported plan"
    date = doc.h3_values.get("Current Session", "")
    with contextlib.suppress(ValueError):
        plan["date"] = dt.date.fromisoformat(date)
    plan["type"] = mtype
    agent = doc.h3_values.get("Database Agent", "")
    plan["agent"] = "" if agent.startswith("[") else agent
    for k in ("targets", "default_target", "settings"):
        if k in head:
            plan[k] = head[k]
    plan["overview"] = _checklist(doc, "Migration Overview", None)

    sc = "Schema Changes"
    plan["schema_changes"] = {
        "tables_to_modify": [
            _table_change(r) for r in doc.tables.get((sc, "Tables to Modify"), [])],
        "new_tables": [dict(zip(("table", "purpose", "relationships", "indexes"),
                                _cells(r, 4), strict=True))
                       for r in doc.tables.get((sc, "New Tables"), [])],
        "fields": [_field(r) for r in doc.tables.get((sc, "Fields to Add/Modify/Remove"), [])],
    }
    plan["steps"] = _steps_from_sql(doc, problems)
    phases = []
    for (h2, h3), _items in doc.lists.items():
        if h2 == "Migration Strategy" and h3 and h3.startswith("Phase"):
            name = h3.split(":", 1)[1].strip() if ":" in h3 else h3
            phases.append({"name": name, "items": _checklist(doc, h2, h3)})
    plan["phases"] = phases
    zd = "Zero-Downtime Considerations"
    plan["zero_downtime"] = {
        "application_compatibility": _checklist(doc, zd, "Application Compatibility"),
        "database_performance": _checklist(doc, zd, "Database Performance")}
    dm = "Data Migration Requirements"
    plan["data_migration"] = {
        "data": [dict(zip(("source", "destination", "transformation", "volume"), _cells(r, 4),
                          strict=True)) for r in doc.tables.get((dm, "Data to Migrate"), [])],
        "validation": _checklist(doc, dm, "Data Validation")}
    ra = "Risk Assessment"
    plan["risks"] = {
        "high_risk_areas": [dict(zip(("risk", "impact", "probability", "mitigation"),
                                     _cells(r, 4), strict=True))
                            for r in doc.tables.get((ra, "High Risk Areas"), [])
                            if not _is_finding_row(r)],
        "rollback_triggers": [_trigger(done, t)
                              for done, t, _ in doc.lists.get((ra, "Rollback Triggers"), [])]}
    tp = "Testing Plan"
    plan["testing"] = {"staging": _checklist(doc, tp, "Staging Environment"),
                       "production_readiness": _checklist(doc, tp, "Production Readiness")}
    ac = "Application Code Changes"
    plan["code_changes"] = {
        "backend": [_code(r) for r in doc.tables.get((ac, "Backend Updates Required"), [])],
        "frontend": [_code(r) for r in doc.tables.get((ac, "Frontend Updates Required"), [])]}
    monitoring = dict(head.get("monitoring") or {})
    metrics = []
    for r in doc.tables.get(("Monitoring & Alerts", "Key Metrics to Monitor"), []):
        name, base, alert, action = _cells(r, 4)
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
    plan["documentation"] = _checklist(doc, "Documentation Updates", None)
    plan["timeline"] = [dict(zip(("phase", "duration", "dependencies", "criteria"),
                                 _cells(r, 4), strict=True))
                        for r in doc.tables.get(("Timeline", None), [])]
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


def _is_finding_row(r: list[str]) -> bool:
    # rows the exporter adds from lint findings are derived, not the author's
    return bool(re.match(r"^[\w.-]+: .* \([a-z0-9-]+\)$", r[0] if r else "")) and \
        len(r) > 2 and r[2] in ("error", "warning")


def _table_change(r: list[str]) -> dict[str, Any]:
    table, change, desc, risk = _cells(r, 4)
    out: dict[str, Any] = {"table": table, "change": change, "description": desc}
    m = re.match(r"^(low|medium|high|critical)\b\s*(?:\(override: (.*)\))?", risk.strip(), re.I)
    if m and m.group(2):
        out["risk"] = m.group(1).lower()
        out["risk_reason"] = m.group(2)
    elif m and not re.search(r"\(", risk):
        out["risk"] = m.group(1).lower()
    return out


def _field(r: list[str]) -> dict[str, Any]:
    table, fld, action, typ, default = _cells(r, 5)
    return {"table": table, "field": fld, "action": action.lower() or "add", "type": typ,
            "default": default}


def _code(r: list[str]) -> dict[str, Any]:
    return dict(zip(("file", "change", "description", "testing"), _cells(r, 4), strict=True))


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
