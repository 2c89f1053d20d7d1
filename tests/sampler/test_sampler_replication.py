"""replication_lag, slot_retained and wal_rate against a real streaming standby."""

from __future__ import annotations

import psycopg
import pytest

from migtui.embedded import EmbeddedPostgres
from migtui.plan.model import Metric
from migtui.sampler import Guard
from migtui.sampler.snapshot import MEGABYTE, Snapshot, format_value
from migtui.standby import EmbeddedStandby
from tests.gauge_helpers import plan, probe

pytestmark = pytest.mark.embedded_only

Pair = tuple[EmbeddedPostgres, EmbeddedStandby]


def write_wal(url: str, megabytes: int) -> None:
    """At least ``megabytes`` of WAL (logged inserts of incompressible-ish rows)."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS wal_filler (v text)")
        c.execute("INSERT INTO wal_filler SELECT repeat(md5(g::text), 32) "
                  "FROM generate_series(1, %s) g", (megabytes * 1024,))


def mine(snap: Snapshot, standby: EmbeddedStandby):
    return [s for s in snap.standbys if s.name.startswith(standby.application_name)]


def test_lag_of_a_streaming_standby_and_bytes_behind_while_replay_pauses(
        replicated: Pair) -> None:
    primary, standby = replicated
    with probe(primary.uri()) as p, psycopg.connect(standby.uri(), autocommit=True) as sb:
        snap = p.until(lambda s: mine(s, standby), "the standby listed")
        (row,) = mine(snap, standby)
        assert row.state == "streaming"
        assert snap.replication_lag is not None and snap.replication_lag >= 0
        sb.execute("SELECT pg_wal_replay_pause()")
        try:
            write_wal(primary.uri(), 2)
            snap = p.until(lambda s: (s.replication_bytes or 0) >= 2 * MEGABYTE,
                           "the paused standby 2 MB behind")
            assert mine(snap, standby)[0].bytes_behind >= 2 * MEGABYTE
        finally:
            sb.execute("SELECT pg_wal_replay_resume()")
        p.until(lambda s: s.replication_bytes == 0, "the standby caught up")


def test_an_idle_primary_reads_lag_zero_not_missing(replicated: Pair) -> None:
    primary, standby = replicated
    with psycopg.connect(primary.uri(), autocommit=True) as c:
        c.execute("CHECKPOINT")  # nothing left to replay; the lag columns then go NULL
    with probe(primary.uri()) as p, psycopg.connect(primary.uri(), autocommit=True) as c:
        def idle(s: Snapshot) -> bool:
            row = c.execute("SELECT replay_lag FROM pg_stat_replication "
                            "WHERE application_name = %s", (standby.application_name,)
                            ).fetchone()
            return row is not None and row[0] is None and bool(mine(s, standby))
        snap = p.until(idle, "the lag columns NULL on an idle primary", timeout=60,
                       pause=0.5)
        (row,) = mine(snap, standby)
        assert row.state == "streaming" and row.replay_lag == 0.0
        assert snap.replication_lag == 0.0
        assert snap.metric(Metric.replication_lag) == 0.0


def test_a_standby_that_disconnects_is_gone_not_lag_zero(replicated: Pair) -> None:
    primary, standby = replicated
    with probe(primary.uri()) as p:
        p.until(lambda s: mine(s, standby), "the standby listed")
        standby.stop()
        try:
            snap = p.until(lambda s: any(x.state == "gone" for x in mine(s, standby)),
                           "the standby gone")
            (row,) = mine(snap, standby)
            assert row.replay_lag is None and row.bytes_behind is None
            assert snap.replication_lag is None  # not measured: never lag 0
            assert any(n.startswith("standby gone: ") for n in snap.notes), snap.notes
        finally:
            standby.start()
            standby.wait_streaming()
        snap = p.until(lambda s: [x.state for x in mine(s, standby)] == ["streaming"],
                       "the standby back")
        assert not any(n.startswith("standby gone") for n in snap.notes)


@pytest.mark.parametrize("kind", ["physical", "logical"])
def test_an_unconsumed_slot_raises_the_slot_gauge_and_trips(replicated: Pair,
                                                             kind: str) -> None:
    primary, _standby = replicated
    name = f"t_{kind}_slot"
    the_plan = plan()
    with psycopg.connect(primary.uri(), autocommit=True) as c:
        if kind == "physical":
            c.execute("SELECT pg_create_physical_replication_slot(%s, true)", (name,))
        else:
            c.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
        try:
            with probe(primary.uri(), the_plan) as p:
                snap = p.sample()
                (slot,) = [s for s in snap.slots if s.name == name]
                assert slot.slot_type == kind and not slot.active
                before = slot.retained or 0
                # the gauge is the most WAL any slot holds back: the standby's own slot may
                # already hold some after earlier tests, so the limit sits 3 MB above it
                held = (snap.slot_retained_bytes or 0) / MEGABYTE
                guard = Guard(plan(triggers=[{"metric": "slot_retained", "above": int(held) + 3,
                                              "for": "0s", "policy": "pause"}]))
                guard.observe(snap)
                assert guard.states["slot_retained"].state == "ok"
                write_wal(primary.uri(), 4)
                snap = p.sample()
                (slot,) = [s for s in snap.slots if s.name == name]
                assert slot.retained is not None and slot.retained >= before + 4 * MEGABYTE
                assert snap.slot_retained_bytes is not None
                assert snap.slot_retained_bytes >= slot.retained
                guard.observe(snap)
                assert guard.states["slot_retained"].state == "trip"
                assert format_value(Metric.slot_retained, snap.metric("slot_retained")
                                    ).endswith(" MB")
        finally:
            c.execute("SELECT pg_drop_replication_slot(%s)", (name,))


def test_wal_rate_is_the_bytes_written_over_measured_time(replicated: Pair) -> None:
    primary, _standby = replicated
    with probe(primary.uri(), rate_window=600.0) as p:
        first = p.sample()
        write_wal(primary.uri(), 3)
        second = p.sample()
        assert first.wal_bytes_per_sec is None  # one position: no rate yet
        assert second.wal_bytes_per_sec is not None
        assert second.wal_bytes_per_sec * (second.mono - first.mono) >= 3 * MEGABYTE
        assert second.metric(Metric.wal_rate) == second.wal_bytes_per_sec / MEGABYTE
