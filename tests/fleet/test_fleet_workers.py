"""Several workers share one rollout through the control database: each member is
applied exactly once, and a worker killed with kill -9 mid-step is taken over after its
heartbeat times out, losing nothing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from subprocess import Popen

from tests.conftest import _with_db
from tests.fleet.helpers import databases, q, spawn, write_fleet, write_plan

SLOW_STEPS = """\
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN tier int
    rollback: ALTER TABLE accounts DROP COLUMN tier
  - id: slow
    sql: UPDATE accounts SET tier = 1 WHERE pg_sleep(0.02) IS NOT NULL
    rollback: UPDATE accounts SET tier = NULL
"""



def two_workers(fleet: Path, plan: Path, *, threads: int) -> tuple[Popen[str], Popen[str]]:
    """Workers A and B on one rollout, without gauges, ``threads`` members each."""
    a, b = (spawn("fleet", "run", str(fleet), str(plan), "--no-gauges", "--threads",
                  str(threads)) for _ in range(2))
    return a, b


def kill_in_slow_step(ctl: str, a: Popen[str]) -> list[str]:
    """``kill -9`` worker A once it runs a member's slow step; the members it held."""
    victim: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not victim and a.poll() is None:
        rows = q(ctl, "SELECT name FROM migtui_fleet.member WHERE state = 'running' "
                      "AND step = 'slow' AND worker LIKE %s",
                 (f"%:{a.pid}:%",)) if q(
            ctl, "SELECT to_regclass('migtui_fleet.member') IS NOT NULL")[0][0] else []
        victim = [r[0] for r in rows]
        time.sleep(0.05)
    if not victim:
        a.kill()
        out_a, _ = a.communicate(timeout=30)
        raise AssertionError(f"worker A never got to the slow step (exit {a.returncode}):\n"
                             f"{out_a}")
    os.kill(a.pid, signal.SIGKILL)
    a.wait(timeout=30)
    return victim

def test_two_workers_one_killed_mid_step(tmp_path: Path, pg_admin_url: str) -> None:
    with databases(pg_admin_url, 12) as (pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: kill-{pattern.rstrip('%')}
            members:
              discover:
                - dsn: "{pg_admin_url}"
                  pattern: "{pattern}"
            waves: [rest]
            concurrency: {{overall: 4}}
            workers: {{heartbeat: 0.3s, timeout: 3s}}
            """)
        plan = write_plan(tmp_path, SLOW_STEPS)  # 'slow' takes about a second per member
        a, b = two_workers(f, plan, threads=2)
        try:
            victim = kill_in_slow_step(ctl, a)
            out_b, _ = b.communicate(timeout=240)
        finally:
            for p in (a, b):
                if p.poll() is None:
                    p.kill()
        assert b.returncode == 0, out_b
        rid = f"kill-{pattern.rstrip('%')}/fleet-plan"
        members = {r[0]: r[1:] for r in q(ctl, "SELECT name, state, attempts, worker FROM "
                                               "migtui_fleet.member WHERE rollout = %s", (rid,))}
        assert {m[0] for m in members.values()} == {"applied"}
        for nm in victim:  # taken over by B after A's heartbeat stopped
            assert members[nm][1] >= 2 and f":{b.pid}:" in members[nm][2], members[nm]
            assert "takes over" in out_b and nm in out_b
        for nm in names:
            rows = q(_with_db(pg_admin_url, nm), "SELECT step_id, count(*) FROM migtui.history "
                     "WHERE status = 'applied' GROUP BY 1 ORDER BY 1")
            assert rows == [("add_col", 1), ("slow", 1)], nm  # applied exactly once
            assert q(_with_db(pg_admin_url, nm),
                     "SELECT count(*) FROM accounts WHERE tier = 1") == [(50,)]
        workers = {r[0] for r in q(ctl, "SELECT DISTINCT worker FROM migtui_fleet.member "
                                        "WHERE rollout = %s", (rid,))}
        assert any(f":{b.pid}:" in w for w in workers)


def test_a_killed_workers_member_is_rolled_back_with_its_wave(tmp_path: Path,
                                                               pg_admin_url: str) -> None:
    """rollback_wave: worker A is killed mid-step; the wave then fails (B's next member
    cannot apply). No one takes A's member over once the rollout stopped, but it must not
    stay 'running': once its heartbeat times out, B rolls it back with the wave."""
    with databases(pg_admin_url, 3) as (pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        q(_with_db(pg_admin_url, names[2]), "ALTER TABLE accounts ADD COLUMN tier int")
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: killrb-{pattern.rstrip('%')}
            members:
              discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
            waves: [rest]
            concurrency: {{overall: 2}}
            on_failure: rollback_wave
            workers: {{heartbeat: 0.3s, timeout: 4s}}
            """)
        plan = write_plan(tmp_path, SLOW_STEPS)
        a, b = two_workers(f, plan, threads=1)
        try:
            victim = kill_in_slow_step(ctl, a)
            out_b, _ = b.communicate(timeout=120)
        finally:
            for p in (a, b):
                if p.poll() is None:
                    p.kill()
        members = dict(q(ctl, "SELECT name, state FROM migtui_fleet.member"))
        assert members[victim[0]] == "rolled_back", (members, out_b)
        assert b.returncode == 3, out_b
        assert set(members.values()) == {"rolled_back"}, members
        for nm in names[:2]:
            assert not q(_with_db(pg_admin_url, nm), "SELECT 1 FROM information_schema."
                         "columns WHERE table_name = 'accounts' AND column_name = 'tier'")
