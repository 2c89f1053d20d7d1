"""The scheduler's lock groups follow the runner's run lock: a database, or one tenant
schema of it. Schema members of one database are claimed together; two members on one
lock (the same database without a schema) are not."""

from __future__ import annotations

from migtui.fleet import ControlDb, Member, Rollout
from migtui.fleet.scheduler import tick


def test_schema_members_of_one_database_are_claimed_together(db_url: str) -> None:
    members = [Member(f"app/t{i}", "unused", "h:5432", "app", f"t{i}") for i in range(4)]
    members += [Member("app", "unused", "h:5432", "app"),
                Member("app-again", "unused", "h:5432", "app")]  # the same lock as 'app'
    assert len({m.lock_group for m in members}) == 5
    db = ControlDb(db_url)
    try:
        db.ensure_schema()
        r = Rollout("f/p", "f", "p", "running", "stop", 16, None, 0.0, 30.0, None)
        assert db.create_rollout(r, "x", [members])
        got = tick(db, r.id, "w1", {}, 16)
        assert sorted(c.name for c in got.claims) == ["app", "app/t0", "app/t1", "app/t2",
                                                      "app/t3"]
        # the other member on the database's own lock waits for 'app'
        assert tick(db, r.id, "w2", {}, 16).claims == []
    finally:
        db.close()
