"""Changes that break the application code still running: drops and renames."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from migtui.lint.context import Ctx, bare, names, table_name
from migtui.lint.findings import Finding


def drop_column(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.AlterTableStmt):
        return
    table = table_name(node.relation)
    if ctx.state.is_new(table):
        return
    for cmd in node.cmds or ():
        if not isinstance(cmd, ast.AlterTableCmd) or cmd.subtype != AlterTableType.AT_DropColumn:
            continue
        col = str(cmd.name)
        if (bare(table), col) in ctx.state.added_columns:
            continue  # the plan added it: no deployed code uses it
        yield ctx.finding(
            "drop-column",
            f"dropping {table}.{col} breaks application code that still reads or writes it",
            table=table, lock="ACCESS EXCLUSIVE",
            breaks=f"queries naming {col}, INSERTs listing it, ORM models that map it, "
                   f"and SELECT * consumers expecting it",
            safe=f"-- release 1: deploy code that no longer uses {table}.{col} (for ORMs, mark "
                 f"it ignored)\n-- release 2, once no old code runs:\n"
                 f"ALTER TABLE {table} DROP COLUMN IF EXISTS {col};")


def drop_table(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.DropStmt) or node.removeType != ObjectType.OBJECT_TABLE:
        return
    for obj in node.objects or ():
        table = ".".join(names(obj))
        if ctx.state.is_new(table):
            continue
        yield ctx.finding(
            "drop-table",
            f"dropping {table} breaks application code that still uses it, and its data is "
            f"gone unless a backup exists",
            table=table, lock="ACCESS EXCLUSIVE",
            breaks=f"every query, INSERT and ORM model using {table}",
            safe=f"-- release 1: deploy code that no longer uses {table}\n"
                 f"ALTER TABLE {table} RENAME TO {bare(table)}_retired;  -- reversible\n"
                 f"-- release 2, after a quiet period and a backup:\n"
                 f"DROP TABLE {bare(table)}_retired;")


def rename(ctx: Ctx) -> Iterator[Finding]:
    node = ctx.node
    if not isinstance(node, ast.RenameStmt):
        return
    table = table_name(node.relation)
    new = str(node.newname)
    if node.renameType == ObjectType.OBJECT_COLUMN:
        old = str(node.subname)
        if ctx.state.is_new(table) or (bare(table), old) in ctx.state.added_columns:
            return
        if ctx.rollback and (bare(table), new, old) in ctx.state.renamed_columns:
            return  # the rollback undoes the plan's own rename
        yield ctx.finding(
            "rename-column",
            f"renaming {table}.{old} to {new} breaks application code that uses {old}",
            table=table, lock="ACCESS EXCLUSIVE",
            breaks=f"queries, INSERTs and ORM models naming {table}.{old}",
            safe=f"ALTER TABLE {table} ADD COLUMN {new} <type>;\n"
                 f"-- keep {old} and {new} in sync with a trigger, backfill {new} in batches,\n"
                 f"-- move the code to {new}, then drop {old} in a later release")
    elif node.renameType == ObjectType.OBJECT_TABLE:
        if ctx.state.is_new(table):
            return
        if ctx.rollback and (new, bare(table)) in ctx.state.renamed_tables:
            return
        yield ctx.finding(
            "rename-table",
            f"renaming {table} to {new} breaks application code that uses {table}",
            table=table, lock="ACCESS EXCLUSIVE",
            breaks=f"every query, INSERT and ORM model naming {table}",
            safe=f"BEGIN;\nALTER TABLE {table} RENAME TO {new};\n"
                 f"CREATE VIEW {table} AS SELECT * FROM {new};  -- old code keeps working\n"
                 f"COMMIT;\n-- drop the view once no old code runs")


RULES = (drop_column, drop_table, rename)
