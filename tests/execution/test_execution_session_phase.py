"""The app's session runs a phase through the one phase runner (``phases.run_phase``), and
answers a trip as the core decides: an ``offer`` trip holds the phase before its next item,
R rolls back through ``rollback_if_requested``, a ``rollback`` trip rolls back only when
the database is there to do it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from migtui.events import Event, NoteAdded, StepFinished
from migtui.execution.session import Session
from migtui.plan import load_plan
from migtui.runner import Outcome
from tests.execution.trip_helpers import STEPS, tables, tc
from tests.runner_helpers import plan_text, wait_until

PHASES = """
- name: Execution
  items:
    - {text: Create one, run: {steps: [one]}}
    - {text: Create two, run: {steps: [two]}}
    - {text: Create three, run: {steps: [three]}}
    - Tell the stakeholders
"""


@pytest.fixture
def session(tmp_path: Path, db_url: str) -> Iterator[Session]:
    """The app's session on the three-table plan (not opened yet); closed at the end."""
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(STEPS, phases=PHASES))
    s = Session(path, load_plan(path), dsn=db_url, operator="tester", sample=False)
    try:
        yield s
    finally:
        s.close()


def test_a_phase_runs_only_its_items_still_to_do(session: Session, db_url: str) -> None:
    phase = session.plan.phases[0]
    session.open()
    session.tick("phases.execution", phase.items[0], True, "done by hand")
    assert [i.text for i in session.phase_todo(phase)] == ["Create two", "Create three"]
    out = session.run_phase(phase)
    assert out.status == "done", out.message
    assert "2 item(s) done" in out.message and "1 manual item(s)" in out.message
    assert tables(db_url) == {"t_two", "t_three"}  # the ticked item was not run again
    assert session.phase_todo(phase) == []


def test_an_offer_trip_holds_the_phase_and_r_rolls_it_back(session: Session,
                                                          db_url: str) -> None:
    phase = session.plan.phases[0]
    notes: list[str] = []

    def watch(e: Event) -> None:
        if isinstance(e, StepFinished) and e.step_id == "one" and e.action == "apply":
            session._offered(tc("trip", 0))  # the guard's on_trip, as the gauges call it
        if isinstance(e, NoteAdded):
            notes.append(e.text)

    session.subscribe(watch)
    session.open()
    got: list[Outcome] = []
    t = threading.Thread(target=lambda: got.append(session.run_phase(phase)))
    t.start()
    assert wait_until(lambda: any("paused before item 'Create two'" in n for n in notes))
    assert tables(db_url) == {"t_one"} and not got
    assert session.state.is_done("phases.execution", phase.items[0])
    rb = session.rollback("trip: latency")
    t.join(30)
    assert got[0].status == "rollback_requested"
    assert rb.status == "rolled_back" and rb.steps == ("one",), rb.message
    assert tables(db_url) == set()
    # what was rolled back is no longer ticked
    assert not session.state.is_done("phases.execution", phase.items[0])
    assert not session.control.rollback_requested


def test_a_rollback_trip_rolls_back_only_with_the_database_there(session: Session) -> None:
    session.open()
    trip = dataclasses.replace(tc("trip", 0), policy="rollback")
    assert session.trip_rollback(trip, lost=False) == \
        "automatic: Performance degradation >50% tripped"
    assert session.trip_rollback(trip, lost=True) is None  # nothing could roll back
    assert session.trip_rollback(tc("trip", 0), lost=False) is None  # offer: asks
    assert session.trip_rollback(tc("ok", 1, previous="trip"), lost=False) is None
    session.runner = None  # as in watch mode: the other run's guard decides
    assert session.trip_rollback(trip, lost=False) is None


def test_r_with_nothing_running_rolls_back_what_is_applied(session: Session,
                                                          db_url: str) -> None:
    session.open()
    assert session.apply(["one", "two"]).ok
    out = session.rollback("requested by tester")
    assert out.status == "rolled_back" and set(out.steps) == {"one", "two"}
    assert out.message.startswith("requested by tester; ")
    assert tables(db_url) == set()


def test_a_job_that_runs_no_step_clears_a_rolled_back_banner(session: Session) -> None:
    """The drive by hand: a phase whose only item was a watch ran for a minute under a
    full-colour ROLLED BACK banner; only a step's start cleared it."""
    from migtui.execution import trip as tr
    from migtui.plan.model import ChecklistItem, RunCheck

    session.open()
    assert session.apply(["one"]).ok
    assert session.rollback("requested by tester").status == "rolled_back"
    assert session.trip.kind == tr.ROLLED_BACK and session.trip.shown
    item = ChecklistItem(text="Nothing left over", run=RunCheck(
        check="SELECT count(*) FROM pg_tables WHERE tablename = 't_one'", expect="= 0"))
    assert session.run_item("phases.execution", item).status == "done"
    assert session.trip.kind == tr.CLEAR and not session.trip.shown
