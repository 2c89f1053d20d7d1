"""The lint's lock table held to the trace: every corpus statement run on real PostgreSQL.

Each statement of each entry of tests/lint_corpus (unsafe and safe forms, and the rollback
when an entry has one) runs traced on a real schema (see corpus_runner). The lock the lint
predicts (``migtui.sql.lock_mode``) and whether a finding says it rewrites the table must
match what the statement really took and did.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql as psql

from migtui.lint import TableSizes
from tests.trace.corpus_runner import (
    Entry,
    EntryRun,
    entries,
    make_template,
    needs_copy,
    run_entry,
    with_db,
)

# Known gaps: (entry id, statement) -> why the trace and the lint differ. Empty: none left.
ALLOWED: dict[tuple[str, str], str] = {}

# Entries that cannot run as written, and why (checked exactly: a new one must be explained).
NOT_RUN = {
    # the rule's very point: PostgreSQL refuses CONCURRENTLY in a transaction block (25001)
    "concurrently-in-transaction-unsafe0": "explicit transaction block",
    "concurrently-in-transaction-unsafe1": "explicit transaction block",
    "concurrently-in-transaction-unsafe2": "explicit transaction block",
    # pinned to an older server: the prediction is for that version, not the one under test
    "add-column-volatile-default-unsafe4": "PostgreSQL 10",
    "add-column-volatile-default-safe4": "PostgreSQL 10",
    "reindex-not-concurrent-unsafe2": "PostgreSQL 11",
    "set-not-null-unsafe2": "PostgreSQL 11",
}



@pytest.fixture(scope="module")
def runs(pg_admin_url: str) -> Iterator[list[EntryRun]]:
    template = f"migtui_corpus_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    shared = template + "_w"
    sizes = TableSizes.read(make_template(pg_admin_url, template))
    with psycopg.connect(pg_admin_url, autocommit=True) as adm:
        adm.execute(psql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            psql.Identifier(shared), psql.Identifier(template)))
    def run(e: Entry) -> EntryRun:
        return run_entry(e, with_db(pg_admin_url, shared), pg_admin_url, template, sizes)

    try:
        # entries on a fresh copy of the template in parallel (creating and dropping a
        # database is mostly waiting); the others in turn, each rolled back, on one copy
        with ThreadPoolExecutor(4) as pool:
            copied = pool.map(run, [e for e in entries() if needs_copy(e)])
            in_turn = [run(e) for e in entries() if not needs_copy(e)]
            yield in_turn + list(copied)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as adm:
            for name in (shared, template):
                adm.execute(psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    psql.Identifier(name)))


def test_every_statement_that_ran_agrees_with_the_lint(runs: list[EntryRun]) -> None:
    wrong = []
    seen_allowed = set()
    for run in runs:
        for o in run.outcomes:
            if o.trace is None or not o.trace.disagreements:
                continue
            if (o.entry, o.statement) in ALLOWED:
                seen_allowed.add((o.entry, o.statement))
                continue
            wrong.append(f"{o.entry}: {o.statement}: {'; '.join(o.trace.disagreements)} "
                         f"(took {[str(lk) for lk in o.trace.locks]}, "
                         f"rewrote {o.trace.rewritten})")
    assert not wrong, "\n".join(wrong)
    assert seen_allowed == set(ALLOWED), "an allowed gap no longer shows: remove it"


def test_nearly_every_corpus_statement_ran(runs: list[EntryRun]) -> None:
    refused = {r.entry.id for r in runs if r.refused}
    failed = [f"{o.entry}: {o.statement}: {o.error}" for r in runs for o in r.outcomes
              if o.error and not (r.entry.data.get("fails") and r.entry.data["fails"] in o.error)]
    assert not failed, "\n".join(failed)
    # an entry marked `fails: <error>` is the rule's claim that PostgreSQL refuses it
    for r in runs:
        if r.entry.data.get("fails"):
            assert any(r.entry.data["fails"] in o.error for o in r.outcomes), r.entry.id
    # entries pinned to another PostgreSQL version than the server's are refused by design
    pinned_elsewhere = {r.entry.id for r in runs if r.refused.startswith("written for PostgreSQL")}
    assert refused - pinned_elsewhere == set(NOT_RUN) - pinned_elsewhere
    for r in runs:
        if r.refused:
            assert (r.entry.id in pinned_elsewhere or NOT_RUN[r.entry.id] in r.refused
                    or "transaction block" in r.refused)
    ran = sum(1 for r in runs for o in r.outcomes if o.ran)
    assert ran >= 150
    assert len(refused) <= 0.1 * len(runs)


def test_the_trace_saw_what_the_corpus_is_about(runs: list[EntryRun]) -> None:
    """Spot checks that the runs are real: the locks and rewrites the rules are about."""
    by = {(o.entry, o.statement): o.trace for r in runs for o in r.outcomes if o.trace}
    cic = by[("index-not-concurrent-safe0",
              "CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status)")]
    assert cic is not None and cic.sampled
    assert cic.strongest is not None and cic.strongest.mode == "SHARE UPDATE EXCLUSIVE"
    vf = by[("vacuum-full-unsafe0", "VACUUM FULL orders")]
    assert vf is not None and "table public.orders" in vf.rewritten
    tr = by[("truncate-cascade-unsafe0", "TRUNCATE customers CASCADE")]
    assert tr is not None and "table public.orders emptied" in tr.changes
    assert tr.rewritten == []
    # a lock the transaction already held is not taken again, and agrees
    sn = by[("set-not-null-safe3", "ALTER TABLE tags ALTER COLUMN name SET NOT NULL")]
    assert sn is not None and sn.locks == [] and sn.agrees
    assert [lk.mode for lk in sn.held_before] == ["ACCESS EXCLUSIVE"]
