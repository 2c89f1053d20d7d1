"""Table-wide operations: VACUUM FULL, CLUSTER, TRUNCATE CASCADE, unbatched writes."""

from __future__ import annotations

import copy
from collections.abc import Iterator

from pglast import ast
from pglast.enums import DropBehavior

from migtui.lint.context import Ctx, is_constant_true, sql_of, table_name
from migtui.lint.findings import Finding


def vacuum_full(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.VacuumStmt) or not node.is_vacuumcmd:
        return
    if not any(isinstance(o, ast.DefElem) and o.defname == "full" for o in node.options or ()):
        return
    tables = [table_name(r.relation) for r in node.rels or ()] or [None]
    for table in tables:
        if table and ctx.state.is_new(table):
            continue
        what = table or "every table of the database"
        yield ctx.finding(
            "vacuum-full",
            f"VACUUM FULL rewrites {what} under ACCESS EXCLUSIVE: reads and writes wait for "
            f"the whole rewrite, and it needs free disk for a second copy",
            table=table, lock="ACCESS EXCLUSIVE", rewrites=True, cost="rewrite",
            safe=f"-- online, outside migtui's SQL: pg_repack --table={table or '...'}\n"
                 f"VACUUM (ANALYZE){' ' + table if table else ''};  -- reclaims space for "
                 f"reuse, no long lock")


def cluster(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.ClusterStmt):
        return
    table = table_name(node.relation) if node.relation is not None else None
    if table and ctx.state.is_new(table):
        return
    order = f" --order-by=<{node.indexname} columns>" if node.indexname else ""
    yield ctx.finding(
        "cluster",
        f"CLUSTER rewrites {table or 'every clustered table'} under ACCESS EXCLUSIVE: reads "
        f"and writes wait for the whole rewrite",
        table=table, lock="ACCESS EXCLUSIVE", rewrites=True, cost="rewrite",
        safe=f"-- online, outside migtui's SQL: pg_repack --table={table or '...'}{order}")


def truncate_cascade(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.TruncateStmt) or node.behavior != DropBehavior.DROP_CASCADE:
        return
    tables = [table_name(r) for r in node.relations or ()]
    safe = copy.deepcopy(node)
    safe.behavior = DropBehavior.DROP_RESTRICT
    yield ctx.finding(
        "truncate-cascade",
        f"TRUNCATE {', '.join(tables)} CASCADE also empties every table with a foreign key "
        f"to {'them' if len(tables) > 1 else 'it'}, recursively, which the statement does "
        f"not name",
        table=tables[0] if tables else None, lock="ACCESS EXCLUSIVE",
        safe=f"-- name every table to empty; RESTRICT fails if one is missing\n"
             f"{sql_of(safe)};")


def unbatched_write(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.UpdateStmt | ast.DeleteStmt):
        return
    where = node.whereClause
    filtered = where is not None and not is_constant_true(where)
    # a backfill's rollback touches the rows the backfill did, in one go: its WHERE does
    # not make it small (the demo's undid 700k rows in one 14.7 s transaction)
    undoes = ctx.rollback and ctx.step.backfill is not None
    if filtered and not undoes:
        return
    table = table_name(node.relation)
    if ctx.state.is_new(table):
        return
    rows = (f"all the rows the backfill of {ctx.step.id} changed in batches"
            if filtered else f"every row of {table}")
    if isinstance(node, ast.UpdateStmt):
        sets = ", ".join(f"{t.name} = {sql_of(t.val)}" for t in node.targetList or ()
                         if isinstance(t, ast.ResTarget))
        cond = sql_of(where).replace('"', '\\"') if filtered else "<rows not yet undone>"
        yield ctx.finding(
            "unbatched-update",
            f"UPDATE of {rows}, in one transaction: it locks every row until the end, "
            f"doubles the table's size in dead rows, and replicas lag behind it",
            table=table, lock="ROW EXCLUSIVE (every row locked)", cost="write",
            safe=(f"# a rollback written as a backfill: keyset batches, throttled, resumable\n"
                  f"rollback:\n  backfill: {{table: {table}, key: id, set: \"{sets}\", "
                  f"where: \"{cond}\"}}" if ctx.rollback else
                  f"# a backfill step: keyset batches, each its own short transaction\n"
                  f"backfill: {{table: {table}, key: id, set: \"{sets}\", "
                  f"where: \"<rows not yet updated>\"}}"))
    else:
        yield ctx.finding(
            "unbatched-delete",
            f"DELETE of {rows}, in one transaction: it locks every row until the end and "
            f"leaves them all as dead rows",
            table=table, lock="ROW EXCLUSIVE (every row locked)", cost="write",
            safe=(f"-- delete in batches, repeated until it deletes 0 rows:\n"
                  f"DELETE FROM {table} WHERE ctid = ANY (ARRAY(\n"
                  f"  SELECT ctid FROM {table}{' WHERE ' + sql_of(where) if filtered else ''}"
                  f" LIMIT 5000));"
                  + ("" if filtered else f"\n-- or, when every row goes and nothing references "
                                         f"it: TRUNCATE {table};")))


RULES = (vacuum_full, cluster, truncate_cascade, unbatched_write)
