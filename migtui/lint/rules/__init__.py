"""The rules, grouped by what they look at. Each rule is ``(Ctx) -> Iterator[Finding]``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from migtui.lint.context import Ctx
from migtui.lint.findings import Finding
from migtui.lint.rules import alter_table, breaking, indexes, maintenance, types

RuleFn = Callable[[Ctx], Iterator[Finding]]

STATEMENT_RULES: tuple[RuleFn, ...] = (
    *indexes.RULES, *alter_table.RULES, *breaking.RULES, *maintenance.RULES, *types.RULES)
