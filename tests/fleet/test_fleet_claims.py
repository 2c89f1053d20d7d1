"""The claim, driven directly against a control database: a worker is never handed back
its own member (one whose heartbeat it let lapse), which it still runs."""

from __future__ import annotations

from migtui.fleet import scheduler
from tests.fleet.helpers import control_rollout


def test_a_worker_does_not_take_over_its_own_member(db_url: str) -> None:
    db, r = control_rollout(db_url, [2], timeout=1.0)
    t = scheduler.tick(db, r.id, "A", [], 1)
    assert [c.name for c in t.claims] == ["m1"]
    # A's heartbeat of m1 lapsed (its control connection was slow), but A still runs it
    db.q("UPDATE migtui_fleet.member SET heartbeat = now() - interval '1 minute' "
         "WHERE name = 'm1'")
    t = scheduler.tick(db, r.id, "A", [], 1)
    assert [(c.name, c.takeover) for c in t.claims] == [("m2", False)]
    t = scheduler.tick(db, r.id, "B", [], 1)  # another worker takes it over
    assert [(c.name, c.takeover) for c in t.claims] == [("m1", True)]


def test_a_stale_settle_after_resume_stops_nothing(db_url: str) -> None:
    """A worker read the rollout failed just before `fleet resume`: settling on that stale
    read must not stop the waves resume set running again."""
    db, r = control_rollout(db_url, [1, 1], on_failure="rollback_wave")
    scheduler.tick(db, r.id, "A", [], 1)  # m1 claimed, wave 1 running
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="failed", error="boom")], 1)
    assert t.rollout.state == "failed"
    stale = scheduler.tick(db, r.id, "B", [], 0)  # B reads the failed rollout …
    assert stale.rollout.state == "failed"
    assert db.resume(r.id, "resumed by ann") == "failed"  # … then the operator resumes
    waves = [scheduler.Wave(1, "running", False, None, True, {"applied": 1})]
    assert scheduler.settle_failed(db, stale.rollout, waves) == 0
    assert [w["state"] for w in db.waves(r.id)] == ["running", "pending"]
    assert db.rollout(r.id).state == "running"


def test_a_soak_trip_while_paused_fails_the_rollout(db_url: str) -> None:
    """A paused rollout keeps its soak sampling; a trip fails the wave and the rollout
    (paused → failed), and the failure policy's rollback is claimed."""
    from migtui.fleet.soak import SoakResult, record

    db, r = control_rollout(db_url, [1, 1], on_failure="rollback_member", soak=60)
    scheduler.tick(db, r.id, "A", [], 1, soaker=True)
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="applied")], 1, soaker=True)
    assert t.soak == 1
    db.set_state(r.id, "paused", "paused by ann")
    got = record(db, t.rollout, "A", SoakResult(1, ["m1"], 3.0, {"m1": "integrity tripped"}))
    assert got is not None and got.state == "failed"
    assert db.rollout(r.id).state == "failed"
    assert [w["state"] for w in db.waves(r.id)] == ["failed", "pending"]
    t = scheduler.tick(db, r.id, "A", [], 1, soaker=True)
    assert [(c.name, c.action) for c in t.claims] == [("m1", "rollback")]


def test_a_member_failing_while_paused_fails_the_rollout(db_url: str) -> None:
    db, r = control_rollout(db_url, [1, 1], on_failure="stop")
    scheduler.tick(db, r.id, "A", [], 1)
    db.set_state(r.id, "paused", "paused by ann")
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="failed", error="x")], 1)
    assert t.rollout.state == "failed" and db.rollout(r.id).state == "failed"
    assert t.waiting_rollbacks == 0 and not t.claims


def test_a_failed_wave_under_a_running_rollout_converges(db_url: str) -> None:
    """However it came about (a race with resume or pause), a running rollout with a failed
    wave fails too: the tick never returns its local state alone, and never loops."""
    db, r = control_rollout(db_url, [1, 1], on_failure="stop")
    scheduler.tick(db, r.id, "A", [], 1)
    db.q("UPDATE migtui_fleet.wave SET state = 'failed', message = 'wave 1: broken' "
         "WHERE n = 1")
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="applied")], 1)
    assert t.rollout.state == "failed" and t.rollout.message == "wave 1: broken"
    assert db.rollout(r.id).state == "failed"
    assert [w["state"] for w in db.waves(r.id)] == ["failed", "pending"]


def test_a_member_in_flight_that_fails_later_is_rolled_back(db_url: str) -> None:
    """rollback_member: m2 was in flight when m1 failed the wave; when m2 fails too, it is
    rolled back. A rollback that fails is not tried again and again."""
    db, r = control_rollout(db_url, [2, 1], on_failure="rollback_member")
    assert len(scheduler.tick(db, r.id, "A", [], 2).claims) == 2
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="failed", error="x")], 0)
    assert t.rollout.state == "failed" and t.waiting_rollbacks == 2  # m1 marked, m2 running
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m2", final="failed", error="y")], 2)
    assert sorted((c.name, c.action) for c in t.claims) == [("m1", "rollback"),
                                                            ("m2", "rollback")]
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="rolled_back"),
                                       scheduler.Held("m2", final="failed", error="z")], 2)
    assert not t.claims and t.waiting_rollbacks == 0
    assert {m["name"]: m["state"] for m in db.members(r.id)} == {
        "m1": "rolled_back", "m2": "failed", "m3": "pending"}


def test_a_dead_workers_member_is_rolled_back_once_stale(db_url: str) -> None:
    """rollback_wave: A died holding m1; B's m2 fails the wave. B waits for m1 (it may be
    live), and rolls it back once its heartbeat is older than the timeout."""
    db, r = control_rollout(db_url, [2], on_failure="rollback_wave", timeout=5)
    assert [c.name for c in scheduler.tick(db, r.id, "A", [], 1).claims] == ["m1"]
    assert [c.name for c in scheduler.tick(db, r.id, "B", [], 1).claims] == ["m2"]
    t = scheduler.tick(db, r.id, "B", [scheduler.Held("m2", final="failed", error="x")], 1)
    assert t.rollout.state == "failed"
    t = scheduler.tick(db, r.id, "B", [scheduler.Held("m2", final="rolled_back")], 1)
    assert not t.claims and t.waiting_rollbacks == 1  # m1: A's, maybe still live
    db.q("UPDATE migtui_fleet.member SET heartbeat = now() - interval '1 minute', "
         "step = 'slow' WHERE name = 'm1'")
    t = scheduler.tick(db, r.id, "B", [], 1)
    assert [(c.name, c.action, c.takeover) for c in t.claims] == [("m1", "rollback", False)]
    assert "its worker stopped while it ran (step slow)" in db.members(r.id)[0]["error"]


def test_a_dead_workers_member_under_stop_is_failed(db_url: str) -> None:
    db, r = control_rollout(db_url, [2], on_failure="stop", timeout=5)
    scheduler.tick(db, r.id, "A", [], 1)
    scheduler.tick(db, r.id, "B", [], 1)
    t = scheduler.tick(db, r.id, "B", [scheduler.Held("m2", final="failed", error="x")], 1)
    assert t.waiting_rollbacks == 1
    db.q("UPDATE migtui_fleet.member SET heartbeat = now() - interval '1 minute' "
         "WHERE name = 'm1'")
    t = scheduler.tick(db, r.id, "B", [], 1)
    assert not t.claims and t.waiting_rollbacks == 0
    assert [m["state"] for m in db.members(r.id)] == ["failed", "failed"]
