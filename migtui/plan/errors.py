"""Located plan errors: file:line:column, the field path, what was found, what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    path: str  # the file
    line: int | None
    column: int | None
    field: str  # dotted field path, e.g. steps[2].rollback
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        fld = f" {self.field}:" if self.field else ""
        return f"{where}:{fld} {self.message}"


@dataclass
class PlanError(Exception):
    """One or more problems in a plan file. Exit code 2."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in plan"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)
