"""The production confirmation, as a question the caller answers.

A production target asks the operator to type the database name before anything changes.
The core decides *whether* to ask and *what* counts as the answer; the caller asks — the
CLI on the terminal (or ``--yes``), the app in a modal. A URL that points at another
database than the target's ``database`` is refused before any question.
"""

from __future__ import annotations

from dataclasses import dataclass

from migtui.plan.model import Environment, Plan


class WrongDatabase(Exception):
    """The target names its database, and the URL points at another one."""

    def __init__(self, target: str, expected: str, actual: str) -> None:
        super().__init__(f"target {target!r} expects database {expected!r}, but the URL "
                         f"points at {actual!r}")
        self.target, self.expected, self.actual = target, expected, actual


@dataclass(frozen=True)
class ProductionQuestion:
    target: str
    database: str  # what the operator must type ("" when unknown: nothing is accepted)

    @property
    def prompt(self) -> str:
        return (f"Target {self.target!r} is PRODUCTION. Type the database name "
                f"({self.database}) to continue")

    def accepts(self, typed: str | None) -> bool:
        return bool(self.database) and (typed or "").strip() == self.database


def database_mismatch(plan: Plan, target: str, database: str) -> str | None:
    """The one-line warning when the URL's database is not the one the target names, else
    None. ``status``, ``run --dry-run`` and the app's header show it at once; on a
    production target every change is then refused (``WrongDatabase``)."""
    tgt = plan.targets.get(target)
    if tgt is None or not tgt.database or not database or tgt.database == database:
        return None
    text = (f"target {target!r} expects database {tgt.database!r}, but the URL points at "
            f"{database!r}")
    if tgt.environment == Environment.production:
        return text + ": a production run on it is refused"
    return text


def production_question(plan: Plan, target: str, database: str) -> ProductionQuestion | None:
    """None when ``target`` is not production; else the question to ask. Raises
    ``WrongDatabase`` when the URL's database is not the target's."""
    tgt = plan.targets.get(target)
    if tgt is None or tgt.environment != Environment.production:
        return None
    if tgt.database and database and tgt.database != database:
        raise WrongDatabase(target, tgt.database, database)
    return ProductionQuestion(target, database or tgt.database or "")
