"""The lint's table of type changes that keep the data file, measured with the tracer."""

from __future__ import annotations

import psycopg

from migtui.lint.coercion import parse_type, type_change_rewrites
from migtui.sql import split
from migtui.trace import Tracer

VALUE = {"timestamptz": "now()", "timestamp": "localtimestamp", "time": "localtime",
         "cidr": "'10.0.0.0/8'", "bit": "B'10101'", "varbit": "B'101'", "interval": "'1 day'",
         "numeric": "12.5"}

# (old type, new type): the lint's verdict must be what PostgreSQL does
CASES = [
    ("varchar(20)", "varchar(40)"), ("varchar(20)", "varchar(10)"), ("varchar(20)", "varchar"),
    ("varchar(20)", "text"), ("text", "varchar"), ("text", "varchar(300)"),
    ("numeric(10,2)", "numeric(12,2)"), ("numeric(10,2)", "numeric"),
    ("numeric(10,2)", "numeric(12,3)"), ("numeric(10,2)", "numeric(8,2)"),
    ("numeric", "numeric(10,2)"), ("numeric(10)", "numeric(12,0)"),
    ("int", "bigint"), ("int", "text"), ("bigint", "int"), ("int", "int"),
    ("cidr", "inet"), ("char(5)", "text"), ("char(5)", "char(10)"), ("varchar(5)", "char(10)"),
    ("varbit(5)", "varbit(10)"), ("bit(5)", "varbit"), ("interval(0)", "interval"),
    ("timestamptz(3)", "timestamptz"), ("timestamptz(3)", "timestamptz(6)"),
    ("timestamptz(6)", "timestamptz(3)"), ("timestamp(0)", "timestamp"),
    ("time(0)", "time(3)"), ("text[]", "varchar[]"), ("int[]", "bigint[]"),
]


def _value(typ: str) -> str:
    base = typ.split("(")[0].rstrip("[]")
    v = VALUE.get(base, "'1'")
    return f"ARRAY[{v}]::{typ}" if typ.endswith("[]") else f"{v}::{typ}"


def test_type_change_verdicts_match_the_trace(db_url: str) -> None:
    tracer = Tracer(db_url)
    wrong = []
    with psycopg.connect(db_url) as conn:
        pid = conn.info.backend_pid
        for i, (old, new) in enumerate(CASES):
            with conn.transaction():
                conn.execute(f"CREATE TABLE t{i} (c {old}); CREATE INDEX ON t{i} (c)")
                conn.execute(f"INSERT INTO t{i} SELECT {_value(old)} FROM generate_series(1, 20)")
            # what check --dsn reads: the catalog's spelling, e.g. character varying(20)
            row = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                               "WHERE attrelid = %s::regclass AND attname = 'c'",
                               (f"t{i}",)).fetchone()
            assert row is not None
            st = split(f"ALTER TABLE t{i} ALTER COLUMN c TYPE {new}")[0]
            with tracer.transaction(), conn.transaction():
                tracer.before(conn, "s", "apply", i, st, False, pid)
                conn.execute(st.text)
                tracer.after(conn, st, pid)
            rewrote = f"table public.t{i}" in tracer.traces[-1].rewritten
            new_type = st.node.cmds[0].def_.typeName
            for spelled in (old, row[0]):
                if type_change_rewrites(parse_type(spelled), new_type) != rewrote:
                    wrong.append(f"{spelled} -> {new}: PostgreSQL "
                                 f"{'rewrote' if rewrote else 'kept the data file'}")
    assert not wrong, wrong
    # both verdicts occur: the table is no constant
    assert {"table" in " ".join(t.rewritten) for t in tracer.traces} == {True, False}
