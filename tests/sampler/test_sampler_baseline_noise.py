"""The baseline as a distribution, its staleness, and where probe latency is timed.

The live tests read back what a real sampler measured; nothing asserts a duration.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest

from migtui.journal import Journal, read_journal
from migtui.sampler import Baseline, Sampler, Snapshot
from tests.sampler.live import live_plan, wait_until

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def snap(t: float, **values: object) -> Snapshot:
    return Snapshot(taken_at=T0 + dt.timedelta(seconds=t), mono=1000.0 + t, elapsed=1.0,
                    duration=0.0, **values)  # type: ignore[arg-type]


def test_a_baseline_records_median_spread_count_and_timing(tmp_path):
    values = [0.002, 0.0021, 0.0019, 0.002, 0.0022, 0.050]  # one outlier
    snaps = [snap(i, latency_p95=v, latency_source="server" if i else "client", tps=80.0)
             for i, v in enumerate(values)]
    base = Baseline.from_snapshots(snaps, 6)
    assert base.median("latency") == pytest.approx(0.00205)
    assert base.mad("latency") == pytest.approx(0.0001)  # the outlier does not inflate it
    assert base.samples("latency") == 6
    assert base.latency_source == "server"  # 5 of 6 rounds
    with Journal(tmp_path / "j.jsonl") as j:
        j.record(base.to_event())
    again = Baseline.from_journal_records(read_journal(tmp_path / "j.jsonl"))
    assert again is not None and again.metrics == base.metrics
    assert again.recorded_at is not None and again.recorded_at.tzinfo is not None
    assert again.staleness(again.recorded_at + dt.timedelta(seconds=5), 80.0, "server") is None


def test_staleness_names_age_load_and_timing():
    base = Baseline(30, {"latency": {"median": 0.002, "p95": 0.003, "mad": 0.0001,
                                     "server": 1.0},
                         "tps": {"median": 108.0, "p95": 110.0, "mad": 2.0}}, recorded_at=T0)
    at = T0 + dt.timedelta(minutes=3)
    assert base.staleness(at, 100.0, "server") is None
    assert base.staleness(at, 180.0, "server") is None  # more load, not clearly other
    assert base.staleness(at, 12.0, "server") == (
        "baseline stale: taken 3 min ago at 108 tps, now 12 tps — capture a new one")
    assert base.staleness(T0 + dt.timedelta(minutes=25), 108.0, "server") == (
        "baseline stale: taken 25 min ago at 108 tps, now 108 tps — capture a new one")
    assert "timed on the server then, on the client now" in (
        base.staleness(at, 108.0, "client") or "")
    idle = Baseline(30, {"tps": {"median": 4.0, "p95": 5.0, "mad": 1.0}}, recorded_at=T0)
    assert idle.staleness(at, 11.0) is None  # an idle database's noise, not another load
    assert Baseline(30, {}).staleness(at, 500.0) is None  # nothing to judge by


def test_without_pg_stat_statements_probes_are_timed_on_the_client_and_say_so(db_url):
    with psycopg.connect(db_url, autocommit=True) as c:
        loaded = c.execute("SELECT count(*) FROM pg_extension "
                           "WHERE extname = 'pg_stat_statements'").fetchone()
        if loaded and loaded[0]:
            c.execute("DROP EXTENSION pg_stat_statements")
    s = Sampler(live_plan(probes=["SELECT 1", "SELECT pg_sleep(0.01)"]), db_url, interval=0.25)
    snaps = [s.sample_once() for _ in range(3)]
    s.stop()
    assert all(x.error is None for x in snaps), snaps[-1].error
    last = snaps[-1]
    assert last.latency_source == "client"
    assert last.probe_times == last.probe_client_times and len(last.probe_times) == 2
    assert any(n.startswith("latency timed client-side: pg_stat_statements")
               for n in last.notes), last.notes
    assert last.latency_samples == 3 and last.latency_min_samples == 4


@pytest.mark.embedded_only
def test_with_pg_stat_statements_probes_are_timed_on_the_server(shop_db):
    with psycopg.connect(shop_db, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    plan = live_plan(probes=["SELECT id FROM orders WHERE customer_id = 42 LIMIT 20",
                             "SELECT pg_sleep(0.02)"])
    s = Sampler(plan, shop_db, interval=0.25)
    try:
        snaps = [s.sample_once() for _ in range(4)]
        assert all(x.error is None for x in snaps), snaps[-1].error
        last = snaps[-1]
        assert last.latency_source == "server", last.notes
        assert not any("client-side" in n for n in last.notes), last.notes
        # the server's execution time: the sleep is in it, the round trip is not
        assert last.probe_times[1] >= 0.02
        assert all(srv <= cli for srv, cli in zip(last.probe_times, last.probe_client_times,
                                                  strict=True))
        # a probe stuck behind a lock: the wait is not execution time, but it counts
        stop = threading.Event()
        locked = threading.Event()

        def hold() -> None:
            with psycopg.connect(shop_db) as c, c.transaction():
                c.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
                locked.set()
                stop.wait(0.6)

        t = threading.Thread(target=hold)
        t.start()
        wait_until(locked.is_set, "the lock")
        blocked = s.sample_once()
        stop.set()
        t.join()
        assert blocked.latency_source == "client"
        assert blocked.probe_times[0] == blocked.probe_client_times[0] > 0.1
        time.sleep(0.05)
        assert s.sample_once().latency_source == "server"
    finally:
        s.stop()
