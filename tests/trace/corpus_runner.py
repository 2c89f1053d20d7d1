"""Run the lint corpus (tests/lint_corpus) on a real schema with every statement traced.

A template database holds the shop schema (migtui.demo.data) with a few rows, plus the
columns and tables the corpus mentions. An entry that only runs in transactions is traced
in one transaction on a shared copy and rolled back; an entry with a statement that cannot
run in a transaction block (``CREATE INDEX CONCURRENTLY``, ``VACUUM``) gets a fresh copy
(``CREATE DATABASE ... TEMPLATE``), transactional statements each in a transaction of its own.

An entry may set ``given:`` (SQL run untraced first, e.g. the index a ``DROP INDEX`` drops)
when the statements need something the base schema cannot hold for every entry at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml
from pglast import ast
from psycopg import sql as psql

from migtui.lint import TableSizes, lint_plan
from migtui.sql import Statement, split
from migtui.trace import Tracer
from migtui.trace.model import StatementTrace
from tests.lint_helpers import plan_with

CORPUS = Path(__file__).resolve().parents[1] / "lint_corpus"

# What the corpus mentions beyond the demo's shop: orders.status (filled, so SET NOT NULL
# succeeds), ref, tags, a; the legacy tables; a view; the `fresh` table entries declare new.
EXTRAS = """
ALTER TABLE orders ADD COLUMN status text, ADD COLUMN ref text, ADD COLUMN tags text[],
                   ADD COLUMN a int, ADD COLUMN discount numeric(10,2);
UPDATE orders SET status = CASE WHEN shipped_at IS NULL THEN 'pending' ELSE 'shipped' END,
                  ref = 'R' || id, tags = ARRAY['t' || (id % 7)], a = id % 100;
ALTER TABLE customers ALTER COLUMN full_name TYPE varchar(200),
                      ALTER COLUMN email TYPE varchar(255);
