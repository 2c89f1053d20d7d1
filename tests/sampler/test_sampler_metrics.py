"""The sampler on a real PostgreSQL: each gauge is provoked for real and read back.

Conditions are waited for with a generous deadline (a failure, never a timing claim):
nothing here asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import threading
import time

import psycopg
import pytest

from migtui.control import RunControl
from migtui.events import ThresholdChanged
from migtui.sampler import Guard, Sampler, Snapshot
from tests.sampler.live import DEADLINE, Events, background, live_plan, running, wait_until


def test_one_sample_measures_every_gauge(shop_db, pg_admin_url):
    plan = live_plan(probes=["SELECT count(*) FROM orders WHERE customer_id = 42"],
                     smoke=["SELECT 1 FROM orders LIMIT 1"],
                     integrity=[{"name": "no negative totals",
                                 "sql": "SELECT count(*) FROM orders WHERE total_cents < 0",
                                 "expect": "= 0"}],
                     triggers=[{"metric": "latency", "above": "+50%"}])
    s = Sampler(plan, shop_db, interval=0.25, rate_window=0.5)
    first = s.sample_once()

    def traffic(stop: threading.Event) -> None:
        with psycopg.connect(shop_db, autocommit=True, application_name="app") as c:
            while not stop.is_set():
                c.execute("SELECT 1")
                time.sleep(0.01)

    with background(traffic):  # counters reach pg_stat_database about once a second
        snap = wait_until(lambda: (x := s.sample_once()).tps and x, "transactions counted")
    s.stop()
    assert first.error is None and snap.error is None, snap.error
    assert first.elapsed is None and snap.elapsed is not None and snap.elapsed > 0
    assert snap.probes_run == 1 and snap.probe_failures == 0
    assert snap.latency_p50 is not None and snap.latency_p95 is not None
    assert snap.latency_p50 <= snap.latency_p95
    assert snap.error_rate == 0.0
    assert snap.backends is not None and snap.backends >= 1
    assert snap.max_connections is not None and snap.pool_pct is not None
    assert snap.pool_pct == pytest.approx(100 * snap.backends / snap.max_connections)
    # the test server is local (socket or loopback): the data directory's filesystem
    assert snap.disk_source == "filesystem" and snap.disk_pct is not None
    assert 0 < snap.disk_pct <= 100
    assert snap.database_size is not None and snap.database_size > 0
    assert snap.lock_waiters == 0 and snap.longest_wait == 0
    assert (snap.smoke_failures, snap.integrity_failures) == (0, 0)
    assert "relative thresholds inactive: no baseline" in snap.notes
    with psycopg.connect(shop_db) as c:
        preloaded = "pg_stat_statements" in str(
            c.execute("SHOW shared_preload_libraries").fetchone())
    if not preloaded:
        # said once, inside the note of what it costs (not again on its own)
        said = [n for n in snap.notes if "pg_stat_statements not installed" in n]
        assert said and "pg_stat_statements not installed" not in snap.notes, snap.notes
        assert snap.statement_mean is None


def test_statement_mean_from_pg_stat_statements_when_present(shop_db):
    with psycopg.connect(shop_db, autocommit=True) as c:
        if "pg_stat_statements" not in str(c.execute("SHOW shared_preload_libraries").fetchone()):
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            s = Sampler(live_plan(), shop_db)
            snap = s.sample_once()
            s.stop()
            assert any("not loaded" in n for n in snap.notes), snap.notes
            return
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        s = Sampler(live_plan(), shop_db, rate_window=0.1, check_every=2)
        alone = [s.sample_once() for _ in range(5)]
        assert alone[-1].statement_mean is None  # the sampler's own reads are excluded
        for _ in range(20):
            c.execute("SELECT count(*) FROM orders o JOIN order_items i ON i.order_id = o.id")
        time.sleep(0.2)
        snap = s.sample_once()
        s.stop()
    assert not any("pg_stat_statements" in n for n in snap.notes), snap.notes
    assert snap.statement_mean is not None and snap.statement_mean > 0


def test_a_sample_never_raises_and_reconnects(shop_db, pg_admin_url):
    plan = live_plan(smoke=["SELECT 1"])
    s = Sampler(plan, shop_db)
    assert s.sample_once().error is None
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'migtui-sampler' AND datname = current_database()"
                      " OR (application_name = 'migtui-sampler' AND datname = %s)",
                      (shop_db.rsplit("/", 1)[-1].split("?")[0],))
    broken = s.sample_once()
    assert broken.error is not None
    assert broken.smoke_failures == 1  # an unreachable database breaks critical functionality
    again = s.sample_once()
    s.stop()
    assert again.error is None and again.smoke_failures == 0

    bad = Sampler(plan, shop_db.replace("/migtui_t", "/no_such_db_"))
    snap = bad.sample_once()
    assert snap.error is not None and "no_such_db_" in snap.error


def test_samples_never_overlap_and_history_feeds_sparklines(shop_db):
    # the probe takes longer than the interval: the next sample waits for it
    plan = live_plan(probes=["SELECT pg_sleep(0.3)"])
    got: list[Snapshot] = []
    s = Sampler(plan, shop_db, interval=0.25, on_snapshot=got.append)
    with running(s):
        wait_until(lambda: len(got) >= 4, "four samples")
    snaps = list(got)
    for prev, nxt in zip(snaps, snaps[1:], strict=False):
        assert nxt.seq == prev.seq + 1
        assert nxt.mono - nxt.duration >= prev.mono  # started after the previous ended
    assert s.latest is not None and s.latest.seq >= snaps[-1].seq
    hist = s.history("latency", 600)
    assert len(hist) >= 4 and all(v >= 0.3 for v in hist)
    assert s.history("backends", 600)


def test_slow_probes_trip_latency_against_the_baseline(shop_db):
    plan = live_plan(probes=["SELECT count(*) FROM orders"],
                     triggers=[{"metric": "latency", "above": "+50%", "for": "1s",
                                "policy": "offer"}])
    events = Events()
    trips: list[ThresholdChanged] = []
    s = Sampler(plan, shop_db, interval=0.25, window=3.0)
    g = Guard(plan, emit=events, on_trip=trips.append)
    s.on_snapshot = g.observe
    with running(s):
        baseline = s.capture_baseline(1.0, emit=events)
        g.baseline = baseline
        assert baseline.median("latency") is not None
        assert any(type(e).__name__ == "BaselineRecorded" for e in events.items)
        assert g.states["latency"].state == "ok"

        def hold_locks(stop: threading.Event) -> None:  # the load: probes queue behind it
            with psycopg.connect(shop_db, application_name="locker") as c:
                while not stop.is_set():
                    with c.transaction():
                        c.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
                        stop.wait(0.4)
                    time.sleep(0.01)

        with background(hold_locks):
            wait_until(lambda: trips, "a latency trip")
    ev = trips[0]
    assert ev.metric == "latency" and ev.state == "trip" and ev.threshold == "+50%"
    assert ev.baseline == pytest.approx(baseline.median("latency"))
    assert ev.value is not None and ev.limit is not None and ev.value > ev.limit


def test_failing_transactions_trip_the_error_rate(shop_db):
    plan = live_plan(triggers=[{"metric": "error_rate", "above": "20%", "for": "1s",
                                "policy": "rollback"}])
    control = RunControl()
    events = Events()
    s = Sampler(plan, shop_db, interval=0.25, rate_window=1.0)
    s.on_snapshot = Guard(plan, emit=events, control=control).observe

    def fail_half(stop: threading.Event) -> None:
        with psycopg.connect(shop_db, autocommit=True, application_name="app") as c:
            while not stop.is_set():
                c.execute("SELECT count(*) FROM customers")
                with contextlib.suppress(psycopg.errors.DivisionByZero):
                    c.execute("SELECT 1 / 0")
                time.sleep(0.002)

    with running(s), background(fail_half):
        wait_until(lambda: control.rollback_requested, "the error-rate trip")
    assert events.changes("error_rate")[0] == "trip"
    assert "Error Rate" in control.rollback_reason
    assert s.latest is not None and s.latest.rollbacks


def test_held_connections_trip_the_pool_and_release_recovers(shop_db):
    s = Sampler(live_plan(), shop_db, interval=0.25)
    before = s.sample_once()
    s.stop()
    assert before.pool_pct is not None and before.max_connections is not None
    per_conn = 100.0 / before.max_connections
    limit = before.pool_pct + 5.5 * per_conn  # six more backends cross it
    plan = live_plan(triggers=[{"metric": "connection_pool", "above": f"{limit:.3f}%",
                                "for": "0.5s"}])
    events = Events()
    s = Sampler(plan, shop_db, interval=0.25)
    g = Guard(plan, emit=events, recovery=0.5)
    s.on_snapshot = g.observe
    held = [psycopg.connect(shop_db, application_name="pool-hog") for _ in range(10)]
    try:
        with running(s):
            wait_until(lambda: g.states["connection_pool"].state == "trip", "the pool trip")
            for c in held:
                c.close()
            wait_until(lambda: g.states["connection_pool"].state == "ok", "pool recovery")
    finally:
        for c in held:
            c.close()
    assert events.changes("connection_pool") == ["trip", "ok"]


def test_a_lock_holder_is_named_by_pid_application_and_query(shop_db):
    plan = live_plan(alerts=[{"metric": "lock_waits", "alert": "300ms", "for": "0.5s"}])
    control = RunControl()
    s = Sampler(plan, shop_db, interval=0.25)
    g = Guard(plan, control=control)
    s.on_snapshot = g.observe
    holder = psycopg.connect(shop_db, application_name="holder-app")
    holder.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
    holder_pid = holder.info.backend_pid
    waiter_pid: list[int] = []

    def wait_on_lock(stop: threading.Event) -> None:
        with psycopg.connect(shop_db, autocommit=True, application_name="waiter-app") as c:
            waiter_pid.append(c.info.backend_pid)
            c.execute("SELECT count(*) /* waiting */ FROM customers")

    try:
        with running(s), background(wait_on_lock):
            snap = s.wait_for(lambda x: bool(x.lock_waits), DEADLINE)
            assert snap is not None, "no lock wait seen"
            wait_until(lambda: g.states["lock_waits"].state == "warn", "the lock-wait warn")
            assert control.throttle_factor < 1 and "Lock Waits" in control.throttle_reason
            holder.rollback()
            wait_until(lambda: g.states["lock_waits"].state == "ok", "lock-wait recovery")
            assert control.throttle_factor == 1.0
    finally:
        holder.close()
    wait = snap.lock_waits[0]
    assert snap.lock_waiters == 1
    assert wait.waiter.pid == waiter_pid[0]
    assert wait.waiter.application_name == "waiter-app"
    assert "/* waiting */" in wait.waiter.query
    assert [b.pid for b in wait.blockers] == [holder_pid]
    assert wait.blockers[0].application_name == "holder-app"
    assert "LOCK TABLE customers" in wait.blockers[0].query
    assert wait.blockers[0].state == "idle in transaction"
    assert snap.longest_wait == wait.seconds


def test_broken_smoke_queries_and_corrupt_data_trip(shop_db):
    plan = live_plan(
        smoke=["SELECT 1 FROM orders LIMIT 1"],
        integrity=[{"name": "no negative totals",
                    "sql": "SELECT count(*) FROM orders WHERE total_cents < 0", "expect": "= 0"}],
        triggers=[{"text": "Critical functionality broken", "metric": "smoke", "above": 0,
                   "for": "0s"},
                  {"text": "Data corruption detected", "metric": "integrity", "above": 0,
                   "for": "0s"}])
    events = Events()
    s = Sampler(plan, shop_db, interval=0.25, check_every=2)
    g = Guard(plan, emit=events)
    s.on_snapshot = g.observe
    with psycopg.connect(shop_db, autocommit=True) as c, running(s):
        s.wait_for(lambda x: x.smoke_failures == 0 and x.integrity_failures == 0, DEADLINE)
        c.execute("UPDATE orders SET total_cents = -1 WHERE id = 7")
        wait_until(lambda: g.states["integrity"].state == "trip", "the integrity trip")
        c.execute("ALTER TABLE orders RENAME TO orders_gone")
        wait_until(lambda: g.states["smoke"].state == "trip", "the smoke trip")
        snap = s.latest
    assert snap is not None
    reasons = {f.name: f.reason for f in snap.failures}
    assert "does not exist" in reasons["SELECT 1 FROM orders LIMIT 1"]
    assert events.changes("integrity")[0] == "trip"
    assert [e.trigger for e in events.items if isinstance(e, ThresholdChanged)][:2] == [
        "Data corruption detected", "Critical functionality broken"]


def test_disk_against_the_target_capacity_and_growth(shop_db):
    probe = Sampler(live_plan(), shop_db, local_disk=False)
    first = probe.sample_once()
    probe.stop()
    assert first.disk_pct is None and first.disk_source == ""
    assert any("disk_capacity" in n for n in first.notes), first.notes
    assert first.database_size is not None
    capacity = first.database_size * 4  # the database fills a quarter of it
    plan = live_plan(target={"disk_capacity": f"{capacity}B"},
                     triggers=[{"metric": "disk", "above": "20%", "for": "0s"}])
    s = Sampler(plan, shop_db, check_every=1, local_disk=False)
    g = Guard(plan)
    snap = s.sample_once()
    g.observe(snap)
    assert snap.disk_source == "capacity"
    assert snap.disk_pct == pytest.approx(100 * snap.database_size / capacity)
    assert g.states["disk"].state == "trip"
    with psycopg.connect(shop_db, autocommit=True) as c:
        c.execute("CREATE TABLE ballast AS SELECT g AS id, repeat('x', 200) AS pad "
                  "FROM generate_series(1, 20000) g")
    grown = s.sample_once()
    s.stop()
    assert grown.disk_growth is not None and grown.disk_growth > 4_000_000


@pytest.mark.parametrize(("text", "size"), [
    ("500GB", 500 * 1024**3), ("1.5 TB", int(1.5 * 1024**4)), ("800MB", 800 * 1024**2),
    ("64kB", 64 * 1024), ("4096", 4096), ("10G", 10 * 1024**3)])
def test_capacity_sizes(text, size):
    from migtui.sampler.collect import parse_size

    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "5 XB", "-1GB", "GB"])
def test_bad_capacity_sizes_are_refused(text):
    from migtui.sampler.collect import parse_size

    with pytest.raises(ValueError, match="expected a size such as 500GB"):
        parse_size(text)


def test_a_server_never_reached_breaks_no_smoke_query():
    """The drive by hand: an app opened on a server that was down tripped "Critical
    functionality broken" with nothing applied, and the trip went into the report."""
    plan = live_plan(smoke=["SELECT 1"])
    s = Sampler(plan, "postgresql://postgres@127.0.0.1:1/nowhere")
    snap = s.sample_once()
    s.stop()
    assert snap.error is not None and snap.unreachable
    assert snap.smoke_failures is None  # unknown, not failing
