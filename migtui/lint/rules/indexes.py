"""Index rules: build, drop and rebuild without blocking writes."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType, ReindexObjectType

from migtui.lint.context import Ctx, bare, names, sql_of, table_name
from migtui.lint.findings import Finding
from migtui.sql import needs_autocommit

_IN_TX = ("{what} cannot run inside a transaction block: the step opens one with BEGIN, "
          "so PostgreSQL refuses it (25001) when the step runs")

_AUTOCOMMIT_NAMES = {
    "IndexStmt": "CREATE INDEX CONCURRENTLY", "DropStmt": "DROP INDEX CONCURRENTLY",
    "ReindexStmt": "REINDEX CONCURRENTLY", "VacuumStmt": "VACUUM",
    "AlterTableStmt": "DETACH PARTITION CONCURRENTLY",
}


def in_transaction(ctx: Ctx) -> Iterator[Finding]:
    if not ctx.in_transaction or not needs_autocommit(ctx.node):
        return
    what = _AUTOCOMMIT_NAMES.get(type(ctx.node).__name__, "this statement")
    yield ctx.finding(
        "concurrently-in-transaction", _IN_TX.format(what=what),
        lock="",
        safe="-- remove BEGIN/COMMIT around it: migtui runs CONCURRENTLY statements in\n"
             "-- autocommit, each on its own\n" + ctx.stmt.text.strip())


def create_index(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.IndexStmt) or node.concurrent:
        return
    table = table_name(node.relation)
    if ctx.state.is_new(table):
        return
    safe = copy.deepcopy(node)
    safe.concurrent = True
    # Never IF NOT EXISTS on a concurrent build: a build killed half way leaves an INVALID
    # index of that name, which IF NOT EXISTS then skips (the step would "succeed" with no
    # usable index). Without it, a failed build's INVALID index is dropped by the runner, and
    # one left by a killed run stops the resume with an error naming it: never a silent skip.
    safe.if_not_exists = False
    note = ("-- no IF NOT EXISTS: after an interrupted build it would skip the INVALID index "
            "left behind\n" if node.if_not_exists else "")
    yield ctx.finding(
        "index-not-concurrent",
        f"CREATE INDEX on {table} without CONCURRENTLY blocks every INSERT, UPDATE and DELETE "
        f"on it (SHARE lock) for the whole build",
        table=table, cost="index",
        safe=note + sql_of(safe) + ";\n-- then check it is valid: a failed build leaves an "
                                   "INVALID index to drop and retry")


def drop_index(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.DropStmt) or node.removeType != ObjectType.OBJECT_INDEX:
        return
    if node.concurrent:
        return
    for obj in node.objects or ():
        index = ".".join(names(obj))
        table = ctx.index_table(index)
        if table and ctx.state.is_new(table):
            continue
        on = f" on {table}" if table else ""
        exists = " IF EXISTS" if node.missing_ok else ""
        yield ctx.finding(
            "drop-index-not-concurrent",
            f"DROP INDEX {index} without CONCURRENTLY takes ACCESS EXCLUSIVE{on}: it waits "
            f"behind every running query and blocks all reads and writes while it waits",
            table=table, lock="ACCESS EXCLUSIVE",
            safe=f"DROP INDEX CONCURRENTLY{exists} {index};")


def reindex(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.ReindexStmt):
        return
    if any(isinstance(o, ast.DefElem) and o.defname == "concurrently" for o in node.params or ()):
        return
    target = table_name(node.relation) if node.relation is not None else str(node.name or "")
    table: str | None = target
    if node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
        table = ctx.index_table(target)
    elif node.kind not in (ReindexObjectType.REINDEX_OBJECT_TABLE,):
        table = None  # SCHEMA / DATABASE / SYSTEM: every table in it
    if table and ctx.state.is_new(table):
        return
    if ctx.version_below(12):
        safe = (f"-- REINDEX CONCURRENTLY needs PostgreSQL 12; before that, build a twin:\n"
                f"CREATE INDEX CONCURRENTLY {bare(target)}_new ON ... ;  -- same definition\n"
                f"DROP INDEX CONCURRENTLY {target};\n"
                f"ALTER INDEX {bare(target)}_new RENAME TO {bare(target)};")
    else:
        safe = sql_of(ast.ReindexStmt(kind=node.kind, relation=node.relation, name=node.name,
                                      params=(*(node.params or ()),
                                              ast.DefElem(defname="concurrently"))))
        safe += ";  -- PostgreSQL 12+, outside a transaction"
    if node.kind == ReindexObjectType.REINDEX_OBJECT_TABLE:
        msg = (f"REINDEX TABLE {target} without CONCURRENTLY blocks writes to {target}, and "
               f"reads that use its indexes, for the whole rebuild")
    elif node.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
        msg = (f"REINDEX INDEX {target} without CONCURRENTLY blocks writes to "
               f"{table or 'its table'}, and reads that use the index, for the whole rebuild")
    else:
        kind = node.kind.name.removeprefix("REINDEX_OBJECT_")
        msg = (f"REINDEX {kind} {target} without CONCURRENTLY blocks writes to each of its "
               f"tables in turn, and reads that use the index being rebuilt")
    yield ctx.finding(
        "reindex-not-concurrent", msg,
        table=table, lock="ACCESS EXCLUSIVE (index), SHARE (table)", cost="index", safe=safe)


RULES = (in_transaction, create_index, drop_index, reindex)
