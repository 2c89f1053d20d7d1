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
from typing import Literal

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
    rows: int | None  # pg_class.reltuples; None when the table was never analyzed
    heap_bytes: int  # pg_relation_size
    total_bytes: int  # pg_total_relation_size: heap, TOAST and indexes


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "kB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def human_seconds(s: float) -> str:
    if s < 1:
        return "<1 s"
    if s < 120:
        return f"~{s:.0f} s"
    if s < 7200:
        return f"~{s / 60:.0f} min"
    return f"~{s / 3600:.1f} h"


@dataclass
class TableSizes:
    """Sizes by table name ("orders" and "public.orders"), and which table owns an index.

    A table is *small* under both small_rows and small_bytes (lint lowers size-aware
    findings to info), *large* at or above large_rows or large_bytes (raised to error).
    """

    tables: dict[str, TableSize] = field(default_factory=dict)
    index_tables: dict[str, str] = field(default_factory=dict)  # index name -> table name
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
            size = TableSize(int(tuples) if tuples is not None and tuples >= 0 else None,
                             int(heap), int(total))
            out.tables[f"{nsp}.{rel}"] = size
            if nsp == "public" or rel not in out.tables:
                out.tables[rel] = size
        for nsp, index, table in idx:
            out.index_tables[f"{nsp}.{index}"] = table
            out.index_tables.setdefault(index, table)
        return out

    def get(self, table: str | None) -> TableSize | None:
        if not table:
            return None
        return self.tables.get(table) or self.tables.get(table.rsplit(".", 1)[-1])

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
        rows = f" (~{_human_rows(size.rows)} rows)" if size.rows is not None else ""
        return (f"{_VERBS[cost]} ~{human_bytes(nbytes)}{rows}: "
                f"{human_seconds(nbytes / (rate * MB))} at {rate:g} MB/s")


def _human_rows(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)
