"""Two workers start at once: one sets up the control schema while the other is already
creating the rollout. Setting up a schema that is current takes no table lock, so the two
cannot deadlock (seen in CI: the later worker died with exit 1 before claiming anything)."""

from __future__ import annotations

import threading
import time

import psycopg

from migtui.fleet import ControlDb
from tests.conftest import _with_db
from tests.fleet.helpers import databases


def test_setting_up_a_current_schema_beside_a_rollout_being_created(pg_admin_url: str) -> None:
    with databases(pg_admin_url, 1, seed="SELECT 1") as (_pattern, names):
        url = _with_db(pg_admin_url, names[0])
        first = ControlDb(url)
        first.ensure_schema()  # worker B's, done: B now creates the rollout
        with psycopg.connect(url) as b:  # B's create_rollout, mid-transaction
            b.execute("INSERT INTO migtui_fleet.rollout (id, fleet, plan_id, on_failure, "
                      "concurrency, timeout) VALUES ('f/p', 'f', 'p', 'stop', 4, 3)")
            b.execute("INSERT INTO migtui_fleet.wave (rollout, n, size) VALUES ('f/p', 1, 1)")
            late = ControlDb(url, application_name="late-worker")
            failed: list[BaseException] = []

            def set_up() -> None:
                try:
                    late.ensure_schema()
                except BaseException as e:  # noqa: BLE001 - reported by the test
                    failed.append(e)

            t = threading.Thread(target=set_up)
            t.start()
            deadline = time.monotonic() + 30
            while t.is_alive() and time.monotonic() < deadline and not waiting(url):
                time.sleep(0.02)
            # B goes on with its members while A's set-up has run (or waits for a lock)
            b.execute("INSERT INTO migtui_fleet.member (rollout, name, ord, wave, server, "
                      "database, lock_group) VALUES ('f/p', 'm1', 1, 1, 'h', 'd', 'g')")
            b.commit()
            t.join(timeout=60)
            assert not t.is_alive() and not failed, failed
        assert [r["name"] for r in first.members("f/p")] == ["m1"]
        first.close()
        late.close()


def waiting(url: str) -> bool:
    """The late worker's set-up waits for a table lock."""
    with psycopg.connect(url, autocommit=True) as c:
        return bool(c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name "
                              "= 'late-worker' AND wait_event_type = 'Lock'").fetchone()[0])
