"""ALTER TABLE rules: constraints, NOT NULL, column types, new columns."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import (
    AlterTableType,
    ConstrType,
    NullTestType,
    ObjectType,
    SortByDir,
    SortByNulls,
)
from pglast.visitors import Visitor

from migtui.lint.coercion import parse_type, type_change_rewrites
from migtui.lint.context import Ctx, bare, names, sql_of, table_name
from migtui.lint.findings import Finding

SERIAL_TYPES = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}
# Functions whose default differs per row (pg_proc.provolatile = 'v'), so PostgreSQL
# must write every row. now(), current_timestamp and constants are not volatile.
VOLATILE_FUNCTIONS = {
    "random", "random_normal", "clock_timestamp", "timeofday", "gen_random_uuid",
    "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4", "uuidv7",
    "nextval", "setval", "txid_current", "pg_current_xact_id", "gen_random_bytes",
}


class _Funcs(Visitor):
    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:
        self.found.append(names(node.funcname)[-1].lower())


def volatile_calls(expr: Any) -> list[str]:
    v = _Funcs()
    v(expr)
    return [f for f in v.found if f in VOLATILE_FUNCTIONS]


def type_names(tn: Any) -> list[str]:
    return [n.lower() for n in names(getattr(tn, "names", None))]


def _commands(ctx: Ctx) -> Iterator[tuple[str, ast.AlterTableCmd]]:
    node = ctx.node
    if isinstance(node, ast.AlterTableStmt):
        table = table_name(node.relation)
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd):
                yield table, cmd


def _alter(table: str, *cmds: ast.AlterTableCmd, relation: Any = None) -> str:
    return sql_of(ast.AlterTableStmt(relation=relation, cmds=cmds,
                                     objtype=ObjectType.OBJECT_TABLE)) + ";"


def add_constraint(ctx: Ctx) -> Iterator[Finding]:
    for table, cmd in _commands(ctx):
        if cmd.subtype != AlterTableType.AT_AddConstraint or ctx.state.is_new(table):
            continue
        con = cmd.def_
        if not isinstance(con, ast.Constraint):
            continue
        rel = ctx.node.relation
        if con.contype in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK):
            if con.skip_validation:
                continue
            fk = con.contype == ConstrType.CONSTR_FOREIGN
            name = con.conname or (
                f"{bare(table)}_{'_'.join(names(con.fk_attrs))}_fkey" if fk
                else f"{bare(table)}_check")
            nv = copy.deepcopy(cmd)
            nv.def_.skip_validation = True
            nv.def_.initially_valid = False
            nv.def_.conname = name
            validate = ast.AlterTableCmd(subtype=AlterTableType.AT_ValidateConstraint, name=name)
            safe = (f"{_alter(table, nv, relation=rel)}\n"
                    f"-- then, in a later statement or step (SHARE UPDATE EXCLUSIVE: reads "
                    f"and writes go on):\n{_alter(table, validate, relation=rel)}")
            if fk:
                ref = table_name(con.pktable)
                yield ctx.finding(
                    "foreign-key-not-valid",
                    f"adding FOREIGN KEY {name} without NOT VALID checks every row of {table} "
                    f"while holding SHARE ROW EXCLUSIVE on {table} and {ref}: writes to both "
                    f"wait for the whole scan",
                    table=table, lock="SHARE ROW EXCLUSIVE", cost="scan", safe=safe)
            else:
                yield ctx.finding(
                    "check-not-valid",
                    f"adding CHECK {name} without NOT VALID scans all of {table} under "
                    f"ACCESS EXCLUSIVE: reads and writes wait for the scan",
                    table=table, lock="ACCESS EXCLUSIVE", cost="scan", safe=safe)
        elif con.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY):
            if con.indexname:
                continue
            kind = "PRIMARY KEY" if con.contype == ConstrType.CONSTR_PRIMARY else "UNIQUE"
            cols = names(con.keys)
            name = con.conname or (f"{bare(table)}_pkey" if kind == "PRIMARY KEY"
                                   else f"{bare(table)}_{'_'.join(cols)}_key")
            using = copy.deepcopy(cmd)
            using.def_.keys = None
            using.def_.including = None  # USING INDEX takes them from the index
            using.def_.nulls_not_distinct = False
            using.def_.indexname = name
            using.def_.conname = name
            idx = ast.IndexStmt(idxname=name, relation=rel, accessMethod="btree",
                                indexParams=tuple(ast.IndexElem(
                                    name=c, ordering=SortByDir.SORTBY_DEFAULT,
                                    nulls_ordering=SortByNulls.SORTBY_NULLS_DEFAULT)
                                    for c in cols),
                                indexIncludingParams=tuple(ast.IndexElem(
                                    name=c, ordering=SortByDir.SORTBY_DEFAULT,
                                    nulls_ordering=SortByNulls.SORTBY_NULLS_DEFAULT)
                                    for c in names(con.including)) or None,
                                nulls_not_distinct=bool(con.nulls_not_distinct),
                                unique=True, concurrent=True)
            note = ("-- the key columns must already be NOT NULL (see set-not-null)\n"
                    if kind == "PRIMARY KEY" else "")
            yield ctx.finding(
                "unique-without-using-index",
                f"adding {kind} {name} builds its index under ACCESS EXCLUSIVE on {table}: "
                f"reads and writes wait for the whole build",
                table=table, lock="ACCESS EXCLUSIVE", cost="index",
                safe=f"{sql_of(idx)};\n{note}{_alter(table, using, relation=rel)}")


def set_not_null(ctx: Ctx) -> Iterator[Finding]:
    for table, cmd in _commands(ctx):
        if cmd.subtype != AlterTableType.AT_SetNotNull or ctx.state.is_new(table):
            continue
        col = str(cmd.name)
        has_check = (bare(table), col) in ctx.state.validated_not_null
        if has_check and not ctx.version_below(12):
            continue
        rel = ctx.node.relation
        con = f"{bare(table)}_{col}_not_null"
        add = ast.AlterTableCmd(subtype=AlterTableType.AT_AddConstraint, def_=ast.Constraint(
            contype=ConstrType.CONSTR_CHECK, conname=con, skip_validation=True, is_enforced=True,
            initially_valid=False, raw_expr=ast.NullTest(
                arg=ast.ColumnRef(fields=(ast.String(sval=col),)), nulltesttype=NullTestType.IS_NOT_NULL)))
        steps = [
            _alter(table, add, relation=rel),
            _alter(table, ast.AlterTableCmd(subtype=AlterTableType.AT_ValidateConstraint,
                                            name=con), relation=rel),
        ]
        if ctx.version_below(12):
            steps.insert(0, "-- before PostgreSQL 12, SET NOT NULL always scans: keep the "
                            "validated CHECK instead,\n-- it enforces the same")
        else:
            steps += [
                _alter(table, cmd, relation=rel) + "  -- PostgreSQL 12+: uses the CHECK, no scan",
                _alter(table, ast.AlterTableCmd(subtype=AlterTableType.AT_DropConstraint,
                                                name=con), relation=rel),
            ]
        if has_check:
            msg = (f"SET NOT NULL on {table}.{col} scans the table under ACCESS EXCLUSIVE: the "
                   f"validated CHECK ({col} IS NOT NULL) only spares the scan from "
                   f"PostgreSQL 12 on")
        else:
            msg = (f"SET NOT NULL on {table}.{col} scans all of {table} under ACCESS "
                   f"EXCLUSIVE: reads and writes wait for the scan")
        yield ctx.finding("set-not-null", msg, table=table, lock="ACCESS EXCLUSIVE",
                          cost="scan", safe="\n".join(steps))


def change_type(ctx: Ctx) -> Iterator[Finding]:
    for table, cmd in _commands(ctx):
        if cmd.subtype != AlterTableType.AT_AlterColumnType or ctx.state.is_new(table):
            continue
        col = str(cmd.name)
        coldef = cmd.def_
        new_type = sql_of(coldef.typeName)
        using = getattr(coldef, "raw_default", None) is not None
        old_type = ctx.sizes.column_type(table, col) if ctx.sizes is not None else None
        if old_type is not None and not using:
            if not type_change_rewrites(parse_type(old_type), coldef.typeName):
                continue  # binary-coercible, no narrower limit: a catalog change only
            maybe_free = False
        else:
            target = type_names(coldef.typeName)
            maybe_free = target[-1:] in (["text"], ["varchar"]) and not using
        was = f" from {old_type}" if old_type else ""
        msg = (f"changing {table}.{col}{was} to {new_type} rewrites {table} and all its "
               f"indexes under ACCESS EXCLUSIVE: reads and writes wait for the rewrite")
        if maybe_free:
            msg += (" (no rewrite when the column is varchar and the new length is larger or "
                    "unlimited, or text to varchar without a limit; the lock is then brief: "
                    "with --dsn the lint reads the old type and knows)")
        safe = (f"-- expand and contract instead of rewriting in place:\n"
                f"ALTER TABLE {table} ADD COLUMN {col}_new {new_type};\n"
                f"-- a backfill step: backfill: {{table: {table}, set: \"{col}_new = {col}\", "
                f"where: \"{col}_new IS NULL AND {col} IS NOT NULL\"}}\n"
                f"-- keep both in sync with a trigger while old code runs, then switch reads,\n"
                f"-- and drop {col} and rename {col}_new in a later release")
        yield ctx.finding("change-column-type", msg, table=table, lock="ACCESS EXCLUSIVE",
                          rewrites=True, cost="rewrite", safe=safe,
                          severity="warning" if maybe_free else None)


def add_column(ctx: Ctx) -> Iterator[Finding]:
    for table, cmd in _commands(ctx):
        if cmd.subtype != AlterTableType.AT_AddColumn or ctx.state.is_new(table):
            continue
        coldef = cmd.def_
        if not isinstance(coldef, ast.ColumnDef):
            continue
        col = str(coldef.colname)
        tnames = type_names(coldef.typeName)
        cons = [c for c in coldef.constraints or () if isinstance(c, ast.Constraint)]
        identity = any(c.contype == ConstrType.CONSTR_IDENTITY for c in cons)
        if tnames[-1:] and tnames[-1] in SERIAL_TYPES or identity:
            what = "an identity" if identity else f"a {tnames[-1]}"
            pk = any(c.contype == ConstrType.CONSTR_PRIMARY for c in cons)
            yield ctx.finding(
                "add-serial-primary-key",
                f"adding {what} column {table}.{col} fills every existing row from a sequence: "
                f"a full rewrite under ACCESS EXCLUSIVE"
                + (", then a PRIMARY KEY index build under the same lock" if pk else ""),
                table=table, lock="ACCESS EXCLUSIVE", rewrites=True, cost="rewrite",
                safe=(f"ALTER TABLE {table} ADD COLUMN {col} bigint;  -- no rewrite\n"
                      f"CREATE SEQUENCE {bare(table)}_{col}_seq OWNED BY {table}.{col};\n"
                      f"ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT "
                      f"nextval('{bare(table)}_{col}_seq');  -- new rows only\n"
                      f"-- backfill old rows in batches, then CREATE UNIQUE INDEX CONCURRENTLY,"
                      f"\n-- and ADD CONSTRAINT ... PRIMARY KEY USING INDEX"))
            continue
        fills = {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_GENERATED}
        if (any(c.contype == ConstrType.CONSTR_NOTNULL for c in cons)
                and not any(c.contype in fills for c in cons)):
            yield ctx.finding(
                "add-required-column",
                f"adding {table}.{col} NOT NULL without a default fails on every row "
                f"{table} already has (23502): only an empty table takes it",
                table=table, lock="ACCESS EXCLUSIVE",
                safe=(f"ALTER TABLE {table} ADD COLUMN {col} {sql_of(coldef.typeName)} "
                      f"NOT NULL DEFAULT <value>;  -- a constant default: instant from 11\n"
                      f"-- or: add it nullable, backfill it, then SET NOT NULL the safe way "
                      f"(see set-not-null)"))
        for c in cons:
            if c.contype == ConstrType.CONSTR_GENERATED:
                yield ctx.finding(
                    "add-column-volatile-default",
                    f"adding the stored generated column {table}.{col} computes it for every "
                    f"row: a full rewrite under ACCESS EXCLUSIVE",
                    table=table, lock="ACCESS EXCLUSIVE", rewrites=True, cost="rewrite",
                    safe=_expand_default(table, col, coldef))
            elif c.contype == ConstrType.CONSTR_DEFAULT and c.raw_expr is not None:
                volatile = volatile_calls(c.raw_expr)
                null = (isinstance(c.raw_expr, ast.A_Const) and c.raw_expr.isnull)
                if volatile:
                    msg = (f"adding {table}.{col} with the volatile default "
                           f"{', '.join(sorted(set(volatile)))}() writes a value into every "
                           f"row: a full rewrite under ACCESS EXCLUSIVE")
                elif ctx.version_below(11) and not null:
                    msg = (f"adding {table}.{col} with a default rewrites the table under "
                           f"ACCESS EXCLUSIVE before PostgreSQL 11 (from 11 on, a constant "
                           f"default is stored once and the ADD is instant)")
                else:
                    continue
                yield ctx.finding(
                    "add-column-volatile-default", msg, table=table, lock="ACCESS EXCLUSIVE",
                    rewrites=True, cost="rewrite", safe=_expand_default(table, col, coldef))


def _expand_default(table: str, col: str, coldef: ast.ColumnDef) -> str:
    expr = next((c.raw_expr for c in coldef.constraints or ()
                 if isinstance(c, ast.Constraint) and c.raw_expr is not None), None)
    value = sql_of(expr) if expr is not None else "..."
    return (f"ALTER TABLE {table} ADD COLUMN {col} {sql_of(coldef.typeName)};  -- instant\n"
            f"ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {value};  -- new rows only\n"
            f"-- then a backfill step for existing rows:\n"
            f"-- backfill: {{table: {table}, set: \"{col} = {value}\", where: \"{col} IS NULL\"}}")


RULES = (add_constraint, set_not_null, change_type, add_column)
