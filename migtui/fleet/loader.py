"""Load a fleet file: YAML with positions, validated into ``Fleet``, every problem located.

The YAML-with-positions machinery is the plan loader's (``migtui.plan.reading``: bounded
aliases and nesting, positions), problems
are ``migtui.plan.errors.Problem`` (file:line:column, field, found, expected). Problems found
later, when members are resolved (an empty discovery, an unknown member in a wave), are
located through the same positions with ``LoadedFleet.problem``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from migtui.fleet.model import Fleet
from migtui.plan.errors import PlanError, Problem
from migtui.plan.loader import _describe, _unwrap
from migtui.plan.reading import Loc, Positions, ToPython, check_aliases, compose, dotted


class FleetError(PlanError):
    """One or more problems in a fleet file. Exit code 2."""

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in fleet file"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)


@dataclass
class LoadedFleet:
    fleet: Fleet
    path: str
    text: str
    positions: Positions

    def problem(self, loc: Loc, message: str) -> Problem:
        _, mark = self.positions.find(loc)
        return Problem(self.path, mark[0] if mark else None, mark[1] if mark else None,
                       dotted(loc), message)


def load_fleet(path: str | Path) -> LoadedFleet:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetError([Problem(str(p), None, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise FleetError([Problem(str(p), None, None, "", f"cannot read the file: {e}")]) from None
    return load_fleet_text(text, str(p))


def load_fleet_text(text: str, path: str = "<fleet>") -> LoadedFleet:
    problems: list[Problem] = []
    pos = Positions()
    try:
        node = compose(text, path)
        if node is not None and "&" in text:
            check_aliases(node, path)
        data = None if node is None else ToPython(path, pos, problems)(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise FleetError([Problem(path, mark.line + 1 if mark else None,
                                  mark.column + 1 if mark else None, "",
                                  f"invalid YAML: {e.problem or e.context}")]) from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:
        raise FleetError([Problem(path, None, None, "", f"invalid YAML: {e}")]) from None
    except PlanError as e:  # too big, an alias bomb: the plan reader's limits
        raise FleetError(e.problems) from None
    if not isinstance(data, dict):
        raise FleetError([Problem(path, 1, 1, "", f"expected a mapping (fleet: 1, name: ..., "
                                  f"members: ...), found {_describe(data)}")])
    if problems:
        raise FleetError(problems)
    try:
        fleet = Fleet.model_validate(data)
    except ValidationError as e:
        raise FleetError(_problems(e, data, pos, path)) from None
    return LoadedFleet(fleet, path, text, pos)


def _problems(err: ValidationError, data: Any, pos: Positions, path: str) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for e in err.errors(include_url=False):
        loc: Loc = tuple(e["loc"])
        data_loc, mark = pos.find(loc)
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if e["type"] == "extra_forbidden":
            model = _model_at(data_loc[:-1])
            names = [f.alias or n for n, f in model.model_fields.items()] if model else []
            close = difflib.get_close_matches(str(loc[-1]), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"unknown key {loc[-1]!r}{hint}" + (
                f" Expected one of: {', '.join(names)}" if names else "")
        elif e["type"] == "missing":
            msg = f"missing required key {loc[-1]!r}"
        elif "found" not in msg:
            msg = f"{msg}; found {_describe(_lookup(data, data_loc))}"
        key = (mark, msg)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(path, mark[0] if mark else None, mark[1] if mark else None,
                           dotted(data_loc), msg))
    out.sort(key=lambda p: (p.line or 0, p.column or 0))
    return out


def _model_at(loc: Loc) -> type[BaseModel] | None:
    tp: Any = Fleet
    for part in loc:
        tp = _unwrap(tp, part)
        if tp is None:
            return None
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _lookup(data: Any, loc: Loc) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur
