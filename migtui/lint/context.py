"""What a rule sees: the statement, its step, and what the plan did before it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pglast import ast
from pglast.stream import RawStream

from migtui.lint.findings import RULES, Finding, Severity, Which
from migtui.lint.sizes import Cost, TableSizes
from migtui.plan.model import Step
from migtui.sql import Statement, lock_mode


def table_name(rv: Any) -> str:
    """'orders' or 'sales.orders' from a RangeVar."""
    if rv is None:
        return ""
    return f"{rv.schemaname}.{rv.relname}" if rv.schemaname else str(rv.relname)


def bare(table: str | None) -> str:
    return (table or "").rsplit(".", 1)[-1]


def names(seq: Iterable[Any] | None) -> list[str]:
    return [str(getattr(s, "sval", s)) for s in seq or ()]


def sql_of(node: Any) -> str:
    return RawStream()(node)


@dataclass
class PlanState:
    """Facts established by the plan's forward SQL so far (by bare table name)."""

    new_tables: set[str] = field(default_factory=set)
    added_columns: set[tuple[str, str]] = field(default_factory=set)
    index_tables: dict[str, str] = field(default_factory=dict)  # index -> table
    not_null_checks: dict[tuple[str, str], str] = field(default_factory=dict)  # (t, con) -> col
    validated_not_null: set[tuple[str, str]] = field(default_factory=set)  # (table, column)
    renamed_columns: set[tuple[str, str, str]] = field(default_factory=set)  # (t, old, new)
    renamed_tables: set[tuple[str, str]] = field(default_factory=set)  # (old, new)

    def is_new(self, table: str | None) -> bool:
        return bare(table) in self.new_tables


@dataclass
class Ctx:
    step: Step
    which: Which
    stmt: Statement
    state: PlanState
    sizes: TableSizes | None
    server_version: int | None
    in_transaction: bool = False

    @property
    def node(self) -> Any:
        return self.stmt.node

    @property
    def rollback(self) -> bool:
        return self.which == "rollback"

    def version_below(self, major: int) -> bool:
        """True only when the server version is known and older than ``major``."""
        return self.server_version is not None and self.server_version < major * 10000

    def index_table(self, index: str) -> str | None:
        got = self.state.index_tables.get(bare(index))
        if got is None and self.sizes is not None:
            got = self.sizes.index_tables.get(index) or self.sizes.index_tables.get(bare(index))
        return got

    def finding(self, rule_id: str, message: str, *, table: str | None = None,
                lock: str | None = None, rewrites: bool = False, breaks: str = "",
                safe: str = "", cost: Cost | None = None,
                severity: Severity | None = None) -> Finding:
        rule = RULES[rule_id]
        sev: Severity = severity or rule.severity
        estimate = seconds = None
        if self.sizes is not None and table:
            if cost is not None:
                estimate = self.sizes.estimate(table, cost)
                seconds = self.sizes.seconds(table, cost)
            if rule.size_aware:
                cat = self.sizes.category(table)
                if cat == "small":
                    sev = "info"
                elif cat == "large":
                    sev = "error"
        return Finding(
            rule=rule_id, severity=sev, step_id=self.step.id, which=self.which,
            line=self.stmt.line, statement=self.stmt.text.strip(), message=message,
            lock=lock_mode(self.node) if lock is None else lock, rewrites=rewrites,
            breaks=breaks, safe_alternative=safe, estimate=estimate, seconds=seconds,
            table=table or None)


def is_constant_true(node: Any) -> bool:
    """WHERE true, WHERE 1 = 1: a filter that selects every row."""
    if isinstance(node, ast.A_Const):
        val = node.val
        return isinstance(val, ast.Boolean) and bool(val.boolval)
    if isinstance(node, ast.A_Expr) and names(node.name) == ["="]:
        left, right = node.lexpr, node.rexpr
        if isinstance(left, ast.A_Const) and isinstance(right, ast.A_Const):
            return sql_of(left) == sql_of(right)
    return False
