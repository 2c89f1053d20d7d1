"""app_latency: the application's own mean per call from pg_stat_statements deltas."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from migtui.plan.model import Metric
from migtui.sampler.snapshot import Snapshot
from tests.conftest import _with_db
from tests.gauge_helpers import plan, probe


@pytest.fixture
def app_db(replicated) -> Iterator[str]:
    """A database on the embedded primary (pg_stat_statements preloaded), with the
    extension and a table of 200k rows indexed on k."""
    primary, _standby = replicated
    name = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(primary.uri(), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(primary.uri(), name)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE EXTENSION pg_stat_statements")
        c.execute("CREATE TABLE items AS SELECT g AS id, g % 50000 AS k, md5(g::text) AS v "
                  "FROM generate_series(1, 200000) g")
        c.execute("CREATE INDEX items_k ON items (k)")
        c.execute("ANALYZE items")
    try:
        yield url
    finally:
        with psycopg.connect(primary.uri(), autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@contextlib.contextmanager
def traffic(url: str, application_name: str, query: str, pause: float = 0.0
            ) -> Iterator[None]:
    """A connection running ``query`` (with one int parameter) in a loop, in a thread."""
    stop = threading.Event()

    def run() -> None:
        with psycopg.connect(url, autocommit=True, application_name=application_name) as c:
            i = 0
            while not stop.is_set():
                i += 1
                with contextlib.suppress(psycopg.Error):
                    c.execute(query, (i % 50000,)).fetchall()  # type: ignore[call-overload]
                if pause:
                    time.sleep(pause)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(30)


APP_QUERY = "SELECT id, v FROM items WHERE k = %s"


@pytest.mark.embedded_only
def test_app_latency_rises_under_a_real_degradation(app_db: str) -> None:
    with probe(app_db, rate_window=2.0) as p, traffic(app_db, "shop-api", APP_QUERY):
        before = p.until(lambda s: s.app_latency is not None and (s.app_calls or 0) > 50,
                         "the application measured")
        assert not any("app_latency" in n for n in before.notes), before.notes
        p.collector.readers.app.risers_every = 1  # per-statement means read every sample
        healthy = [p.until(lambda s: s.app_latency is not None, "a sample").app_latency
                   for _ in range(5)]
        with psycopg.connect(app_db, autocommit=True) as c:
            c.execute("DROP INDEX items_k")  # every lookup is now a sequential scan
        worst = max(healthy)

        def degraded(s: Snapshot) -> bool:
            return s.app_latency is not None and s.app_latency > 3 * worst

        snap = p.until(degraded, "app_latency up after the index went", pause=0.3)
        assert snap.metric(Metric.app_latency) == snap.app_latency
        # the statements whose mean rose most name the degraded lookup
        snap = p.until(lambda s: bool(s.app_risers), "a riser named")
        top = snap.app_risers[0]
        assert "FROM items WHERE k = $1" in top.query
        assert top.mean_now > top.mean_before and top.calls > 0


@pytest.mark.embedded_only
def test_a_statement_first_run_after_sampling_began_can_be_named_a_riser(app_db: str) -> None:
    with probe(app_db, rate_window=2.0) as p:
        p.collector.readers.app.risers_every = 1
        p.sample()  # the reference means are read before the application runs the lookup
        with traffic(app_db, "shop-api", APP_QUERY):
            p.until(lambda s: (s.app_calls or 0) > 50, "the application measured")
            p.sample()  # its mean so far becomes its reference
            with psycopg.connect(app_db, autocommit=True) as c:
                c.execute("DROP INDEX items_k")
            snap = p.until(lambda s: any("FROM items WHERE k = $1" in r.query
                                         for r in s.app_risers), "the lookup named a riser")
    top = snap.app_risers[0]
    assert top.mean_now > top.mean_before


@pytest.mark.embedded_only
def test_app_latency_ignores_migtuis_own_statements(app_db: str) -> None:
    slow_smoke = "SELECT count(*) FROM items, pg_sleep(0.05)"
    the_plan = plan(smoke=[slow_smoke])
    with probe(app_db, the_plan, rate_window=2.0, check_every=1) as p, \
            traffic(app_db, "migtui", "SELECT pg_sleep(0.02 + %s * 0)"), \
            traffic(app_db, "migtui-backfill", "UPDATE items SET v = v WHERE k = %s"):
        snaps = [p.sample() for _ in range(3)]
        for _ in range(15):
            time.sleep(0.2)
            snaps.append(p.sample())
        # only migtui ran: the runner-like sessions, the smoke query, the sampler's reads
        assert all(s.app_latency is None for s in snaps[3:]), [
            (s.app_latency, s.app_calls) for s in snaps]
        with traffic(app_db, "shop-api", APP_QUERY, pause=0.005):
            snap = p.until(lambda s: (s.app_calls or 0) > 20, "the application measured")
        assert snap.app_latency is not None and snap.app_latency < 0.02  # pg_sleep(0.02) left out


def test_without_pg_stat_statements_the_gauge_says_why_once(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("DROP EXTENSION IF EXISTS pg_stat_statements")
    with probe(db_url) as p:
        snaps = [p.sample() for _ in range(3)]
    for s in snaps:
        assert s.app_latency is None
        notes = [n for n in s.notes if n.startswith("app_latency")]
        assert notes == ["app_latency inactive: pg_stat_statements not installed "
                         "(CREATE EXTENSION pg_stat_statements); probes remain the latency "
                         "source"], s.notes


def test_installed_but_not_preloaded_says_so(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as c:
        if "pg_stat_statements" in str(c.execute("SHOW shared_preload_libraries").fetchone()):
            pytest.skip("this server preloads pg_stat_statements")
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with probe(db_url) as p:
        snap = p.sample()
    assert snap.app_latency is None and snap.error is None
    assert ("app_latency inactive: pg_stat_statements installed but not loaded "
            "(shared_preload_libraries); probes remain the latency source") in snap.notes
