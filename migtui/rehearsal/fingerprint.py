"""A schema fingerprint read from the catalogs, row counts, and data checksums.

The fingerprint is what a rollback must restore: schemas, tables, columns (type, default,
nullability, identity, generation, collation, position), constraints (definition,
validity), indexes (definition, validity), sequences (definition and ownership, not their
current value: sequence values never roll back), views, triggers, functions, enum types
and extensions. Objects of extensions, migtui's own ``migtui`` schema and bookkeeping tables
of other tools (``_prisma_migrations``) are left out.

Data: for each table the plan writes to, the exact row count and a checksum, both read
in one REPEATABLE READ snapshot. The checksum is order-independent: the md5 of each row's
text form, split in two 64-bit halves, each summed over all rows (plus the count). It needs
one sequential scan and no sort, so it scales to tables without a usable primary key, and
duplicate rows still count. Two states with equal sums differ with negligible probability.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from migtui.plan.model import Plan, Step
from migtui.sql import SqlSyntaxError, split

CHECKSUM_METHOD = (
    "order-independent: md5 of each row's text, two 64-bit halves summed over all rows, "
    "with the exact row count; one sequential scan per table, no sort")

_USER = ("{n}.nspname NOT IN ('pg_catalog', 'information_schema', 'migtui') "
         "AND {n}.nspname NOT LIKE 'pg\\_toast%' AND {n}.nspname NOT LIKE 'pg\\_temp%'")


def _user(alias: str = "n") -> str:
    return _USER.format(n=alias)


def _not_ext(classid: str, objid: str) -> str:
    return (f"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{classid}'::regclass "
            f"AND e.objid = {objid} AND e.deptype = 'e')")


# category -> query returning (key, attribute dict as jsonb)
QUERIES: dict[str, str] = {
    "schema": f"""
        SELECT n.nspname, jsonb_build_object('owner', pg_get_userbyid(n.nspowner))
        FROM pg_namespace n WHERE {_user()} AND {_not_ext('pg_namespace', 'n.oid')}""",
    "table": f"""
        SELECT n.nspname || '.' || c.relname, jsonb_build_object(
            'kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                    WHEN 'f' THEN 'foreign table' END,
            'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'logged' END,
            'row security', c.relrowsecurity)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f') AND {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "column": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname, jsonb_build_object(
            'type', format_type(a.atttypid, a.atttypmod),
            'default', pg_get_expr(d.adbin, d.adrelid),
            'not null', a.attnotnull,
            'identity', NULLIF(a.attidentity, ''),
            'generated', NULLIF(a.attgenerated, ''),
            'collation', CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
            'position', row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum))
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
          AND {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "constraint": f"""
        SELECT n.nspname || '.' || c.relname || '.' || k.conname, jsonb_build_object(
            'definition', regexp_replace(pg_get_constraintdef(k.oid), ' NOT VALID$', ''),
            'valid', k.convalidated,
            'deferrable', k.condeferrable, 'deferred', k.condeferred)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "index": f"""
        SELECT n.nspname || '.' || i.relname, jsonb_build_object(
            'definition', pg_get_indexdef(i.oid), 'valid', x.indisvalid, 'ready', x.indisready,
            'table', tn.nspname || '.' || t.relname)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace tn ON tn.oid = t.relnamespace
        WHERE {_user()} AND {_not_ext('pg_class', 'x.indrelid')}""",
    "sequence": f"""
        SELECT n.nspname || '.' || c.relname, jsonb_build_object(
            'type', format_type(s.seqtypid, NULL), 'start', s.seqstart,
            'increment', s.seqincrement, 'min', s.seqmin, 'max', s.seqmax,
            'cycle', s.seqcycle, 'cache', s.seqcache,
            'owned by', (SELECT tn.nspname || '.' || t.relname || '.' || a.attname
                         FROM pg_depend d
                         JOIN pg_class t ON t.oid = d.refobjid
                         JOIN pg_namespace tn ON tn.oid = t.relnamespace
                         JOIN pg_attribute a ON a.attrelid = d.refobjid
                                            AND a.attnum = d.refobjsubid
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.refclassid = 'pg_class'::regclass
                           AND d.deptype IN ('a', 'i') LIMIT 1))
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "view": f"""
        SELECT n.nspname || '.' || c.relname, jsonb_build_object(
            'kind', CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
            'definition', pg_get_viewdef(c.oid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "trigger": f"""
        SELECT n.nspname || '.' || c.relname || '.' || t.tgname, jsonb_build_object(
            'definition', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled::text)
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND {_user()} AND {_not_ext('pg_class', 'c.oid')}""",
    "function": f"""
        SELECT n.nspname || '.' || p.proname || '('
               || pg_get_function_identity_arguments(p.oid) || ')',
               jsonb_build_object('definition md5', md5(pg_get_functiondef(p.oid)))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p') AND {_user()} AND {_not_ext('pg_proc', 'p.oid')}""",
    "type": f"""
        SELECT n.nspname || '.' || t.typname, jsonb_build_object(
            'labels', (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                       FROM pg_enum e WHERE e.enumtypid = t.oid),
            'domain of', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
                         END,
            'not null', t.typnotnull)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd') AND {_user()} AND {_not_ext('pg_type', 't.oid')}""",
    "extension": """
        SELECT x.extname, jsonb_build_object('version', x.extversion, 'schema', n.nspname)
        FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace""",
}

