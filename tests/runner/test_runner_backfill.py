"""Backfills: keyset batches, progress, pause/throttle, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from migtui.control import RunControl
from migtui.events import NoteAdded, StepPaused, StepProgress, StepResumed
from migtui.runner import Runner
from tests.runner_helpers import make_plan, one, plan_text, q, wait_until

REPO = Path(__file__).resolve().parents[2]

COUNTER_STEPS = """
- id: bump
  backfill:
    table: items
    key: id
    set: "n = n + 1"
    batch_size: 100
    min_batch: 100
    max_batch: 100
    sleep: {sleep}
  rollback: UPDATE items SET n = 0
"""


def make_items(url: str, rows: int) -> None:
    # gaps in the key (every third id) prove batches follow keys, not offsets
    q(url, "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)")
    q(url, "INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, %s) g", (rows,))
    q(url, "ANALYZE items")


def test_backfill_batches_progress_and_history(db_url: str) -> None:
    make_items(db_url, 1000)
    plan = make_plan(COUNTER_STEPS.format(sleep="0s"))
    events: list = []
    with Runner(plan, db_url, emit=events.append) as r:
        out = r.apply()
    assert out.status == "done", out.message
    assert q(db_url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 1000)]
    prog = [e for e in events if isinstance(e, StepProgress)]
    assert len(prog) == 10 and prog[-1].done == 1000 and prog[-1].total == 1000
    assert all(p.batch_size == 100 for p in prog) and prog[-1].eta == 0
    assert one(db_url, "SELECT rows FROM migtui.history WHERE step_id = 'bump'") == 1000
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_backfill_adapts_batch_size_to_the_target(db_url: str) -> None:
    make_items(db_url, 20000)
    plan = make_plan("""
        - id: bump
          backfill: {table: items, key: id, set: "n = n + 1", batch_size: 100, min_batch: 50,
                     max_batch: 100000, target: 10s}
          rollback: UPDATE items SET n = 0
    """)
    events: list = []
    with Runner(plan, db_url, emit=events.append) as r:
        assert r.apply().status == "done"
    sizes = [e.batch_size for e in events if isinstance(e, StepProgress)]
    # far below a 10 s target, each batch may at most double the next
    assert sizes[:4] == [100, 200, 400, 800]
    assert q(db_url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 20000)]


def test_backfill_pause_and_throttle_between_batches(db_url: str) -> None:
    make_items(db_url, 600)
    plan = make_plan(COUNTER_STEPS.format(sleep="50ms"))
    control = RunControl()
    events: list = []
    paused_at: list[int] = []

    def emit(e: object) -> None:
        events.append(e)
        if isinstance(e, StepProgress) and e.done == 200:
            control.throttle(0.5, "latency warn")
            control.pause("operator pause")
        if isinstance(e, StepPaused):
            paused_at.append(one(db_url, "SELECT count(*) FROM items WHERE n = 1"))
            threading.Timer(0.2, control.resume).start()

    with Runner(plan, db_url, emit=emit, control=control) as r:
        assert r.apply().status == "done"
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("StepPaused") < kinds.index("StepResumed")
    assert paused_at == [200]  # nothing ran while paused
    prog = [e for e in events if isinstance(e, StepProgress)]
    assert [p.throttled for p in prog if p.done > 200][0] == "latency warn"
    assert {p.batch_size for p in prog if p.done > 200} == {100}  # min_batch floor
    assert any(isinstance(e, StepResumed) for e in events)
    assert q(db_url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 600)]


def test_killed_mid_backfill_resumes_from_the_last_key(db_url: str, tmp_path: Path) -> None:
    make_items(db_url, 3000)
    plan_file = tmp_path / "bump.yaml"
    plan_file.write_text(plan_text(COUNTER_STEPS.format(sleep="30ms")))
    env = {**os.environ, "MIGTUI_TEST_TARGET_URL": db_url, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "migtui", "run", str(plan_file)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: (one(db_url, "SELECT coalesce(max(rows_done), 0) FROM "
                                               "migtui.progress") if one(
            db_url, "SELECT to_regclass('migtui.progress') IS NOT NULL") else 0) >= 500)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    last_key, done = q(db_url, "SELECT last_key, rows_done FROM migtui.progress")[0]
    # the progress row committed with its batch: exactly the rows up to the key are done
    assert q(db_url, "SELECT n, count(*) FROM items WHERE id <= %s GROUP BY n",
             (int(last_key),)) == [(1, done)]
    assert one(db_url, "SELECT count(*) FROM items WHERE id > %s AND n <> 0",
               (int(last_key),)) == 0
    assert done < 3000

    events: list = []
    plan = make_plan(COUNTER_STEPS.format(sleep="0s"))
    with Runner(plan, db_url, emit=events.append) as r:
        assert r.status()[0].state == "pending"
        out = r.apply()
    assert out.status == "done", out.message
    notes = [e.text for e in events if isinstance(e, NoteAdded)]
    assert any(f"resuming after key {last_key}" in n for n in notes)
    first = next(e for e in events if isinstance(e, StepProgress))
    assert first.done == done + 100
    assert q(db_url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 3000)]  # none twice
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_rollback_undoes_a_partial_backfill(db_url: str) -> None:
    make_items(db_url, 500)
    plan = make_plan(COUNTER_STEPS.format(sleep="0s"))
    control = RunControl()

    def emit(e: object) -> None:
        if isinstance(e, StepProgress) and e.done == 200:
            control.cancel("stop half way")

    with Runner(plan, db_url, emit=emit, control=control) as r:
        assert r.apply().status == "cancelled"
        assert one(db_url, "SELECT count(*) FROM items WHERE n = 1") == 200
        assert r.status()[0].state == "failed"
        assert r.rollback().status == "rolled_back"
    assert one(db_url, "SELECT count(*) FROM items WHERE n <> 0") == 0
    assert one(db_url, "SELECT count(*) FROM migtui.progress") == 0


def test_backfill_on_a_missing_table_is_a_clear_failure(db_url: str) -> None:
    plan = make_plan(COUNTER_STEPS.format(sleep="0s"))
    with Runner(plan, db_url) as r:
        out = r.apply()
    assert out.status == "failed" and "backfill table 'items' does not exist" in out.message


def make_people(url: str, rows: int) -> None:
    q(url, "CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL, lname text, "
           "status text, n int, created_at timestamptz NOT NULL DEFAULT now() - interval '1 day')")
    q(url, "INSERT INTO people (id, name, status) SELECT g, 'Name ' || g, "
           "CASE WHEN g %% 4 = 0 THEN 'done' END FROM generate_series(1, %s) g", (rows,))
    q(url, "ANALYZE people")


def test_legit_fragments_update_each_matching_row_once(db_url: str) -> None:
    make_people(db_url, 10_000)
    plan = make_plan("""
        - id: fill
          backfill:
            table: people
            set: "n = coalesce(n, 0) + 1, lname = lower(name)"
            where: "status IS NULL AND created_at < now()"
            batch_size: 1000
            min_batch: 1000
            max_batch: 1000
          rollback: UPDATE people SET n = NULL, lname = NULL
    """)
    with Runner(plan, db_url) as r:
        out = r.apply()
    assert out.status == "done", out.message
    assert q(db_url, "SELECT status, n, count(*) FROM people GROUP BY 1, 2 ORDER BY 1") == [
        ("done", None, 2500), (None, 1, 7500)]
    assert one(db_url, "SELECT count(*) FROM people WHERE lname = lower(name)") == 7500
    assert one(db_url, "SELECT rows FROM migtui.history WHERE step_id = 'fill'") == 7500


def test_the_runner_never_embeds_a_fragment_as_written(db_url: str) -> None:
    """Even a plan changed after validation: the batch statement is built from the parse
    tree, so an escaping ``where`` is refused instead of updating the table every batch."""
    make_people(db_url, 2000)
    plan = make_plan("""
        - id: fill
          backfill: {table: people, set: "n = coalesce(n, 0) + 1", where: "status IS NULL",
                     batch_size: 100, min_batch: 100, max_batch: 100}
          rollback: UPDATE people SET n = NULL
    """)
    bf = plan.steps[0].backfill
    assert bf is not None
    bf.where = "true) OR (true"  # assignment is not validated: only the runner stands guard
    with Runner(plan, db_url) as r:
        out = r.apply()
    assert out.status == "failed" and "expected one boolean expression" in out.message
    assert one(db_url, "SELECT count(*) FROM people WHERE n IS NOT NULL") == 0
