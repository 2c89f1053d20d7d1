"""Who samples a soak, driven directly against a control database: a worker without gauges
leaves the soak to a worker with them; a worker that knows none of the wave's members gives
it up rather than pass the gate as healthy on 0 members; when no worker with gauges is
left, the gate passes on its timer alone, and says so."""

from __future__ import annotations

from migtui.fleet import scheduler
from migtui.fleet.soak import soak_members
from tests.fleet.helpers import control_rollout


def wave1(db, rid):  # type: ignore[no-untyped-def]
    return db.q("SELECT state, worker, message FROM migtui_fleet.wave WHERE rollout = %s "
                "AND n = 1", (rid,))[0]


def test_a_worker_that_knows_no_member_gives_the_soak_up(db_url: str) -> None:
    db, r = control_rollout(db_url, [1, 1], soak=60)
    db.register_worker("A", r.id, "h", 1, True)
    scheduler.tick(db, r.id, "A", [], 1, soaker=True)
    t = scheduler.tick(db, r.id, "A", [scheduler.Held("m1", final="applied")], 1, soaker=True)
    assert t.soak == 1
    assert soak_members(db, r.id, 1, {}, "A") == ([], 1)  # A's fleet file resolves no m1
    w = wave1(db, r.id)
    assert w["state"] == "soaking" and w["worker"] is None
    assert "worker A knows none of the wave's 1 member(s)" in w["message"]
    t = scheduler.tick(db, r.id, "A", [], 1, soaker=True, cannot_soak=frozenset({1}))
    assert t.soak is None and wave1(db, r.id)["worker"] is None  # A does not retake it
    db.register_worker("B", r.id, "h", 2, True)
    t = scheduler.tick(db, r.id, "B", [], 1, soaker=True)
    assert t.soak == 1 and wave1(db, r.id)["worker"] == "B"  # B samples it, from the start
    # B dies, the gate's deadline is long past: A passes the gate on the timer alone
    db.q("UPDATE migtui_fleet.worker SET heartbeat = now() - interval '1 hour'")
    db.q("UPDATE migtui_fleet.wave SET heartbeat = now() - interval '1 hour', "
         "gate_until = now() - interval '1 hour' WHERE n = 1")
    scheduler.tick(db, r.id, "A", [], 1, soaker=True, cannot_soak=frozenset({1}))
    w = wave1(db, r.id)
    assert w["worker"] is None and w["message"].startswith("soaking: timer only"), w
    t = scheduler.tick(db, r.id, "A", [], 1, soaker=True, cannot_soak=frozenset({1}))
    w = wave1(db, r.id)
    assert w["state"] == "done" and w["message"] == "gate passed: timer only, no gauges sampled"
    assert [c.name for c in t.claims] == ["m2"]  # the next wave started


def test_a_worker_without_gauges_leaves_the_soak_to_one_with_them(db_url: str) -> None:
    db, r = control_rollout(db_url, [1, 1], soak=60)
    db.register_worker("G", r.id, "h", 1, True)
    db.register_worker("N", r.id, "h", 2, False)
    scheduler.tick(db, r.id, "N", [], 1)
    t = scheduler.tick(db, r.id, "N", [scheduler.Held("m1", final="applied")], 1)
    assert t.soak is None and wave1(db, r.id)["state"] == "running"
    t = scheduler.tick(db, r.id, "G", [], 1, soaker=True)
    assert t.soak == 1 and wave1(db, r.id)["worker"] == "G"
    # G dies: N does not pass the gate while G's soak may yet be taken over …
    db.q("UPDATE migtui_fleet.worker SET heartbeat = now() - interval '1 hour' WHERE id = 'G'")
    db.q("UPDATE migtui_fleet.wave SET heartbeat = now() - interval '1 hour' WHERE n = 1")
    scheduler.tick(db, r.id, "N", [], 1)
    w = wave1(db, r.id)  # … but with no worker with gauges left, the soak is a timer
    assert w["state"] == "soaking" and w["worker"] is None
    assert "no worker with gauges is left" in w["message"]