CATEGORIES = tuple(QUERIES)

# Tables that record migrations rather than being the user's schema. A run creates
# _prisma_migrations when it records its first Prisma migration, and a rollback leaves the
# (then empty) table in place, as Prisma itself does: it is not part of the fingerprint.
BOOKKEEPING_TABLES = frozenset({"_prisma_migrations"})


def _bookkeeping(key: str, attrs: dict[str, Any]) -> bool:
    """An object of a bookkeeping table: the table, its columns, constraints or indexes."""
    parts = key.split(".")
    table = str(attrs.get("table", "")).split(".")[-1]
    return (len(parts) >= 2 and parts[1] in BOOKKEEPING_TABLES) or table in BOOKKEEPING_TABLES


@dataclass(frozen=True)
class TableData:
    rows: int
    checksum: str  # 16 hex digits


@dataclass
class Fingerprint:
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, TableData] = field(default_factory=dict)  # table -> rows and checksum
    missing: list[str] = field(default_factory=list)  # touched tables that do not exist

    def to_dict(self) -> dict[str, Any]:
        return {"objects": self.objects,
                "data": {t: {"rows": d.rows, "checksum": d.checksum}
                         for t, d in sorted(self.data.items())},
                "missing": sorted(self.missing)}

    def count(self) -> int:
        return sum(len(v) for v in self.objects.values())


def take(conn: psycopg.Connection, tables: Iterable[str] = ()) -> Fingerprint:
    """Read the fingerprint, and the data of ``tables`` (qualified names), in one snapshot."""
    fp = Fingerprint()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for cat, query in QUERIES.items():
            fp.objects[cat] = {str(k): dict(v) for k, v in conn.execute(query).fetchall()
                               if not _bookkeeping(str(k), dict(v))}
        for name in sorted(set(tables)):
            data = table_data(conn, name)
            if data is None:
                fp.missing.append(name)
            else:
                fp.data[name] = data
    return fp


def table_data(conn: psycopg.Connection, qualified: str) -> TableData | None:
    schema, _, table = qualified.partition(".")
    exists = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))",
                          (schema, table)).fetchone()
    if not exists or exists[0] is None:
        return None
    q = sql.SQL(
        "SELECT count(*), "
        "coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0), "
        "coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0) "
        "FROM (SELECT md5(t::text) AS h FROM {}.{} AS t) s").format(
            sql.Identifier(schema), sql.Identifier(table))
    row = conn.execute(q).fetchone()
    assert row is not None
    digest = hashlib.sha256(f"{row[0]}:{row[1]}:{row[2]}".encode()).hexdigest()[:16]
    return TableData(int(row[0]), digest)


# ---------------------------------------------------------------- which tables a plan touches


def relations(sql_text: str | None) -> list[tuple[str | None, str]]:
    """(schema, name) of every relation a SQL text names (pglast RangeVar nodes)."""
    if not sql_text:
        return []
    from pglast.visitors import Visitor

    out: list[tuple[str | None, str]] = []

    class _Names(Visitor):  # type: ignore[misc]
        def visit_RangeVar(self, _ancestors: Any, node: Any) -> None:
            out.append((node.schemaname, node.relname))

    try:
        statements = split(sql_text)
    except SqlSyntaxError:
        return []
    for st in statements:
        _Names()(st.node)
    return out


def step_relations(step: Step, *, reads: bool = False) -> list[tuple[str | None, str]]:
    """Relations a step writes to (its SQL, rollback and backfill); with ``reads``, also
    the relations its check queries read (for size-based estimates)."""
    out = relations(step.sql) + relations(step.rollback_sql)
    for bf in (step.backfill, step.rollback_backfill):
        if bf is not None:
            out += relations(f"SELECT 1 FROM {bf.table}")
    if reads and step.check is not None:
        out += relations(step.check.sql)
    return out


def resolve_tables(conn: psycopg.Connection, names: Iterable[tuple[str | None, str]]
                   ) -> list[str]:
    """Qualified names of the ordinary or partitioned tables among ``names`` that exist.

    CTE names, views, indexes and not-yet-created tables drop out."""
    out: set[str] = set()
    for schema, rel in set(names):
        row = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(CASE WHEN %s::text IS NULL THEN format('%%I', %s::text) "
            "ELSE format('%%I.%%I', %s::text, %s::text) END) AND c.relkind IN ('r', 'p')",
            (schema, rel, schema, rel)).fetchone()
        if row is not None:
            out.add(f"{row[0]}.{row[1]}")
    return sorted(out)


def plan_tables(conn: psycopg.Connection, plan: Plan) -> list[str]:
    """The existing tables the plan's steps write to: their data is checksummed."""
    names: list[tuple[str | None, str]] = []
    for step in plan.steps:
        names += step_relations(step)
    return resolve_tables(conn, names)
