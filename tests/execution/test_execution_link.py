"""Issue 15 item 2 in the core: a lost database is seen (since when, how many tries), the
sampler backs off between reconnection tries, and a good sample ends the loss."""

from __future__ import annotations

import datetime as dt
import socket

from migtui.execution.link import Link
from migtui.plan import load_plan_text
from migtui.sampler import Sampler, Snapshot
from tests.runner_helpers import plan_text

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def snap(s: int, *, error: str | None = None, unreachable: bool = False) -> Snapshot:
    return Snapshot(taken_at=T0 + dt.timedelta(seconds=s), mono=float(s), elapsed=1.0,
                    duration=0.0, error=error, unreachable=unreachable)


def test_a_loss_says_since_when_and_counts_tries_until_a_good_sample() -> None:
    link = Link()
    assert not link.observe(snap(0))
    assert link.last_ok == T0 and link.text(str) == ""
    assert link.observe(snap(4, error="server closed the connection", unreachable=True))
    assert not link.observe(snap(6, error="connection refused", unreachable=True))
    assert link.lost and link.tries == 2
    hms = lambda at: at.strftime("%H:%M:%S")  # noqa: E731
    assert link.text(hms) == "connection lost since 03:00:04, reconnecting (try 2)"
    assert link.age(T0 + dt.timedelta(seconds=42)) == 42.0  # the last good sample's age
    assert link.observe(snap(50))
    assert not link.lost and link.tries == 0 and link.text(hms) == ""


def test_a_failed_query_is_not_a_lost_connection() -> None:
    link = Link()
    assert not link.observe(snap(1, error="permission denied for pg_stat_statements"))
    assert not link.lost


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sampler_marks_a_dead_server_unreachable_and_backs_off() -> None:
    plan = load_plan_text(plan_text("- {id: a, sql: SELECT 1;, rollback: SELECT 1;}"))
    sampler = Sampler(plan, f"postgresql://postgres@127.0.0.1:{free_port()}/none",
                      interval=1.0)
    try:
        got = sampler.sample_once()
        assert got.error and got.unreachable
        delays = []
        for n in range(0, 8):
            sampler.failures = n
            delays.append(sampler.next_delay())
        assert delays[0] == 1.0 and delays[1] == 1.0 and delays[2] == 2.0 and delays[3] == 4.0
        assert delays == sorted(delays) and max(delays) <= 15.0
    finally:
        sampler.stop(timeout=1)


def test_a_server_never_reached_is_not_a_lost_connection() -> None:
    """The drive by hand: an app opened on a server that was down said "connection lost
    since …" and "LOST — ago" for a connection that never was."""
    link = Link()
    assert link.observe(snap(4, error="connection refused", unreachable=True))
    link.observe(snap(6, error="connection refused", unreachable=True))
    hms = lambda at: at.strftime("%H:%M:%S")  # noqa: E731
    assert link.text(hms) == "database not reached since 03:00:04, trying again (try 2)"
    assert link.age(T0) is None  # no sample to be old
    assert link.observe(snap(9)) and link.text(hms) == ""
