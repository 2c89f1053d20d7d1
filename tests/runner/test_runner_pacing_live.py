"""The backfill yields on a real database: to writers blocked behind its batches, and to a
standby whose replay is paused (``pg_wal_replay_pause()``), then speeds up again.

The gauges run as in a run (a ``Watch`` feeding ``RunControl``); nothing is mocked."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from migtui.control import RunControl
from migtui.embedded import EmbeddedPostgres
from migtui.events import StepPaused, StepProgress, StepResumed, StepStarted
from migtui.runner import Runner
from migtui.runner.pacing import FULL_SPEED, LOCK_BUDGET
from migtui.standby import EmbeddedStandby
from migtui.watch import Watch
from tests.runner_helpers import make_plan, q, wait_until

Pair = tuple[EmbeddedPostgres, EmbeddedStandby]


def make_items(url: str, rows: int) -> None:
    q(url, "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0, "
           "pad text NOT NULL DEFAULT repeat('x', 200))")
    q(url, "INSERT INTO items (id) SELECT g * 3 FROM generate_series(1, %s) g", (rows,))
    q(url, "ANALYZE items")


def backfill_plan(batch: str, settings: str = ""):
    return make_plan(f"""
        - id: bump
          backfill: {{table: items, key: id, set: "n = n + 1", {batch}}}
          rollback: UPDATE items SET n = 0
    """, settings="sample_interval: 250ms\n" + settings)


def test_writers_blocked_behind_a_batch_slow_the_backfill(db_url: str) -> None:
    make_items(db_url, 3000)
    # every batch holds its row locks 300 ms (an AFTER statement trigger), while the
    # "application" keeps updating the first row of the next batch
    q(db_url, "CREATE TABLE slow (secs float8 NOT NULL)")
    q(db_url, "INSERT INTO slow VALUES (0.3)")
    q(db_url, "CREATE FUNCTION nap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              "PERFORM pg_sleep(secs) FROM slow; RETURN NULL; END $$")
    q(db_url, "CREATE TRIGGER nap AFTER UPDATE ON items FOR EACH STATEMENT "
              "EXECUTE FUNCTION nap()")
    plan = backfill_plan("batch_size: 100, min_batch: 100, max_batch: 100")
    control = RunControl()
    events: list = []
    next_row = [1]
    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(db_url, autocommit=True, application_name="shop-app") as c:
            while not stop.is_set():
                c.execute("UPDATE items SET pad = pad WHERE id = %s", (3 * next_row[0],))
                time.sleep(0.01)

    def emit(e: object) -> None:
        events.append(e)
        if isinstance(e, StepProgress):
            next_row[0] = e.done + 1
            if e.limited_by.startswith("writers blocked"):
                stop.set()
                q(db_url, "UPDATE slow SET secs = 0")  # the rest runs quickly

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
    with Watch(plan, db_url, emit=lambda e: None, control=control, interval=0.25):
        assert wait_until(lambda: control.signals() is not None, tries=200)
        for t in threads:
            t.start()
        try:
            with Runner(plan, db_url, emit=emit, control=control) as r:
                assert r.apply().status == "done"
        finally:
            stop.set()
            for t in threads:
                t.join(5)
    prog = [e for e in events if isinstance(e, StepProgress)]
    hit = [p for p in prog if p.limited_by.startswith("writers blocked")]
    assert hit, [p.limited_by for p in prog]
    assert hit[0].sleep > 0 and hit[0].throttled == hit[0].limited_by
    assert q(db_url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 3000)]


@pytest.mark.embedded_only
def test_a_paused_standby_replay_throttles_the_backfill_until_it_resumes(
        replicated: Pair) -> None:
    primary, standby = replicated
    url = primary.uri()
    make_items(url, 300_000)
    plan = backfill_plan("batch_size: 1000, min_batch: 100, max_batch: 1000, sleep: 10ms",
                         "pacing: {replica_lag: 500ms}")
    control = RunControl()
    events: list = []
    state = {"resumed": False}
    sb = psycopg.connect(standby.uri(), autocommit=True)

    def emit(e: object) -> None:
        events.append(e)
        if (isinstance(e, StepProgress) and e.limited_by.startswith("replica lag")
                and not state["resumed"]):
            state["resumed"] = True
            state["at"] = len(events)
            sb.execute("SELECT pg_wal_replay_resume()")

    try:
        with Watch(plan, url, emit=lambda e: None, control=control, interval=0.25):
            assert wait_until(lambda: (s := control.signals()) is not None
                              and s.replica_lag.last_read is not None, tries=400)
            sb.execute("SELECT pg_wal_replay_pause()")
            with Runner(plan, url, emit=emit, control=control) as r:
                assert r.apply().status == "done"
    finally:
        sb.execute("SELECT pg_wal_replay_resume()")
        sb.close()
    prog = [e for e in events if isinstance(e, StepProgress)]
    assert state["resumed"], [p.limited_by for p in prog][-5:]
    limited = [p for p in prog if p.limited_by.startswith("replica lag")]
    assert limited[0].sleep > 0  # it yielded while the replay was paused
    after = [e for e in events[state["at"]:] if isinstance(e, StepProgress)]
    # after the resume, the lag falls back and the backfill runs at its full pace again
    assert any(p.limited_by in (LOCK_BUDGET, FULL_SPEED) and p.sleep == 0 for p in after), \
        [p.limited_by for p in after][-5:]
    assert q(url, "SELECT n, count(*) FROM items GROUP BY n") == [(1, 300_000)]


def test_a_silent_gauge_pauses_the_backfill_and_says_why(db_url: str) -> None:
    """Fail closed: the standby's lag was read, then no more; the backfill waits."""
    from migtui.control import PaceSignals, Reading

    make_items(db_url, 500)
    plan = backfill_plan("batch_size: 100, min_batch: 100, max_batch: 100",
                         "pacing: {stale_after: 1s}")
    control = RunControl()
    events: list = []

    def emit(e: object) -> None:
        events.append(e)
        if isinstance(e, StepStarted):  # the sampler runs; the standby was last read 3 s ago
            now = time.monotonic()
            control.publish_signals(PaceSignals(
                mono=now, seq=1, blocked=Reading(0.0, now),
                replica_lag=Reading(None, now - 3, note="standby gone: s@local")))
        if isinstance(e, StepPaused):
            t = time.monotonic()  # the standby is back
            threading.Timer(0.3, control.publish_signals, [PaceSignals(
                mono=t, seq=2, blocked=Reading(0.0, t), replica_lag=Reading(0.0, t))]).start()

    with Runner(plan, db_url, emit=emit, control=control) as r:
        assert r.apply().status == "done"
    paused = [e for e in events if isinstance(e, StepPaused)]
    assert len(paused) == 1
    assert "replica lag not read for" in paused[0].reason
    assert "standby gone: s@local" in paused[0].reason
    kinds = [type(e).__name__ for e in events]
    # nothing ran before the gauges read again
    assert kinds.index("StepResumed") < kinds.index("StepProgress")
    assert any(isinstance(e, StepResumed) for e in events)