CREATE TABLE legacy_orders (id bigint PRIMARY KEY, note text);
CREATE TABLE legacy_items (id bigint PRIMARY KEY, legacy_order_id bigint);
INSERT INTO legacy_orders SELECT g, 'n' FROM generate_series(1, 50) g;
CREATE VIEW order_totals AS SELECT id FROM customers;  -- on a column no entry changes
CREATE TABLE fresh (a int);
VACUUM ANALYZE;
"""


def make_template(admin_url: str, name: str) -> str:
    """Create database ``name`` with the corpus schema; returns its URL."""
    from migtui.demo.data import create_shop

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
    url = with_db(admin_url, name)
    create_shop(url, customers=200, orders=20_000)  # big enough that a CIC outlasts a lock sample
    with psycopg.connect(url, autocommit=True) as conn:
        for st in split(EXTRAS):
            conn.execute(st.text)
    return url


def with_db(url: str, dbname: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(url), "dbname": dbname})


@dataclass
class Entry:
    id: str  # e.g. set-not-null-unsafe2
    rule: str
    data: dict[str, Any]


@dataclass
class Outcome:
    entry: str
    statement: str
    trace: StatementTrace | None = None
    error: str = ""  # why it could not run

    @property
    def ran(self) -> bool:
        return self.trace is not None


@dataclass
class EntryRun:
    entry: Entry
    outcomes: list[Outcome] = field(default_factory=list)
    refused: str = ""  # the whole entry could not run


def entries() -> list[Entry]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for kind in ("unsafe", "safe"):
            for i, e in enumerate(data[kind]):
                d = {"sql": e} if isinstance(e, str) else dict(e)
                if data.get("given"):
                    d.setdefault("given", data["given"])
                out.append(Entry(f"{data['rule']}-{kind}{i}", data["rule"], d))
    return out


def _statements(text: str | None) -> list[Statement]:
    return [] if not text else split(text)


def _steps(entry: Entry) -> list[tuple[str, list[Statement]]]:
    """('sql', statements), then ('rollback', statements) unless the rollback is a no-op."""
    out = [("sql", _statements(entry.data.get("sql")))]
    rb = entry.data.get("rollback")
    if rb and rb.strip().rstrip(";").upper() != "SELECT 1":
        out.append(("rollback", _statements(rb)))
    return out


def _short(text: str) -> str:
    return " ".join(text.split())


_copies = itertools.count()


def needs_copy(entry: Entry) -> bool:
    """A fresh database: an autocommit statement, or a ``given`` committed first."""
    return bool(entry.data.get("given")) or any(
        st.autocommit for _w, sts in _steps(entry) for st in sts)


def run_entry(entry: Entry, shared_url: str, admin_url: str, template: str,
              sizes: TableSizes) -> EntryRun:
    """Trace ``entry``; the lint reads the real schema (``sizes``: old column types...)."""
    server_version = sizes.server_version or 0
    result = EntryRun(entry)
    pinned = entry.data.get("server_version")
    if pinned and pinned // 10000 != server_version // 10000:
        result.refused = (f"written for PostgreSQL {pinned // 10000}: the lint's prediction "
                          f"is for that version, the server is {server_version // 10000}")
        return result
    steps = _steps(entry)
    stmts = [st for _w, sts in steps for st in sts]
    if any(isinstance(st.node, ast.TransactionStmt) for st in stmts):
        if _autocommit_in_block(stmts):
            result.refused = ("an explicit transaction block around a statement that cannot "
                              "run in one: PostgreSQL refuses it (25001), migtui refuses to "
                              "run it (the rule's point)")
            return result
        steps = [(w, [st for st in sts if not isinstance(st.node, ast.TransactionStmt)])
                 for w, sts in steps]
    data = entry.data
    findings = lint_plan(plan_with({k: data[k] for k in ("sql", "rollback", "irreversible")
                                    if k in data}, new_tables=data.get("new_tables")),
                         sizes, server_version=data.get("server_version"))
    tracer = Tracer(shared_url, findings)
    if needs_copy(entry):
        # committed first, so the given's own locks are not the traced statements'
        name = f"{template}_c{next(_copies)}"
        with psycopg.connect(admin_url, autocommit=True) as adm:
            adm.execute(psql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                psql.Identifier(name), psql.Identifier(template)))
        url = with_db(admin_url, name)
        tracer.dsn = url
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                _given(conn, data)
                result.outcomes = list(_run_in_copy(conn, tracer, entry, steps))
        finally:
            with psycopg.connect(admin_url, autocommit=True) as adm:
                adm.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psql.Identifier(name)))
    else:
        with psycopg.connect(shared_url) as conn:
            result.outcomes = _run_rolled_back(conn, tracer, entry, steps)
    return result


def _autocommit_in_block(stmts: list[Statement]) -> bool:
    from pglast.enums import TransactionStmtKind as K

    open_ = False
    for st in stmts:
        if isinstance(st.node, ast.TransactionStmt):
            open_ = st.node.kind in (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START) or (
                open_ and st.node.kind not in (K.TRANS_STMT_COMMIT, K.TRANS_STMT_ROLLBACK))
        elif st.autocommit and open_:
            return True
    return False


def _given(conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
    for st in _statements(data.get("given")):
        conn.execute(st.text)


def _run_rolled_back(conn: psycopg.Connection[Any], tracer: Tracer, entry: Entry,
                     steps: list[tuple[str, list[Statement]]]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    pid = conn.info.backend_pid
    with tracer.transaction(), conn.transaction(force_rollback=True):
        failed = ""
        for which, sts in steps:
            for i, st in enumerate(sts):
                if failed:
                    outcomes.append(Outcome(entry.id, _short(st.text), error=failed))
                    continue
                tracer.before(conn, "s1", "rollback" if which == "rollback" else "apply", i,
                              st, False, pid)
                try:
                    conn.execute(st.text)
                except psycopg.Error as e:
                    tracer.failed()
                    failed = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    outcomes.append(Outcome(entry.id, _short(st.text), error=failed))
                    failed = "an earlier statement failed: " + failed
                    continue
                tracer.after(conn, st, pid)
                outcomes.append(Outcome(entry.id, _short(st.text)))
    traces = iter(tracer.traces)
    for o in outcomes:
        if not o.error:
            o.trace = next(traces)
    return outcomes


def _groups(sts: list[Statement]) -> list[list[Statement]]:
    """As the runner runs them: an autocommit statement alone, the others in one transaction."""
    out: list[list[Statement]] = []
    for st in sts:
        if st.autocommit or not out or out[-1][0].autocommit:
            out.append([st])
        else:
            out[-1].append(st)
    return out


def _run_in_copy(conn: psycopg.Connection[Any], tracer: Tracer, entry: Entry,
                 steps: list[tuple[str, list[Statement]]]) -> Iterator[Outcome]:
    pid = conn.info.backend_pid
    failed = ""
    for which, sts in steps:
        action = "rollback" if which == "rollback" else "apply"
        index = iter(range(len(sts)))
        for group in _groups(sts):
            outs = [Outcome(entry.id, _short(st.text)) for st in group]
            if failed:
                for o in outs:
                    o.error = failed
                yield from outs
                continue
            n = len(tracer.traces)
            current = outs[0]
            try:
                if group[0].autocommit:
                    tracer.before(conn, "s1", action, next(index), group[0], True, pid)
                    conn.execute(group[0].text)
                    tracer.after(conn, group[0], pid)
                else:
                    with tracer.transaction(), conn.transaction():
                        for st, o in zip(group, outs, strict=True):
                            current = o
                            tracer.before(conn, "s1", action, next(index), st, False, pid)
                            conn.execute(st.text)
                            tracer.after(conn, st, pid)
            except psycopg.Error as e:
                tracer.failed()
                current.error = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                failed = "an earlier statement failed: " + current.error
                for o in outs:
                    o.error = o.error or failed
            else:
                for o, tr in zip(outs, tracer.traces[n:], strict=True):
                    o.trace = tr
            yield from outs
