"""Types to prefer: bigint keys, timestamptz, text over char(n)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType, ConstrType

from migtui.lint.context import Ctx, names, sql_of, table_name
from migtui.lint.findings import Finding
from migtui.lint.rules.alter_table import type_names

_SMALL_INTS = {"int4": "bigint", "int2": "bigint", "serial": "bigserial",
               "serial4": "bigserial", "smallserial": "bigserial", "serial2": "bigserial"}


def _columns(ctx: Ctx) -> Iterator[tuple[str, ast.ColumnDef, set[str]]]:
    """(table, column definition, primary-key column names) for every column defined."""
    node = ctx.node
    if isinstance(node, ast.CreateStmt):
        table = table_name(node.relation)
        pk = {c for e in node.tableElts or () if isinstance(e, ast.Constraint)
              and e.contype == ConstrType.CONSTR_PRIMARY for c in names(e.keys)}
        for e in node.tableElts or ():
            if isinstance(e, ast.ColumnDef):
                yield table, e, pk
    elif isinstance(node, ast.AlterTableStmt):
        table = table_name(node.relation)
        for cmd in node.cmds or ():
            if not isinstance(cmd, ast.AlterTableCmd) or not isinstance(cmd.def_, ast.ColumnDef):
                continue
            if cmd.subtype == AlterTableType.AT_AddColumn:
                yield table, cmd.def_, set()
            elif cmd.subtype == AlterTableType.AT_AlterColumnType:
                coldef = copy.copy(cmd.def_)
                coldef.colname = cmd.name
                yield table, coldef, set()


def _is_key(col: str, coldef: ast.ColumnDef, pk: set[str]) -> bool:
    cons = [c for c in coldef.constraints or () if isinstance(c, ast.Constraint)]
    return (col in pk or col == "id" or col.endswith("_id")
            or any(c.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_IDENTITY,
                                 ConstrType.CONSTR_FOREIGN) for c in cons))


def _with_type(coldef: ast.ColumnDef, type_sql: str) -> str:
    return f"{coldef.colname} {type_sql}"


def preferred_types(ctx: Ctx) -> Iterator[Finding]:
    for table, coldef, pk in _columns(ctx):
        tn: Any = coldef.typeName
        if tn is None:
            continue
        col = str(coldef.colname)
        t = type_names(tn)[-1:]
        base = t[0] if t else ""
        if base in _SMALL_INTS and _is_key(col, coldef, pk):
            yield ctx.finding(
                "prefer-bigint",
                f"{table}.{col} is a key of type {sql_of(tn)}: it runs out at 2^31 (or "
                f"2^15) values, and widening it later rewrites the table and every "
                f"referencing one",
                table=table, lock="", safe=_with_type(coldef, _SMALL_INTS[base]))
        elif base == "timestamp":
            yield ctx.finding(
                "prefer-timestamptz",
                f"{table}.{col} is timestamp without time zone: values are ambiguous across "
                f"time zones and daylight saving changes",
                table=table, lock="", safe=_with_type(coldef, "timestamptz"))
        elif base == "bpchar":
            yield ctx.finding(
                "prefer-text",
                f"{table}.{col} is char(n): it pads with spaces, compares surprisingly, and "
                f"is no faster than text",
                table=table, lock="",
                safe=_with_type(coldef, "text") + f"  -- or varchar(n), or text with "
                     f"CHECK (length({col}) <= n)")


RULES = (preferred_types,)
