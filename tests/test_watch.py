"""The Watch (migtui.watch) on a real database: the sampler feeding the guard, the offer
of a headless run, the words of a trip, a baseline captured by a checklist item and a
watch item that fails when a rollback trigger trips while it watches.

A trip is provoked deterministically with an integrity check: the sampler runs the
plan's checks on its first sample, and an ``integrity`` trigger ``above: 0`` with
``for: 0s`` trips on the first sample that counts a failing check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from migtui.control import Cancelled, RunControl
from migtui.events import BaselineRecorded, NoteAdded, ThresholdChanged
from migtui.plan.model import Plan
from migtui.runner.errors import RunnerError
from migtui.sampler import SamplerError
from migtui.watch import Watch, has_gauges, headless_offer, trip_text
from tests.sampler.live import Events, wait_until

TRIGGER = "Data corruption detected"
INTERVAL = 0.25  # the sampler's shortest interval
DEADLINE = 30.0  # bounds a wait for something that must happen; never asserted on


def plan(*, triggers: list[dict[str, Any]] | None = None, integrity: bool = True,
         probes: list[str] | None = None) -> Plan:
    checks = [{"name": "no negative totals", "expect": "= 0",
               "sql": "SELECT count(*) FROM ledger WHERE total < 0"}] if integrity else []
    return Plan.model_validate({
        "migtui": 1, "id": "watched", "title": "t", "type": "data_migration", "agent": "me",
        "overview": [], "documentation": [],
        "risks": {"rollback_triggers": [{"text": TRIGGER, "metric": "integrity", "above": 0,
                                         "for": "0s"}] if triggers is None else triggers},
        "monitoring": {"integrity": checks, "probes": probes or []},
    })


@pytest.fixture
def ledger(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as c:
        c.execute("CREATE TABLE ledger (id serial PRIMARY KEY, total int NOT NULL)")
        c.execute("INSERT INTO ledger (total) SELECT g FROM generate_series(1, 100) g")
    return db_url


def corrupt(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("INSERT INTO ledger (total) VALUES (-1)")


class WatchedControl(RunControl):
    """A RunControl that says when someone first checks it: ``watch_for`` checks it each
    round, after it noted the trips seen so far, so what happens after ``checked`` is set
    happens during the watch."""

    def __init__(self) -> None:
        super().__init__()
        self.checked = threading.Event()

    def check(self) -> None:
        self.checked.set()
        super().check()


def once_watching(control: WatchedControl, action: Any) -> threading.Thread:
    def run() -> None:
        if control.checked.wait(DEADLINE):
            action()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.fixture
def stopping() -> Iterator[list[Watch]]:
    """Watches to stop at the end of the test, whatever happened."""
    watches: list[Watch] = []
    yield watches
    for w in watches:
        w.stop()


def make_watch(p: Plan, dsn: str, watches: list[Watch], **kw: Any) -> Watch:
    w = Watch(p, dsn, interval=INTERVAL, **kw)
    watches.append(w)
    return w


# ---------------------------------------------------------------- the headless offer


def test_auto_rollback_requests_the_rollback_once(ledger: str, stopping: list[Watch]) -> None:
    corrupt(ledger)
    control, events = RunControl(), Events()
    cancels: list[str] = []
    control.on_cancel(lambda: cancels.append(control.cancel_reason))
    w = make_watch(plan(), ledger, stopping, emit=events, control=control,
                   on_offer=headless_offer(control, events, True)).start()
    wait_until(lambda: control.rollback_requested, "the trip to request the rollback")
    trip = w.trips[0]
    assert (trip.metric, trip.state, trip.policy, trip.trigger) == (
        "integrity", "trip", "offer", TRIGGER)
    assert control.rollback_reason == trip_text(trip)
    assert cancels == [f"rollback requested: {trip_text(trip)}"]
    # offered again (another metric trips, the same one trips again): still one request
    headless_offer(control, events, True)(trip)
    w.on_offer(ThresholdChanged(metric="error_rate", state="trip", previous="ok", value=9.0,
                                threshold="5%", limit=5.0, baseline=None, since=None,
                                policy="offer", trigger="Error rate >5%"))
    assert len(cancels) == 1 and control.rollback_reason == trip_text(trip)
    assert not events.of(NoteAdded)  # a rollback, not a note
    # a watch item running meanwhile stops: the rollback request cancels it
    with pytest.raises(Cancelled, match="rollback requested"):
        w.watch_for(DEADLINE)


def test_no_auto_rollback_notes_the_offer_and_starts_nothing(
        ledger: str, stopping: list[Watch]) -> None:
    corrupt(ledger)
    control, events = RunControl(), Events()
    w = make_watch(plan(), ledger, stopping, emit=events, control=control,
                   on_offer=headless_offer(control, events, False)).start()
    wait_until(lambda: events.of(NoteAdded), "the offer's note")
    trip = w.trips[0]
    [note] = events.of(NoteAdded)
    assert note.text == ("rollback offered, not started (--no-auto-rollback): "
                         + trip_text(trip))
    assert note.author == "migtui"
    assert not control.rollback_requested and not control.cancelled
    tripped = [e for e in events.of(ThresholdChanged) if e.state == "trip"]
    assert tripped == [trip]  # the guard emitted the trip before the offer noted it
    assert events.items.index(trip) < events.items.index(note)


# ---------------------------------------------------------------- the words of a trip


def test_trip_text_formats_units_and_shows_the_baseline() -> None:
    latency = ThresholdChanged(metric="latency", state="trip", previous="warn", value=0.816,
                               threshold="+50%", limit=0.0061, baseline=0.004, since=None,
                               policy="offer", trigger="Performance degradation >50%")
    assert trip_text(latency) == ("Performance degradation >50% tripped: latency 816ms "
                                  "against limit 6.1ms (threshold +50%, baseline 4.0ms)")
    errors = ThresholdChanged(metric="error_rate", state="trip", previous="ok", value=7.25,
                              threshold="5%", limit=5.0, baseline=None, since=None)
    # no trigger text: named by its metric; no baseline: none shown
    assert trip_text(errors) == ("error_rate tripped: error_rate 7.2% against limit 5.0% "
                                 "(threshold 5%)")
    lag = ThresholdChanged(metric="replication_lag", state="trip", previous="ok", value=12.5,
                           threshold="10s", limit=10.0, baseline=0.2, since=None,
                           trigger="Replica behind")
    assert trip_text(lag) == ("Replica behind tripped: replication_lag 12.5s against "
                              "limit 10.0s (threshold 10s, baseline 200ms)")


def test_trip_text_of_a_real_trip(ledger: str, stopping: list[Watch]) -> None:
    corrupt(ledger)
    offers: list[ThresholdChanged] = []
    w = make_watch(plan(), ledger, stopping, emit=Events(), control=RunControl(),
                   on_offer=offers.append).start()
    wait_until(lambda: offers, "the trip")
    assert offers == w.trips
    assert trip_text(offers[0]) == (f"{TRIGGER} tripped: integrity 1 failing against limit "
                                    "0 failing (threshold > 0)")


# ---------------------------------------------------------------- the baseline


def test_capture_baseline_records_it_and_arms_relative_thresholds(
        ledger: str, stopping: list[Watch]) -> None:
    p = plan(integrity=False, probes=["SELECT count(*) FROM ledger"],
             triggers=[{"text": "Slower by half", "metric": "latency", "above": "+50%"}])
    assert has_gauges(p)
    events = Events()
    w = make_watch(p, ledger, stopping, emit=events, control=RunControl())
    assert w.guard.baseline is None
    assert w.guard.states["latency"].state == "inactive"  # relative, nothing to compare with
    text = w.capture_baseline(1.0)  # the sampler is not running: samples on this thread
    [rec] = events.of(BaselineRecorded)
    assert rec.seconds == 1.0
    assert w.guard.baseline is not None and w.guard.baseline is w.sampler.baseline
    assert w.guard.baseline.to_event().metrics == rec.metrics
    lat = w.guard.baseline.median("latency")
    assert lat is not None and lat > 0  # the probe was timed
    assert text == f"baseline of 1s recorded; latency p95 median {lat * 1000:.1f} ms"
    [note] = events.of(NoteAdded)
    assert note.text == "capturing the performance baseline for 1s …"
    assert events.items.index(note) < events.items.index(rec)
    # the relative trigger now has a limit from the baseline
    assert w.guard.states["latency"].state == "ok"
    assert w.guard.states["latency"].limit is not None
    assert w.guard.pace_limit("latency") is not None


def test_capture_baseline_while_the_watch_runs_and_from_the_journal(
        ledger: str, stopping: list[Watch]) -> None:
    events = Events()
    p = plan(integrity=False, triggers=[])
    w = make_watch(p, ledger, stopping, emit=events, control=RunControl()).start()
    text = w.capture_baseline(0.75)  # idle database: the running sampler's snapshots
    assert text == "baseline of 0.75s recorded"  # no probes: no latency to show
    [rec] = events.of(BaselineRecorded)
    assert w.guard.baseline is not None and w.guard.baseline.seconds == 0.75
    assert w.guard.baseline.metrics == rec.metrics and rec.metrics
    w.stop()
    # a later run (another Watch) picks the baseline up from the journal's records
    again = make_watch(p, ledger, stopping, emit=Events(), control=RunControl(),
                       journal_records=[{"kind": "NoteAdded"},
                                        rec.to_record()])
    assert again.guard.baseline is not None
    assert again.guard.baseline.metrics == w.guard.baseline.metrics
    assert again.sampler.baseline is again.guard.baseline


# ---------------------------------------------------------------- watch items


def test_watch_for_returns_its_evidence_and_feeds_the_pacing(
        ledger: str, stopping: list[Watch]) -> None:
    control, events = RunControl(), Events()
    seen: list[int] = []
    w = make_watch(plan(), ledger, stopping, emit=events, control=control,
                   on_snapshot=lambda s: seen.append(s.seq)).start()
    wait_until(lambda: seen, "a first snapshot")
    assert w.watch_for(0.6) == "watched the gauges for 0.6s; all gauges ok"
    assert not w.trips and not control.rollback_requested
    assert w.guard.states["integrity"].state == "ok"
    signals = control.signals()
    assert signals is not None and signals.seq in seen  # the snapshots pace the backfills
    w.stop()
    assert control.signals() is None  # no gauges: pace on the lock budget alone


def test_watch_for_fails_when_a_trigger_trips_while_it_watches(
        ledger: str, stopping: list[Watch]) -> None:
    control, events = WatchedControl(), Events()
    w = make_watch(plan(), ledger, stopping, emit=events, control=control).start()
    wait_until(lambda: w.sampler.latest is not None, "a first snapshot")
    assert w.guard.states["integrity"].state == "ok"
    helper = once_watching(control, lambda: corrupt(ledger))
    with pytest.raises(RunnerError) as err:
        w.watch_for(DEADLINE)  # returns early only by raising
    helper.join(DEADLINE)
    assert str(err.value) == f"rollback trigger tripped while watching: {TRIGGER} (> 0)"
    assert [e.state for e in events.of(ThresholdChanged)] == ["trip"]
    assert not control.rollback_requested  # an offer: the operator decides


def test_watch_for_fails_on_a_trip_of_a_trigger_without_text(
        ledger: str, stopping: list[Watch]) -> None:
    control = WatchedControl()
    p = plan(triggers=[{"metric": "integrity", "above": 0, "for": "0s"}])
    w = make_watch(p, ledger, stopping, emit=Events(), control=control)
    corrupt(ledger)
    once_watching(control, w.start)  # the first sample, taken while watching, trips
    with pytest.raises(RunnerError, match=r"tripped while watching: Data Integrity > 0 \(> 0\)$"):
        w.watch_for(DEADLINE)


def test_watch_for_fails_when_a_trip_from_before_it_still_holds(
        ledger: str, stopping: list[Watch]) -> None:
    corrupt(ledger)  # tripped before the watch item began, and never recovered
    events = Events()
    w = make_watch(plan(), ledger, stopping, emit=events, control=RunControl()).start()
    wait_until(lambda: w.guard.states["integrity"].state == "trip", "the trip")
    with pytest.raises(RunnerError,
                       match=r"^rollback trigger still tripping after watching 0.5s: integrity$"):
        w.watch_for(0.5)


def _baseline_in_thread(w: Watch) -> tuple[threading.Thread, list[BaseException | str]]:
    got: list[BaseException | str] = []

    def run() -> None:
        try:
            got.append(w.capture_baseline(DEADLINE * 10))  # far longer than the test waits
        except BaseException as e:  # noqa: BLE001 - the test reads it
            got.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, got


def test_a_cancel_stops_a_baseline_and_records_none(ledger: str,
                                                    stopping: list[Watch]) -> None:
    control, events = RunControl(), Events()
    w = make_watch(plan(), ledger, stopping, emit=events, control=control).start()
    t, got = _baseline_in_thread(w)
    wait_until(lambda: events.of(NoteAdded), "the baseline's start")
    control.cancel("the terminal went away")
    t.join(DEADLINE)
    assert not t.is_alive() and isinstance(got[0], Cancelled), got
    assert str(got[0]) == "the terminal went away"
    assert not events.of(BaselineRecorded) and w.guard.baseline is None


def test_the_gauges_stopping_end_a_baseline_without_recording_it(
        ledger: str, stopping: list[Watch]) -> None:
    events = Events()
    w = make_watch(plan(), ledger, stopping, emit=events, control=RunControl()).start()
    t, got = _baseline_in_thread(w)
    wait_until(lambda: events.of(NoteAdded), "the baseline's start")
    w.stop()
    t.join(DEADLINE)
    assert not t.is_alive() and isinstance(got[0], SamplerError), got
    assert not events.of(BaselineRecorded)
