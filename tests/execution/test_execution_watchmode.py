"""Issue 15 item 3 in the core: another run's journal read as it grows, what that run is
doing, and the lock holder named by what it does (not "idle", nor "between steps" for an
app that is open and runs nothing)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from migtui.execution.follow import Holder, JournalFollower
from migtui.runner import Runner
from migtui.runner.errors import RunLocked
from tests.runner_helpers import make_plan


def write(path: Path, *recs: dict, tail: str = "") -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps(r) + "\n")
        fh.write(tail)


def test_the_follower_reads_only_new_complete_lines(tmp_path: Path) -> None:
    j = tmp_path / "plan.journal.jsonl"
    f = JournalFollower(j)
    assert f.poll() == []  # no journal yet
    write(j, {"kind": "RunStarted", "operator": "alice", "at": "2026-11-23T03:00:00+00:00"},
          tail='{"kind": "StepSta')  # the writer is mid-line
    assert [r["kind"] for r in f.poll()] == ["RunStarted"]
    assert f.poll() == []
    write(j, tail='rted", "step_id": "a", "action": "apply"}\n')
    assert [r.get("step_id") for r in f.poll()] == ["a"]
    j.write_text("")  # replaced: read again from the start
    write(j, {"kind": "NoteAdded"})
    assert [r["kind"] for r in f.poll()] == ["NoteAdded"]


def test_the_holder_says_what_the_other_run_is_doing_and_for_how_long() -> None:
    h = Holder()
    assert h.describe() == "no run in the journal is open"
    h.apply({"kind": "RunStarted", "operator": "alice", "at": "2026-11-23T03:00:00+00:00"})
    assert h.describe() == "run by alice since 2026-11-23 03:00:00, no step running"
    h.apply({"kind": "StepStarted", "step_id": "add_note", "action": "apply",
             "at": "2026-11-23T03:00:05+00:00"})
    assert h.doing() == "running step add_note (apply)"
    now = dt.datetime(2026, 11, 23, 3, 1, 10, tzinfo=dt.UTC)
    assert h.doing(now) == "running step add_note (apply) for 1m05s"
    h.apply({"kind": "StepFinished", "step_id": "add_note", "action": "apply",
             "at": "2026-11-23T03:00:40+00:00"})
    # an app left open after a step is idle, not "between steps": it says for how long
    assert h.doing(now) == "no step running for 30.0s (last: add_note)"
    h.apply({"kind": "RunFinished", "outcome": "done"})
    assert not h.running


def test_a_holder_that_has_run_nothing_is_said_so(shop_db: str, tmp_path: Path) -> None:
    """An app just opened on the plan holds the lock with no run in its journal: its idle
    session is not "between steps"."""
    from migtui.execution.watching import NOTHING_RUN, Watching

    plan = make_plan("""
        - id: a
          sql: SELECT 1;
          rollback: SELECT 1;
    """)
    with Runner(plan, shop_db) as holder:
        holder.open()
        w = Watching(plan, shop_db, tmp_path / "none.journal.jsonl", known=0)
        try:
            u = w.poll()
        finally:
            w.close()
    assert u.holder is not None and u.doing == NOTHING_RUN and u.step == ""
    assert u.summary().startswith(f"{NOTHING_RUN} · backend pid {u.holder.pid}")


def test_an_idle_lock_holder_is_not_called_idle_nor_only_between_steps(shop_db: str) -> None:
    plan = make_plan("""
        - id: a
          sql: SELECT 1;
          rollback: SELECT 1;
    """)
    with Runner(plan, shop_db), pytest.raises(RunLocked) as exc:
        Runner(plan, shop_db).open()
    msg = str(exc.value)
    assert "no statement running (between steps, or an app open on the plan)" in msg
    assert ", idle" not in msg


def test_a_watch_updates_durations_go_on_between_polls() -> None:
    """The header's 'for 9.8s' was the poll's, while the Steps table's Time was live."""
    from migtui.execution.watching import LockHolder, WatchUpdate

    h = Holder()
    h.apply({"kind": "RunStarted", "operator": "bob", "at": "2026-11-23T03:00:00+00:00"})
    h.apply({"kind": "StepStarted", "step_id": "fill", "action": "apply",
             "at": "2026-11-23T03:00:00+00:00"})
    t0 = dt.datetime(2026, 11, 23, 3, 0, 9, tzinfo=dt.UTC)
    u = WatchUpdate([], [], [], LockHolder(7, "local socket", "2026-11-23 03:00:00",
                                           "running a statement"), h.doing(t0), "fill",
                    activity=h)
    assert u.summary(t0).startswith("running step fill (apply) for 9.0s · ")
    later = t0 + dt.timedelta(seconds=65)
    assert u.summary(later).startswith("running step fill (apply) for 1m14s · ")
    assert u.summary().startswith("running step fill (apply) for 9.0s")  # as polled
