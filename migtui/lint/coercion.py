"""Which column type changes rewrite the table, and which PostgreSQL does in place.

``ALTER COLUMN ... TYPE`` keeps the table's data file when the new type is binary-coercible
from the old and no length or precision gets narrower; it then only changes the catalog
(under a brief ACCESS EXCLUSIVE). Every pair below was measured with the tracer on
PostgreSQL 15 (the relation's relfilenode before and after; tests/trace/test_type_changes.py
runs them again). Anything not listed is taken to rewrite.

  no rewrite                                      rewrite
  varchar(n) -> varchar(m >= n), varchar, text    varchar(n) -> varchar(m < n), char(n)
  text -> varchar (no limit)                      text -> varchar(n)
  numeric(p, s) -> numeric(p2 >= p, s), numeric   numeric(p, s) -> numeric(p2, s2 != s)
  varbit(n) -> varbit(m >= n), bit(n) -> varbit   numeric -> numeric(p, s)
  timestamp[tz]/time[tz]/interval(p) -> (q >= p)  int -> bigint, int -> text, char(n) -> *
  cidr -> inet                                    text -> bytea, json -> jsonb
"""

from __future__ import annotations

from typing import Any

import pglast
from pglast import ast

# the canonical name (pg_type.typname) of the aliases a TypeName may carry
_ALIASES = {"int": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2",
            "decimal": "numeric", "character varying": "varchar", "char": "bpchar",
            "character": "bpchar", "boolean": "bool", "bit varying": "varbit",
            "real": "float4", "double precision": "float8"}
# types whose typmod is an upper limit: a larger one (or none) accepts every old value as is
_LIMITED = {"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz"}
# binary-coercible pairs (pg_cast.castmethod = 'b') into a target without a limit
_BINARY = {("varchar", "text"), ("text", "varchar"), ("cidr", "inet"), ("bit", "varbit")}

Type = tuple[str, tuple[int, ...], bool]  # (typname, typmods, is an array)


def parse_type(text: str) -> Any:
    """The TypeName node of a type as written, e.g. ``character varying(255)``; None when
    the text is no type name."""
    try:
        (raw,) = pglast.parse_sql(f"SELECT NULL::{text}")
        return raw.stmt.targetList[0].val.typeName
    except (pglast.parser.ParseError, ValueError, AttributeError):
        return None


def _norm(tn: Any) -> Type | None:
    names = [str(getattr(n, "sval", n)).lower() for n in tn.names or ()]
    if not names:
        return None
    base = _ALIASES.get(names[-1], names[-1])
    mods: list[int] = []
    for m in tn.typmods or ():
        val = getattr(m, "val", None)
        if not isinstance(m, ast.A_Const) or not isinstance(val, ast.Integer):
            return None  # an expression or a string typmod: not judged
        mods.append(int(val.ival))
    if base == "numeric" and len(mods) == 1:
        mods.append(0)  # numeric(p) is numeric(p, 0)
    return base, tuple(mods), bool(tn.arrayBounds)


def type_change_rewrites(old: Any, new: Any) -> bool:
    """True unless changing a column from TypeName ``old`` to ``new`` keeps the data file."""
    if old is None or new is None:
        return True
    a, b = _norm(old), _norm(new)
    if a is None or b is None:
        return True
    if a == b:
        return False
    (ta, ma, arr_a), (tb, mb, arr_b) = a, b
    if arr_a or arr_b:
        return True
    if (ta, tb) in _BINARY and not mb:
        return False
    if ta != tb:
        return True
    if not mb:
        return ta not in _LIMITED and ta not in ("numeric", "interval")
    if ta in _LIMITED:
        return not (len(ma) == len(mb) == 1 and mb[0] >= ma[0])
    if ta == "numeric":
        return not (len(ma) == len(mb) == 2 and mb[1] == ma[1] and mb[0] >= ma[0])
    return True
