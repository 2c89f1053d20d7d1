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
