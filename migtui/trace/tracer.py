"""The Tracer: called by the runner around every statement of a traced run.

Transactional statements are read from inside their own transaction, after they ran and
before the commit: the locks the backend holds that the statement took first, relations
with a new data file, indexes and constraints that appeared, went or changed validity. A
lock is held until the transaction ends, so its time is measured from the statement's start
to the commit. A statement that cannot run in a transaction (``CREATE INDEX
CONCURRENTLY``...) is watched from a second connection that samples ``pg_locks`` for the
working backend every few milliseconds while it runs: short-lived locks between two samples
are missed (docs/trace.md says what else a trace cannot see).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from pglast import ast

from migtui.lint import Finding
from migtui.sql import Statement, relation_names
from migtui.trace import catalog
from migtui.trace.compare import judge
from migtui.trace.model import LockHeld, StatementTrace

SAMPLE_INTERVAL = 0.0005  # seconds between pg_locks samples: a concurrent build on a small table lasts a few ms


class Tracer:
    def __init__(self, dsn: str, findings: list[Finding] | None = None) -> None:
        self.dsn = dsn
        self.findings = findings or []
        self.traces: list[StatementTrace] = []
        self._pending: list[tuple[StatementTrace, float]] = []  # this transaction's
        self._before: catalog.Snapshot | None = None
        self._locks_before: dict[tuple[int, str], LockHeld] = {}
        self._named: set[str] = set()
        self._current: StatementTrace | None = None
        self._started = 0.0
        self._sampler: _LockSampler | None = None
        self.created: set[str] = set()  # relations the traced run created, by name

    # ------------------------------------------------------------- the runner's hooks

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Around one attempt of a step's transaction: keep its traces only if it commits."""
        self._pending = []
        try:
            yield
        except BaseException:
            self._pending = []
            raise
        end = time.monotonic()
        for tr, started in self._pending:
            tr.held_seconds = round(end - started, 4)
            self.traces.append(tr)
        self._pending = []

    def before(self, conn: psycopg.Connection[Any], step_id: str, action: str, index: int,
               st: Statement, autocommit: bool, pid: int | None) -> None:
        which = "rollback" if action == "rollback" else "sql"
        self._current = StatementTrace(step_id=step_id, which=which, index=index, line=st.line,
                                       statement=st.text, autocommit=autocommit,
                                       predicted_lock=st.lock)
        self._before = catalog.snapshot(conn)
        self._locks_before = catalog.locks(conn, pid) if pid and not autocommit else {}
        # the relations it names, and the tables of the indexes it names (DROP INDEX ...)
        self._named = {n.rsplit(".", 1)[-1] for n in relation_names(st.node)}
        if self._locks_before and self._named:
            self._named |= catalog.index_tables(conn, self._named)
        if autocommit and pid:
            self._sampler = _LockSampler(self.dsn, pid, self._before.relations)
            self._sampler.start()
        self._started = time.monotonic()

    def after(self, conn: psycopg.Connection[Any], st: Statement, pid: int | None) -> None:
        tr, before = self._current, self._before
        if tr is None or before is None:
            return
        ended = time.monotonic()
        if self._sampler is not None:
            seen = self._sampler.stop()
            self._sampler = None
            tr.sampled = True
        else:
            seen = catalog.locks(conn, pid, before.relations) if pid else {}
            seen = {k: v for k, v in seen.items() if k not in self._locks_before}
        after = catalog.snapshot(conn)
        # a relation the statement created is nobody else's yet: its locks cost nothing
        tr.locks = sorted({lk for (oid, _m), lk in seen.items() if oid in before.relations},
                          key=lambda lk: (lk.relation, lk.mode))
        tr.held_before = sorted({lk for lk in self._locks_before.values()
                                 if lk.relation.rsplit(".", 1)[-1] in self._named},
                                key=lambda lk: (lk.relation, lk.mode))
        tr.rewritten = catalog.rewritten(before, after)
        tr.changes = catalog.changes(before, after)
        if isinstance(st.node, ast.TruncateStmt):
            # TRUNCATE gives each table an empty new data file: nothing is copied
            tr.changes += [f"{r} emptied" for r in tr.rewritten if r.startswith("table ")]
            tr.rewritten = [r for r in tr.rewritten if not r.startswith(("table ", "index "))]
        judge(tr, st, self.findings, before, self.created)
        self.created |= {r.name for oid, r in after.relations.items()
                         if oid not in before.relations}
        top = tr.strongest
        rel = next((r for r in before.relations.values() if top and r.name == top.relation),
                   None)
        tr.rows = rel.rows if rel is not None and rel.rows >= 0 else None
        self._current = None
        if tr.autocommit:
            tr.held_seconds = round(ended - self._started, 4)
            self.traces.append(tr)
        else:
            self._pending.append((tr, self._started))

    def failed(self) -> None:
        """The statement raised: stop sampling, keep nothing of it."""
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        self._current = None


class _LockSampler(threading.Thread):
    """Samples the relation locks of one backend from a connection of its own."""

    def __init__(self, dsn: str, pid: int, known: dict[int, catalog.Relation]) -> None:
        super().__init__(name="migtui-trace", daemon=True)
        self.dsn, self.pid, self.known = dsn, pid, known
        self.seen: dict[tuple[int, str], LockHeld] = {}
        self._halt = threading.Event()
        self._ready = threading.Event()
        self.error: str | None = None

    def start(self) -> None:
        super().start()
        self._ready.wait(5)

    def run(self) -> None:
        from migtui.runner.conn import connect
        from migtui.runner.errors import RunnerError

        try:
            with connect(self.dsn, application_name="migtui-trace") as conn:
                conn.autocommit = True
                self.seen.update(catalog.locks(conn, self.pid, self.known))
                self._ready.set()
                while not self._halt.is_set():
                    self.seen.update(catalog.locks(conn, self.pid, self.known))
                    self._halt.wait(SAMPLE_INTERVAL)
        except (psycopg.Error, RunnerError) as e:
            self.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        finally:
            self._ready.set()

    def stop(self) -> dict[tuple[int, str], LockHeld]:
        self._halt.set()
        self.join(5)
        return self.seen
