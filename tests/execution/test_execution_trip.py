"""Issue 15 items 1 and 4 in the core: the trip state is live (tripping, recovered with
when, rolled back with when, cleared when new work starts), and an ``offer`` trip pauses
the running job before its next step, until the operator resumes or rolls back."""

from __future__ import annotations

import threading
from pathlib import Path

from migtui.control import RunControl
from migtui.events import (
    Event,
    NoteAdded,
    RollbackFinished,
    RollbackStarted,
    StepFinished,
    StepStarted,
)
from migtui.execution import trip as tr
from migtui.execution.session import Session
from migtui.plan import load_plan
from tests.execution.trip_helpers import STEPS, at, tables, tc
from tests.runner_helpers import plan_text, wait_until


def test_a_trip_that_recovers_says_when_and_clears_when_new_work_starts() -> None:
    st = tr.TripState()
    assert st.apply(tc("trip", 10))
    assert st.tripped and st.kind == tr.TRIPPING and st.shown
    assert st.describe() == "Performance degradation >50% (Query Performance 84ms vs +50%)"
    assert st.apply(tc("ok", 128, previous="trip"))
    assert not st.tripped and st.kind == tr.RECOVERED and st.at == at(128)
    assert st.event is not None and st.event.at == at(10)  # still names what tripped
    st.apply(StepStarted(step_id="s2", action="apply", step_kind="sql", at=at(130)))
    assert st.kind == tr.CLEAR and not st.shown


def test_two_metrics_recover_only_when_both_did() -> None:
    st = tr.TripState()
    st.apply(tc("trip", 1))
    st.apply(tc("trip", 2, metric="error_rate"))
    st.apply(tc("ok", 3, previous="trip"))
    assert st.tripped and st.event is not None and st.event.metric == "error_rate"
    st.apply(tc("warn", 4, metric="error_rate", previous="trip"))
    assert st.kind == tr.RECOVERED and st.at == at(4)


def test_rolled_back_says_when_and_clears_when_new_steps_run() -> None:
    st = tr.TripState()
    st.apply(tc("trip", 1))
    st.apply(RollbackStarted(plan_id="p", steps=("b", "a"), reason="trip", at=at(5)))
    assert st.kind == tr.ROLLING_BACK and not st.tripped
    st.apply(RollbackFinished(plan_id="p", ok=True, rolled_back=("b", "a"),
                              message="2 step(s) rolled back", at=at(9)))
    assert st.kind == tr.ROLLED_BACK and st.at == at(9) and not st.live
    st.apply(StepStarted(step_id="a", action="apply", step_kind="sql", at=at(20)))
    assert not st.shown


def test_a_live_trip_survives_new_work_and_esc_hides_until_it_changes() -> None:
    st = tr.TripState()
    st.apply(tc("trip", 1))
    st.apply(StepStarted(step_id="a", action="apply", step_kind="sql", at=at(2)))
    assert st.tripped
    st.dismiss()
    assert not st.shown and st.tripped  # hidden, still known: R and x still ask
    st.apply(tc("ok", 3, previous="trip"))
    assert st.shown and st.kind == tr.RECOVERED


def test_hold_before_waits_while_paused_and_stops_for_a_rollback() -> None:
    ctl = RunControl()
    notes: list[Event] = []
    assert tr.hold_before(ctl, "step b", notes.append) is None and not notes
    ctl.pause("trip: x")
    got: list[object] = []
    t = threading.Thread(target=lambda: got.append(tr.hold_before(ctl, "step b",
                                                                  notes.append)))
    t.start()
    assert wait_until(lambda: bool(notes))
    assert not got  # still holding
    ctl.request_rollback("trip: x")
    t.join(5)
    out = got[0]
    assert out is not None and out.status == "rollback_requested"
    assert "paused before step b: trip: x" in notes[0].text  # type: ignore[attr-defined]


def test_an_offer_trip_pauses_the_steps_before_the_next_one(db_url: str,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(STEPS))
    session = Session(path, load_plan(path), dsn=db_url, operator="tester", sample=False)
    notes: list[str] = []

    def watch(e: Event) -> None:
        if isinstance(e, StepFinished) and e.step_id == "one":
            session._offered(tc("trip", 0))  # the guard's on_trip, as the gauges call it
        if isinstance(e, NoteAdded):
            notes.append(e.text)

    session.subscribe(watch)
    session.open()
    outcome: list[object] = []
    try:
        t = threading.Thread(target=lambda: outcome.append(
            session.apply(["one", "two", "three"])))
        t.start()
        assert wait_until(lambda: any("paused before step two" in n for n in notes))
        assert session.paused_by_trip and not outcome
        assert tables(db_url) == {"t_one"}  # two and three wait for the operator
        session.resume()
        t.join(30)
        out = outcome[0]
        assert getattr(out, "status", "") == "done"
        assert getattr(out, "steps", ()) == ("one", "two", "three")
        assert tables(db_url) == {"t_one", "t_two", "t_three"}
    finally:
        session.close()


def test_r_during_the_pause_stops_forward_work_and_rolls_back(db_url: str,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(STEPS))
    session = Session(path, load_plan(path), dsn=db_url, operator="tester", sample=False)
    session.subscribe(lambda e: session._offered(tc("trip", 0)) if (
        isinstance(e, StepFinished) and e.step_id == "one") else None)
    session.open()
    outcome: list[object] = []
    try:
        t = threading.Thread(target=lambda: outcome.append(
            session.apply(["one", "two", "three"])))
        t.start()
        assert wait_until(lambda: session.paused_by_trip)
        rb = session.rollback("trip: latency")  # waits for the held job, then undoes
        t.join(30)
        assert getattr(outcome[0], "status", "") == "rollback_requested"
        assert rb.status == "rolled_back" and tables(db_url) == set()
    finally:
        session.close()


def test_a_headless_hold_does_not_name_the_app_s_keys() -> None:
    ctl = RunControl()
    ctl.pause("paused by gauge: lock waits")
    notes: list[Event] = []
    t = threading.Thread(target=lambda: tr.hold_before(
        ctl, "item 'Backfill'", notes.append, "it goes on when the pausing gauge recovers"))
    t.start()
    assert wait_until(lambda: bool(notes))
    ctl.resume()
    t.join(5)
    text = notes[0].text  # type: ignore[attr-defined]
    assert text == ("paused before item 'Backfill': paused by gauge: lock waits. "
                    "it goes on when the pausing gauge recovers")
    assert "R rolls back" not in text
