"""Load a plan file: YAML with positions, validated into the typed model.

Every problem is reported at once, located as file:line:column with the field path,
what was found and what was expected. Nothing here raises anything but PlanError.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from migtui.fmt import quoted
from migtui.plan.errors import PlanError, Problem
from migtui.plan.model import PLAN_ID_RE, Metric, Plan
from migtui.plan.reading import (
    Loc,
    Positions,
    ToPython,
    check_aliases,
    compose,
    dotted,
    read_plan_file,
)
from migtui.sql import SqlSyntaxError, count_statements


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return quoted(value, 60)


def _model_at(loc: Loc, root: type[BaseModel] = Plan) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (for 'expected one of' hints)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp, part)
        if tp is None:
            return None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any, part: str | int) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            got = _unwrap(arg, part)
            if got is not None:
                return got
        return None
    if isinstance(part, int):
        if origin is list:
            return typing.get_args(tp)[0]
        return None
    if origin is dict:
        return typing.get_args(tp)[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def load_plan(path: str | Path) -> Plan:
    """Load and validate a plan file. Raises PlanError with every problem found."""
    p = Path(path)
    return load_plan_text(read_plan_file(p), str(p))


def plan_checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_plan_text(text: str, path: str = "<plan>") -> Plan:
    data, pos = read_document(text, path)
    if not isinstance(data, dict):
        raise PlanError([Problem(path, 1, 1, "", f"expected a mapping of plan sections "
                                 f"(migtui: 1, title: ..., steps: ...), found {_describe(data)}")])
    # top-level x-* keys hold anchors for merge keys and aliases; the plan ignores them
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}

    problems = []
    plan: Plan | None = None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        problems = validation_problems(e, data, pos, path)
    problems += _cross_check(data, pos, path)
    if problems or plan is None:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise PlanError(problems)
    if plan.id is None:
        plan.id = default_plan_id(path, plan.title)
    return plan


def default_plan_id(path: str, title: str) -> str:
    """The plan id when the plan names none: the file name (or title), made safe."""
    base = Path(path).stem if path != "<plan>" else title
    if PLAN_ID_RE.match(base):
        return base
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).lstrip("._-")[:200].rstrip("-")
    return safe if PLAN_ID_RE.match(safe) else "plan"


def validation_problems(err: ValidationError, data: Any, pos: Positions, path: str,
                        root: type[BaseModel] = Plan) -> list[Problem]:
    """pydantic's errors as located problems, with 'did you mean' for unknown keys; ``root``
    is the model the document validates against (a plan, or a fleet file)."""
    out: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for e in err.errors(include_url=False):
        loc: Loc = tuple(e["loc"])
        typ = e["type"]
        data_loc, mark = pos.find(loc)
        line, col = (mark[0], mark[1]) if mark else (None, None)
        field = dotted(data_loc)
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if typ == "extra_forbidden":
            key = loc[-1]
            field = dotted(data_loc)
            model = _model_at(data_loc[:-1], root)
            if model is not None:
                names = _field_names(model)
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                msg = f"unknown key {key!r}{hint} Expected one of: {', '.join(names)}"
            else:
                msg = f"unknown key {key!r}"
        elif typ == "missing":
            missing = loc[-1]
            msg = f"missing required key {missing!r}"
            field = dotted(data_loc)
        elif typ in ("union_tag_not_found", "union_tag_invalid"):
            pass
        else:
            if typ in ("enum", "literal_error") or typ.endswith(("_type", "_parsing")):
                found = _lookup(data, data_loc)
                if "found" not in msg:
                    msg = f"{msg}; found {_describe(found)}"
        key = (line, col, field, msg)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(path, line, col, field, msg))
    return out


def read_document(text: str, path: str, error: type[PlanError] = PlanError) -> tuple[Any, Positions]:
    """YAML text as plain data and the position of every value, refusing hostile input
    (alias bombs, deep nesting, odd scalars) with located problems raised as ``error``."""
    problems: list[Problem] = []
    pos = Positions()
    try:
        node = compose(text, path)
        if node is not None and "&" in text:  # no anchor, no alias: nothing to expand
            check_aliases(node, path)
        data = None if node is None else ToPython(path, pos, problems)(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = f"invalid YAML: {e.problem or e.context}"
        if e.context and e.problem:
            msg = f"invalid YAML: {e.problem} ({e.context})"
        raise error([Problem(path, mark.line + 1 if mark else None,
                             mark.column + 1 if mark else None, "", msg)]) from None
    except yaml.YAMLError as e:
        raise error([Problem(path, None, None, "", f"invalid YAML: {e}")]) from None
    except PlanError as e:
        raise error(e.problems) from None
    except (ValueError, TypeError, RecursionError) as e:
        raise error([Problem(path, None, None, "", f"invalid YAML: {e}")]) from None
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise error(problems)
    return data, pos


def _lookup(data: Any, loc: Loc) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _sql_loc(pos: Positions, loc: Loc, sql_line: int | None) -> tuple[int | None, int | None]:
    _, mark = pos.find(loc)
    if mark is None:
        return None, None
    line, col, node = mark
    if sql_line is None:
        return line, col
    value_line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        value_line += 1  # a block scalar's text starts on the line after the indicator
    return value_line + sql_line - 1, None


def _cross_check(data: dict[str, Any], pos: Positions, path: str) -> list[Problem]:
    """Checks across sections, on the raw data so they run even when a field is invalid."""
    problems: list[Problem] = []

    def add(loc: Loc, msg: str, sql_line: int | None = None) -> None:
        line, col = _sql_loc(pos, loc, sql_line)
        problems.append(Problem(path, line, col, dotted(loc), msg))

    def parse(loc: Loc, sql: Any, one: bool = False, empty_ok: bool = False) -> None:
        if not isinstance(sql, str):
            return
        try:
            n = count_statements(sql)
        except SqlSyntaxError as e:
            add(loc, f"SQL does not parse for PostgreSQL: {e.message}", e.line)
            return
        if not n and not empty_ok:
            add(loc, "expected SQL statements, found none")
        elif one and n != 1:
            add(loc, f"expected one query, found {n} statements")

    steps = [s if isinstance(s, dict) else {} for s in _list(data.get("steps"))]
    ids: dict[str, int] = {}
    captured: set[str] = set()
    for i, step in enumerate(steps):
        sid = step.get("id")
        if isinstance(sid, str):
            if sid in ids:
                add(("steps", i, "id"), f"duplicate step id {sid!r}; steps[{ids[sid]}] already "
                    f"uses it. Step ids must be unique")
            else:
                ids[sid] = i
        # a Prisma step may be an empty migration: it only records its _prisma_migrations row
        prisma = isinstance(step.get("prisma"), dict)
        parse(("steps", i, "sql"), step.get("sql"), empty_ok=prisma)
        parse(("steps", i, "rollback"), step.get("rollback"), empty_ok=prisma)
        check = step.get("check")
        if isinstance(check, dict):
            parse(("steps", i, "check", "sql"), check.get("sql"), one=True)
            if isinstance(check.get("capture"), str):
                captured.add(check["capture"])
    for i, step in enumerate(steps):
        check = step.get("check")
        expect = check.get("expect") if isinstance(check, dict) else None
        if isinstance(expect, str) and "@" in expect:
            ref = expect.split("@", 1)[1].strip()
            if ref not in captured:
                add(("steps", i, "check", "expect"), f"'@{ref}' is not captured by any step; "
                    f"expected the name given in a check step's 'capture'")

    for loc, items in _raw_checklists(data):
        for j, item in enumerate(items):
            run = item.get("run") if isinstance(item, dict) else None
            if not isinstance(run, dict):
                continue
            for k, sid in enumerate(_list(run.get("steps"))):
                if isinstance(sid, str) and sid not in ids:
                    close = difflib.get_close_matches(sid, list(ids), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else "."
                    known = ", ".join(ids) or "none defined"
                    add((*loc, j, "run", "steps", k), f"checklist item runs step {sid!r}, which "
                        f"does not exist{hint} Steps: {known}")
            parse((*loc, j, "run", "check"), run.get("check"), one=True)

    mon = data.get("monitoring") if isinstance(data.get("monitoring"), dict) else {}
    for field in ("probes", "smoke"):
        for i, q in enumerate(_list(mon.get(field))):
            parse(("monitoring", field, i), q, one=True)
    for i, chk in enumerate(_list(mon.get("integrity"))):
        if isinstance(chk, dict):
            parse(("monitoring", "integrity", i, "sql"), chk.get("sql"), one=True)
    risks = data.get("risks") if isinstance(data.get("risks"), dict) else {}
    for i, trig in enumerate(_list(risks.get("rollback_triggers"))):
        metric = trig.get("metric") if isinstance(trig, dict) else None
        if metric == Metric.smoke.value and not _list(mon.get("smoke")):
            add(("risks", "rollback_triggers", i, "metric"),
                "the 'smoke' trigger needs queries in monitoring.smoke")
        if metric == Metric.integrity.value and not _list(mon.get("integrity")):
            add(("risks", "rollback_triggers", i, "metric"),
                "the 'integrity' trigger needs checks in monitoring.integrity")

    targets = data.get("targets")
    default = data.get("default_target")
    if isinstance(default, str) and isinstance(targets, dict) and default not in targets:
        add(("default_target",), f"unknown target {default!r}; expected one of: "
            f"{', '.join(map(str, targets))}")
    return problems


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _raw_checklists(data: dict[str, Any]) -> list[tuple[Loc, list[Any]]]:
    def get(*keys: str) -> Any:
        cur: Any = data
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        return cur

    out: list[tuple[Loc, list[Any]]] = [(("overview",), _list(get("overview")))]
    for i, ph in enumerate(_list(get("phases"))):
        if isinstance(ph, dict):
            out.append((("phases", i, "items"), _list(ph.get("items"))))
    for keys in (("zero_downtime", "application_compatibility"),
                 ("zero_downtime", "database_performance"), ("data_migration", "validation"),
                 ("testing", "staging"), ("testing", "production_readiness"),
                 ("documentation",)):
        out.append((keys, _list(get(*keys))))
    return out
