"""Load a fleet file: YAML with positions, validated into ``Fleet``, every problem located.

The reading is the plan loader's (``migtui.plan.loader.read_document``: regular files only,
size and alias limits, positions of every value) and so is the validation
(``validation_problems`` with ``Fleet`` as the root model); problems are
``migtui.plan.errors.Problem`` (file:line:column, field, found, expected). Problems found
later, when members are resolved (an empty discovery, an unknown member in a wave), are
located through the same positions with ``LoadedFleet.problem``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from migtui.fleet.model import Fleet
from migtui.plan.errors import PlanError, Problem
from migtui.plan.loader import Loc, _describe, read_document, validation_problems
from migtui.plan.reading import Positions, dotted, read_plan_file


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
        text = read_plan_file(p)
    except PlanError as e:
        raise FleetError(e.problems) from None
    return load_fleet_text(text, str(p))


def load_fleet_text(text: str, path: str = "<fleet>") -> LoadedFleet:
    data, pos = read_document(text, path, FleetError)
    if not isinstance(data, dict):
        raise FleetError([Problem(path, 1, 1, "", f"expected a mapping (fleet: 1, name: ..., "
                                  f"members: ...), found {_describe(data)}")])
    try:
        fleet = Fleet.model_validate(data)
    except ValidationError as e:
        problems = validation_problems(e, data, pos, path, Fleet)
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise FleetError(problems) from None
    return LoadedFleet(fleet, path, text, pos)
