"""blocked_by_migtui: application backends waiting on a lock a migtui connection holds."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg

from migtui.plan.model import Metric
from migtui.sampler import Guard
from tests.gauge_helpers import plan, probe


@contextlib.contextmanager
def row_lock_held_by(url: str, application_name: str) -> Iterator[psycopg.Connection]:
    """A connection holding a row lock on accounts id 1 in an open transaction."""
    with psycopg.connect(url, application_name=application_name) as holder:
        holder.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
        try:
            yield holder
        finally:
            holder.rollback()


@contextlib.contextmanager
def waiting_update(url: str, application_name: str) -> Iterator[None]:
    """Another connection's UPDATE of the same row, waiting in a thread."""
    done = threading.Event()

    def run() -> None:
        with psycopg.connect(url, autocommit=True, application_name=application_name) as c:
            c.execute("SET lock_timeout = '60s'")
            with contextlib.suppress(psycopg.Error):
                c.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield  # the caller releases the lock inside; the update then finishes
    t.join(30)
    assert done.is_set()


def setup(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        c.execute("INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 10) g")


def test_an_application_update_waiting_on_a_batch_is_blocked_by_migtui(db_url: str) -> None:
    setup(db_url)
    the_plan = plan(metrics=[{"metric": "blocked_by_migtui", "alert": "0s", "for": "0s"}])
    guard = Guard(the_plan)
    with probe(db_url, the_plan) as p:
        quiet = p.sample()
        assert quiet.blocked_count == 0 and quiet.blocked_longest == 0.0
        with row_lock_held_by(db_url, "migtui") as holder, waiting_update(db_url, "shop-api"):
            snap = p.until(lambda s: s.blocked_count == 1, "the update blocked")
            (wait,) = snap.blocked_waits
            assert wait.waiter.application_name == "shop-api"
            assert "UPDATE accounts" in wait.waiter.query
            assert [b.pid for b in wait.blockers] == [holder.info.backend_pid]
            assert wait.blockers[0].application_name == "migtui"
            assert wait.blockers[0].state == "idle in transaction"
            snap = p.until(lambda s: (s.blocked_longest or 0) > 0, "a wait measured")
            assert snap.metric(Metric.blocked_by_migtui) == snap.blocked_longest
            guard.observe(snap)
            assert guard.states["blocked_by_migtui"].state == "warn"
            holder.rollback()
        snap = p.until(lambda s: s.blocked_count == 0, "the update through")
        assert snap.blocked_waits == ()


def test_application_blocking_application_is_not_blamed_on_migtui(db_url: str) -> None:
    setup(db_url)
    with (probe(db_url) as p, row_lock_held_by(db_url, "shop-worker") as holder,
          waiting_update(db_url, "shop-api")):
        snap = p.until(lambda s: s.lock_waiters == 1, "the update waiting")
        assert snap.blocked_count == 0 and snap.blocked_waits == ()
        holder.rollback()


def test_migtui_waiting_on_the_application_is_not_counted(db_url: str) -> None:
    setup(db_url)
    with (probe(db_url) as p, row_lock_held_by(db_url, "shop-worker") as holder,
          waiting_update(db_url, "migtui")):
        snap = p.until(lambda s: s.lock_waiters == 1, "migtui's update waiting")
        assert snap.blocked_count == 0
        holder.rollback()
