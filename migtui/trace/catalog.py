"""The catalog reads behind a trace: locks of one backend, relation files, indexes, constraints.

Every read is limited to the user's relations: not ``pg_catalog``, ``information_schema``,
TOAST or migtui's own ``migtui`` schema (the history row a step writes is not the step's
cost). Reads on the statement's own connection see what its open transaction did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from migtui.trace.model import LockHeld, mode_name

USER_NS = ("n.nspname NOT IN ('pg_catalog', 'information_schema', 'migtui') "
           "AND n.nspname !~ '^pg_(toast|temp)'")

KINDS = {"r": "table", "p": "partitioned table", "i": "index", "I": "partitioned index",
         "S": "sequence", "v": "view", "m": "materialized view", "t": "TOAST table",
         "f": "foreign table", "c": "type"}

LOCKS = f"""
    SELECT /* migtui-trace */ l.relation::bigint, l.mode, n.nspname || '.' || c.relname,
           c.relkind::text
    FROM pg_locks l
    LEFT JOIN pg_class c ON c.oid = l.relation
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE l.pid = %s AND l.locktype = 'relation' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND (c.oid IS NULL OR ({USER_NS}))"""

RELATIONS = f"""
    SELECT /* migtui-trace */ c.oid::bigint, n.nspname || '.' || c.relname, c.relkind::text,
           c.relfilenode::bigint, c.reltuples::bigint
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'i', 'I', 'm', 'S', 'v') AND {USER_NS}"""

INDEXES = f"""
    SELECT /* migtui-trace */ x.indexrelid::bigint, n.nspname || '.' || i.relname, x.indisvalid
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace WHERE {USER_NS}"""

CONSTRAINTS = f"""
    SELECT /* migtui-trace */ k.oid::bigint, n.nspname || '.' || c.relname || '.' || k.conname,
           k.contype::text, k.convalidated
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}"""

INDEX_TABLES = f"""
    SELECT /* migtui-trace */ t.relname
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace
    WHERE i.relname = ANY(%s) AND {USER_NS}"""

CONTYPES = {"c": "CHECK", "f": "FOREIGN KEY", "p": "PRIMARY KEY", "u": "UNIQUE",
            "x": "EXCLUSION", "t": "constraint trigger", "n": "NOT NULL"}


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str
    filenode: int
    rows: int  # reltuples; -1 when never analyzed


@dataclass
class Snapshot:
    relations: dict[int, Relation]
    indexes: dict[int, tuple[str, bool]]
    constraints: dict[int, tuple[str, str, bool]]


def locks(conn: psycopg.Connection[Any], pid: int,
          known: dict[int, Relation] | None = None) -> dict[tuple[int, str], LockHeld]:
    """The relation locks ``pid`` holds, by (relation oid, mode).

    A relation the backend dropped in its open transaction has no catalog row any more (for
    it); ``known`` (a snapshot from before) names it. Others without a name are left out.
    """
    out: dict[tuple[int, str], LockHeld] = {}
    for oid, mode, name, kind in conn.execute(LOCKS, (pid,)).fetchall():
        if name is None:
            rel = (known or {}).get(int(oid))
            if rel is None:
                continue
            name, kind = rel.name, rel.kind
        out[(int(oid), mode)] = LockHeld(mode_name(mode), name, KINDS.get(kind, kind))
    return out


def index_tables(conn: psycopg.Connection[Any], names: set[str]) -> set[str]:
    """The (bare) names of the tables the indexes among ``names`` belong to."""
    return {r[0] for r in conn.execute(INDEX_TABLES, (sorted(names),)).fetchall()}


def snapshot(conn: psycopg.Connection[Any]) -> Snapshot:
    rels = {int(o): Relation(n, KINDS.get(k, k), int(f), int(r))
            for o, n, k, f, r in conn.execute(RELATIONS).fetchall()}
    idx = {int(o): (n, bool(v)) for o, n, v in conn.execute(INDEXES).fetchall()}
    cons = {int(o): (n, CONTYPES.get(t, t), bool(v))
            for o, n, t, v in conn.execute(CONSTRAINTS).fetchall()}
    return Snapshot(rels, idx, cons)


def rewritten(before: Snapshot, after: Snapshot) -> list[str]:
    """Relations that existed before and have a new data file (relfilenode) now."""
    out = []
    for oid, rel in before.relations.items():
        now = after.relations.get(oid)
        if now is not None and now.filenode != rel.filenode and rel.filenode != 0:
            out.append(f"{rel.kind} {now.name}")
    return sorted(out)


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """Tables, indexes and constraints added, dropped, or whose validity changed."""
    out: list[str] = []
    for oid, rel in after.relations.items():
        if oid not in before.relations and rel.kind in ("table", "partitioned table",
                                                        "materialized view"):
            out.append(f"{rel.kind} {rel.name} created")
    for oid, rel in before.relations.items():
        if oid not in after.relations and rel.kind in ("table", "partitioned table",
                                                       "materialized view"):
            out.append(f"{rel.kind} {rel.name} dropped")
    for oid, (name, valid) in after.indexes.items():
        old = before.indexes.get(oid)
        if old is None:
            out.append(f"index {name} added" + ("" if valid else " (INVALID)"))
        elif old[1] != valid:
            out.append(f"index {name} became {'valid' if valid else 'INVALID'}")
    for oid, (name, _valid) in before.indexes.items():
        if oid not in after.indexes:
            out.append(f"index {name} dropped")
    for oid, (name, kind, valid) in after.constraints.items():
        old_c = before.constraints.get(oid)
        if old_c is None:
            out.append(f"{kind} {name} added" + ("" if valid else " NOT VALID"))
        elif old_c[2] != valid:
            out.append(f"{kind} {name} {'validated' if valid else 'became NOT VALID'}")
    for oid, (name, kind, _valid) in before.constraints.items():
        if oid not in after.constraints:
            out.append(f"{kind} {name} dropped")
    return out
