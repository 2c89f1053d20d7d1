"""The status table is a pure function of the control tables' rows (an app view renders
the same table); pause and resume steer a running worker through the control database."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from migtui.fleet.status import member_table, render, wave_table
from tests.conftest import _with_db
from tests.fleet.helpers import databases, migtui, q, spawn, write_fleet, write_plan

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_wave_and_member_tables_from_rows() -> None:
    rollout = {"id": "f/p", "state": "failed", "message": "wave 2: 1 member(s) failed"}
    waves = [{"n": 1, "size": 1, "state": "done", "started_at": T0,
              "finished_at": T0 + dt.timedelta(seconds=3), "message": "gate passed"},
             {"n": 2, "size": 2, "state": "failed", "started_at": T0, "finished_at": None,
              "message": None}]
    members = [{"name": "a", "wave": 1, "state": "applied"},
               {"name": "b", "wave": 2, "state": "failed", "error": "boom\nmore", "step": "s1",
                "worker": "host1:12:ab", "attempts": 1},
               {"name": "c", "wave": 2, "state": "running", "stale": True, "attempts": 2}]
    wt = wave_table(rollout, waves, members)
    assert wt.title == "rollout f/p: failed — wave 2: 1 member(s) failed"
    assert wt.rows[0] == ("1", "done", "1", "1", "0", "0", "0", "0", "3.0s", "gate passed")
    assert wt.rows[1][:8] == ("2", "failed", "2", "0", "1", "0", "1", "0")
    assert wt.summary == "1 running, 1 applied, 1 failed"
    mt = member_table(members, {"failed", "running"})
    assert [r[0] for r in mt.rows] == ["b", "c"]
    assert mt.rows[0][2:5] == ("failed", "s1", "host1") and mt.rows[0][-1] == "boom"
    assert mt.rows[1][2] == "running (worker silent)"
    text = render(wt)
    assert text.splitlines()[1].split()[:3] == ["wave", "state", "size"]


def test_pause_holds_the_next_wave_and_resume_finishes(tmp_path: Path, pg_admin_url: str) -> None:
    with databases(pg_admin_url, 4) as (pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: pause-{pattern.rstrip('%')}
            members:
              discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
            waves: [1, rest]
            gate: {{soak: 2s}}
            workers: {{heartbeat: 0.2s, timeout: 5s}}
            """)
        plan = write_plan(tmp_path)
        w = spawn("fleet", "run", str(f), str(plan), "--no-gauges")
        try:
            def wave1_done() -> bool:
                if not q(ctl, "SELECT to_regclass('migtui_fleet.member') IS NOT NULL")[0][0]:
                    return False
                return q(ctl, "SELECT count(*) FROM migtui_fleet.member WHERE wave = 1 AND "
                              "state = 'applied'") == [(1,)]
            deadline = time.monotonic() + 60
            while not wave1_done() and time.monotonic() < deadline:
                time.sleep(0.05)
            res = migtui("fleet", "pause", str(f), str(plan))  # during wave 1's soak
            assert res.returncode == 0, res.stderr
            deadline = time.monotonic() + 4  # past the soak: wave 2 would have started
            while time.monotonic() < deadline:
                assert q(ctl, "SELECT count(*) FROM migtui_fleet.member WHERE wave = 2 AND "
                              "state <> 'pending'") == [(0,)]
                time.sleep(0.2)
            assert w.poll() is None  # a paused worker waits
            st = migtui("fleet", "status", str(f))
            assert "paused" in st.stdout.splitlines()[0]
            assert migtui("fleet", "pause", str(f)).returncode == 2  # not running now
            assert migtui("fleet", "resume", str(f)).returncode == 0
            out, _ = w.communicate(timeout=120)
            assert w.returncode == 0, out
        finally:
            if w.poll() is None:
                w.kill()
        assert q(ctl, "SELECT state, count(*) FROM migtui_fleet.member GROUP BY 1") == [
            ("applied", 4)]
