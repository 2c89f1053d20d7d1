"""The cleanup after a failed CREATE INDEX CONCURRENTLY is bounded (issue 12, item 8).

A failed concurrent build leaves an INVALID index, which the runner drops with
``DROP INDEX CONCURRENTLY``. That drop waits for every transaction using the table: behind
an idle-in-transaction session it would wait forever. It runs under the step's lock timeout
and retries, is reported, and when it cannot finish the step fails with an instruction;
the next run drops the leftover first.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from migtui.events import NoteAdded, StepFailed
from migtui.runner import Runner
from tests.runner_helpers import history, make_plan, one, q

SETTINGS = """
lock_timeout: 200ms
retries: 2
retry_base: 50ms
retry_max: 100ms
"""
STEP = """
- id: idx
  sql: CREATE INDEX CONCURRENTLY items_c_idx ON items (c);
  rollback: DROP INDEX CONCURRENTLY IF EXISTS items_c_idx;
"""


def make_items(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, c int)")
        c.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g")


def idle_writer(url: str) -> tuple[psycopg.Connection, int]:
    """An application session that wrote to items and went idle in its transaction."""
    conn = psycopg.connect(url)
    conn.execute("UPDATE items SET c = c WHERE id = 1")
    return conn, conn.info.backend_pid


def apply_bounded(plan: Any, url: str, events: list[Any]) -> Any:
    """Apply in a thread; None if it did not end within a minute (it hangs)."""
    result: list[Any] = []

    def run() -> None:
        with Runner(plan, url, emit=events.append) as r:
            result.append(r.apply())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout=60)
    return result[0] if result else None


def invalid_indexes(url: str) -> list[str]:
    return [r for (r,) in q(url, "SELECT indexrelid::regclass::text FROM pg_index "
                                 "WHERE NOT indisvalid")]


def test_cleanup_behind_an_idle_transaction_fails_in_bounded_time_with_an_instruction(
        db_url: str) -> None:
    make_items(db_url)
    plan = make_plan(STEP, settings=SETTINGS)
    holder, pid = idle_writer(db_url)
    events: list[Any] = []
    try:
        out = apply_bounded(plan, db_url, events)
        assert out is not None, "the step did not end: the cleanup waits behind the session"
    finally:
        holder.rollback()
        holder.close()
    assert out.status == "failed" and out.failed_step == "idx"
    msg = out.message
    assert "INVALID index public.items_c_idx" in msg, msg
    assert "DROP INDEX CONCURRENTLY public.items_c_idx" in msg, msg
    assert f"pid {pid}" in msg and "idle in transaction" in msg, msg
    notes = [e.text for e in events if isinstance(e, NoteAdded)]
    assert any("dropping the INVALID index public.items_c_idx" in n for n in notes), notes
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert len(failed) == 1 and "INVALID" in failed[0].error
    # the failure is recorded and the index is left, as the message says, never silently
    assert history(db_url)[-1][:3] == ("idx", "apply", "failed")
    assert invalid_indexes(db_url) == ["items_c_idx"]

    # the session is gone now: the next run drops the leftover first, then builds
    events.clear()
    out = apply_bounded(plan, db_url, events)
    assert out is not None and out.status == "done", out
    notes = [e.text for e in events if isinstance(e, NoteAdded)]
    assert any("dropped the INVALID index public.items_c_idx" in n for n in notes), notes
    assert invalid_indexes(db_url) == []
    assert one(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = "
                       "'items_c_idx'::regclass") is True


def test_a_resume_while_the_session_is_still_there_gives_the_same_instruction(
        db_url: str) -> None:
    make_items(db_url)
    plan = make_plan(STEP, settings=SETTINGS)
    holder, pid = idle_writer(db_url)
    try:
        first = apply_bounded(plan, db_url, [])
        assert first is not None and first.status == "failed"
        events: list[Any] = []
        again = apply_bounded(plan, db_url, events)
        assert again is not None, "the resume's cleanup hangs"
    finally:
        holder.rollback()
        holder.close()
    assert again.status == "failed", again
    assert "DROP INDEX CONCURRENTLY public.items_c_idx" in again.message
    assert f"pid {pid}" in again.message
    assert "already exists" not in again.message
    assert invalid_indexes(db_url) == ["items_c_idx"]


def test_a_cleanup_that_can_finish_still_lets_the_build_retry(db_url: str) -> None:
    """A writer that commits soon: the build times out, the cleanup drops the INVALID
    index, the retry builds it (the behaviour before, kept)."""
    make_items(db_url)
    plan = make_plan(STEP, settings="""
        lock_timeout: 200ms
        retries: 10
        retry_base: 100ms
        retry_max: 300ms
    """)
    holder, _pid = idle_writer(db_url)
    events: list[Any] = []
    result: list[Any] = []

    def run() -> None:
        with Runner(plan, db_url, emit=events.append) as r:
            result.append(r.apply())

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        for _ in range(200):  # until the first build attempt has timed out
            if any(isinstance(e, NoteAdded) and "dropping" in e.text for e in events):
                break
            time.sleep(0.05)
    finally:
        holder.rollback()
        holder.close()
    t.join(timeout=60)
    assert result and result[0].status == "done", result
    assert invalid_indexes(db_url) == []
