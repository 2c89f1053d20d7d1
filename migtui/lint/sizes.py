"""Table sizes from the catalogs, and how long a rewrite, scan or index build takes.

Estimates are rough on purpose; the assumptions are stated in every estimate string:
  - a rewrite (ALTER TYPE, VACUUM FULL, CLUSTER, volatile default) copies the heap and
    rebuilds every index: total relation size at REWRITE_MB_S;
  - a validating scan (SET NOT NULL, CHECK, FOREIGN KEY) reads the heap at SCAN_MB_S;
  - an index build reads the heap and sorts: heap size at INDEX_MB_S;
  - a one-statement UPDATE writes a new version of every row: heap size at REWRITE_MB_S.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from migtui import fmt

REWRITE_MB_S = 30.0
SCAN_MB_S = 150.0
INDEX_MB_S = 50.0

MB = 1024 * 1024
GB = 1024 * MB

Cost = Literal["rewrite", "scan", "index", "write"]
Category = Literal["small", "medium", "large"]

_RATES: dict[str, float] = {"rewrite": REWRITE_MB_S, "scan": SCAN_MB_S, "index": INDEX_MB_S,
                            "write": REWRITE_MB_S}
_VERBS = {"rewrite": "rewrites", "scan": "scans", "index": "indexes", "write": "writes"}


@dataclass(frozen=True)
class TableSize:
    rows: int | None  # pg_class.reltuples; a never-analyzed table counted when small, else None
    heap_bytes: int  # pg_relation_size
    total_bytes: int  # pg_total_relation_size: heap, TOAST and indexes




@dataclass
class TableSizes:
    """Sizes by table name ("orders" and "public.orders"), and which table owns an index.

    A table is *small* under both small_rows and small_bytes (lint lowers size-aware
    findings to info), *large* at or above large_rows or large_bytes (raised to error).
    """

    tables: dict[str, TableSize] = field(default_factory=dict)
    index_tables: dict[str, str] = field(default_factory=dict)  # index name -> table name
    # "table.column" and "schema.table.column" -> format_type, e.g. "character varying(255)"
    columns: dict[str, str] = field(default_factory=dict)
    server_version: int | None = None  # server_version_num, e.g. 150004
    small_rows: int = 10_000
    small_bytes: int = 10 * MB
    large_rows: int = 5_000_000
    large_bytes: int = 1 * GB

    @classmethod
    def read(cls, dsn: str) -> TableSizes:
        """Read sizes of every user table. Raises sqlalchemy/psycopg errors on connection."""
        from sqlalchemy import text  # only with --dsn: keeps `check` from loading SQLAlchemy

        from migtui.db import make_engine

        engine = make_engine(dsn, application_name="migtui lint", pool_size=1)
        try:
            with engine.connect() as conn:
                version = int(conn.execute(text("SHOW server_version_num")).scalar_one())
                rows = conn.execute(text(
                    """
                    SELECT n.nspname, c.relname, c.reltuples::bigint,
                           pg_relation_size(c.oid), pg_total_relation_size(c.oid)
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p', 'm')
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND n.nspname NOT LIKE 'pg_toast%'
                    """)).all()
                cols = conn.execute(text(
                    """
                    SELECT n.nspname, c.relname, a.attname,
                           format_type(a.atttypid, a.atttypmod)
                    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND n.nspname NOT LIKE 'pg_toast%'
                    """)).all()
                # never analyzed (reltuples -1): count, up to small_rows, what is there
                unanalyzed = [(nsp, rel) for nsp, rel, tuples, _h, _t in rows
                              if tuples is not None and tuples < 0]
                if unanalyzed:  # a count waits for no ACCESS EXCLUSIVE held elsewhere
                    conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                counted = {k: _count(conn, *k, cls.small_rows) for k in unanalyzed}
                idx = conn.execute(text(
                    """
                    SELECT n.nspname, i.relname, t.relname
                    FROM pg_index x
                    JOIN pg_class i ON i.oid = x.indexrelid
                    JOIN pg_class t ON t.oid = x.indrelid
                    JOIN pg_namespace n ON n.oid = i.relnamespace
                    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                      AND n.nspname NOT LIKE 'pg_toast%'
                    """)).all()
        finally:
            engine.dispose()
        out = cls(server_version=version)
        for nsp, rel, tuples, heap, total in rows:
            n = int(tuples) if tuples is not None and tuples >= 0 else counted.get((nsp, rel))
            size = TableSize(n, int(heap), int(total))
            out.tables[f"{nsp}.{rel}"] = size
            if nsp == "public" or rel not in out.tables:
                out.tables[rel] = size
        for nsp, rel, col, typ in cols:
            out.columns[f"{nsp}.{rel}.{col}"] = typ
            if nsp == "public" or f"{rel}.{col}" not in out.columns:
                out.columns[f"{rel}.{col}"] = typ
        for nsp, index, table in idx:
            out.index_tables[f"{nsp}.{index}"] = table
            out.index_tables.setdefault(index, table)
        return out

    def get(self, table: str | None) -> TableSize | None:
        if not table:
            return None
        return self.tables.get(table) or self.tables.get(table.rsplit(".", 1)[-1])

    def column_type(self, table: str | None, column: str) -> str | None:
        """The column's type as the catalog writes it (``character varying(255)``)."""
        if not table:
            return None
        return (self.columns.get(f"{table}.{column}")
                or self.columns.get(f"{table.rsplit('.', 1)[-1]}.{column}"))

    def category(self, table: str | None) -> Category | None:
        size = self.get(table)
        if size is None:
            return None
        rows = size.rows if size.rows is not None else 0
        if rows >= self.large_rows or size.total_bytes >= self.large_bytes:
            return "large"
        if (size.rows is not None and rows < self.small_rows
                and size.total_bytes < self.small_bytes):
            return "small"
        return "medium"

    def seconds(self, table: str | None, cost: Cost) -> float | None:
        """Estimated duration of the operation, under the module's stated rates."""
        size = self.get(table)
        if size is None:
            return None
        nbytes = size.total_bytes if cost == "rewrite" else size.heap_bytes
        return nbytes / (_RATES[cost] * MB)

    def estimate(self, table: str | None, cost: Cost) -> str | None:
        """e.g. 'rewrites ~1.2 GB (~4.1M rows): ~40 s at 30 MB/s'."""
        size = self.get(table)
        if size is None:
            return None
        nbytes = size.total_bytes if cost == "rewrite" else size.heap_bytes
        rate = _RATES[cost]
        rows = f" (~{fmt.rows(size.rows)} rows)" if size.rows is not None else ""
        return (f"{_VERBS[cost]} ~{fmt.size(nbytes)}{rows}: "
                f"{fmt.duration_estimate(nbytes / (rate * MB))} at {rate:g} MB/s")


def _count(conn: Any, schema: str, table: str, limit: int) -> int | None:
    """Rows of a never-analyzed table when under ``limit`` (else None: bytes decide)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    q = conn.dialect.identifier_preparer.quote
    try:
        with conn.begin_nested():
            n = conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {q(schema)}.{q(table)} "
                                  f"LIMIT {int(limit)}) s")).scalar_one()
    except DBAPIError:  # no SELECT privilege, a lock held elsewhere...: unknown
        return None
    return int(n) if int(n) < limit else None
