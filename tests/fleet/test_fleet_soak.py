"""The gate between waves samples the plan's gauges on the wave's members for the soak
time: an integrity check that turns bad during the soak fails the gate, the failure policy
applies, and the next wave never starts; a clean soak passes the gate."""

from __future__ import annotations

import time
from pathlib import Path
from subprocess import Popen

import pytest

from tests.conftest import _with_db
from tests.fleet.helpers import (
    SEED,
    admin,
    databases,
    migtui,
    q,
    spawn,
    write_fleet,
    write_plan,
)

GAUGES = """\
risks:
  rollback_triggers:
    - {text: Data corrupted, metric: integrity, above: 0, for: 0s, policy: rollback}
monitoring:
  integrity:
    - {name: no poisoned rows, sql: "SELECT count(*) FROM poison", expect: "= 0"}
"""


def wave_row(ctl: str, n: int) -> tuple[str, str | None, str | None] | None:
    if not q(ctl, "SELECT to_regclass('migtui_fleet.wave') IS NOT NULL")[0][0]:
        return None
    rows = q(ctl, "SELECT state, worker, message FROM migtui_fleet.wave WHERE n = %s", (n,))
    return rows[0] if rows else None


def start_soak_fleet(tmp_path: Path, pg_admin_url: str, pattern: str, name: str, *,
                     soak: str, on_failure: str = "stop") -> Popen[str]:
    """A worker on a fleet of the ``pattern`` databases (waves [2, rest], concurrency 2)
    whose plan's gauges (an integrity check on ``poison``) are sampled every 250 ms."""
    f = write_fleet(tmp_path, f"""\
        fleet: 1
        name: {name}-{pattern.rstrip('%')}
        members:
          discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
        waves: [2, rest]
        concurrency: {{overall: 2}}
        gate: {{soak: {soak}}}
        on_failure: {on_failure}
        workers: {{heartbeat: 0.2s, timeout: 10s}}
        """)
    plan = write_plan(tmp_path, extra=GAUGES)
    plan.write_text(plan.read_text().replace("settings:\n",
                                             "settings:\n  sample_interval: 250ms\n"))
    return spawn("fleet", "run", str(f), str(plan))


def wait_soaking(ctl: str, w: Popen[str]) -> tuple[str, str | None, str | None]:
    """Wave 1's row once a worker samples its soak (bounded; the worker still running)."""
    deadline = time.monotonic() + 60
    row = wave_row(ctl, 1)
    while (row is None or row[0] != "soaking" or row[1] is None) and (
            time.monotonic() < deadline and w.poll() is None):
        time.sleep(0.05)
        row = wave_row(ctl, 1)
    assert row and row[0] == "soaking", row
    return row


@pytest.mark.parametrize("policy", ["stop", "rollback_wave", "clean"])
def test_the_soak_samples_the_waves_gauges(tmp_path: Path, pg_admin_url: str,
                                           policy: str) -> None:
    with databases(pg_admin_url, 4, seed=SEED + "CREATE TABLE poison (x int);") as (
            pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        w = start_soak_fleet(tmp_path, pg_admin_url, pattern, "soak",
                             soak="3s" if policy == "clean" else "60s",
                             on_failure="stop" if policy == "clean" else policy)
        try:
            row = wait_soaking(ctl, w)
            assert row[1], row
            assert row[2] == "soaking: gauges on 2 of 2 member(s)"
            if policy != "clean":  # wave 1's second member goes bad while soaking
                admin(_with_db(pg_admin_url, names[1]), "INSERT INTO poison VALUES (1)")
            out, _ = w.communicate(timeout=120)
        finally:
            if w.poll() is None:
                w.kill()
        members = dict(q(ctl, "SELECT name, state FROM migtui_fleet.member"))
        waves = q(ctl, "SELECT n, state, message FROM migtui_fleet.wave ORDER BY n")
        if policy == "clean":
            assert w.returncode == 0, out
            assert waves[0][:2] == (1, "done") and waves[0][2].startswith(
                "gate passed: gauges healthy on 2 member(s)"), waves
            assert set(members.values()) == {"applied"}
            return
        assert w.returncode == (1 if policy == "stop" else 3), out
        assert waves[0][:2] == (1, "failed"), waves
        assert f"the gate failed: {names[1]} tripped during the soak" in waves[0][2]
        assert "integrity" in waves[0][2]
        assert waves[1][1] == "pending"  # wave 2 never started
        for nm in names[2:]:
            assert members[nm] == "pending"
            assert not q(_with_db(pg_admin_url, nm), "SELECT to_regclass('migtui.history')")[0][0]
        (state, message), = q(ctl, "SELECT state, message FROM migtui_fleet.rollout")
        assert state == "failed" and "the gate failed" in message
        error = q(ctl, "SELECT error FROM migtui_fleet.member WHERE name = %s", (names[1],))[0][0]
        assert error.startswith("tripped: ") and "during the soak of wave 1" in error
        if policy == "stop":
            assert members[names[1]] == "failed" and members[names[0]] == "applied"
        else:  # rollback_wave: both of wave 1 rolled back
            assert members[names[0]] == members[names[1]] == "rolled_back"
            for nm in names[:2]:
                assert not q(_with_db(pg_admin_url, nm), "SELECT 1 FROM information_schema."
                             "columns WHERE table_name = 'accounts' AND column_name = 'tier'")


def test_a_trip_while_paused_stops_the_rollout(tmp_path: Path, pg_admin_url: str) -> None:
    """The operator pauses during the soak (a gauge looks bad); the soak keeps sampling and
    trips: the rollout fails (paused → failed), the policy rolls the member back, and the
    worker exits instead of waiting for a resume that would find nothing to do."""
    with databases(pg_admin_url, 3, seed=SEED + "CREATE TABLE poison (x int);") as (
            pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        w = start_soak_fleet(tmp_path, pg_admin_url, pattern, "psoak", soak="60s",
                             on_failure="rollback_member")
        try:
            wait_soaking(ctl, w)
            assert migtui("fleet", "pause", str(tmp_path / "fleet.yaml")).returncode == 0
            admin(_with_db(pg_admin_url, names[1]), "INSERT INTO poison VALUES (1)")
            out, _ = w.communicate(timeout=90)
        finally:
            if w.poll() is None:
                w.kill()
        assert w.returncode == 3, out
        (state, message), = q(ctl, "SELECT state, message FROM migtui_fleet.rollout")
        assert state == "failed" and "the gate failed" in message, message
        assert q(ctl, "SELECT n, state FROM migtui_fleet.wave ORDER BY n") == [
            (1, "failed"), (2, "pending")]
        members = dict(q(ctl, "SELECT name, state FROM migtui_fleet.member"))
        assert members == {names[0]: "applied", names[1]: "rolled_back", names[2]: "pending"}


def test_a_member_gone_during_the_soak_fails_the_gate(tmp_path: Path, pg_admin_url: str) -> None:
    """A member's database is dropped while its wave soaks: the soak cannot read its gauges,
    so the gate fails saying so, in one line; it never passes as 'healthy' on it."""
    with databases(pg_admin_url, 3, seed=SEED + "CREATE TABLE poison (x int);") as (
            pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        w = start_soak_fleet(tmp_path, pg_admin_url, pattern, "gone", soak="4s")
        try:
            wait_soaking(ctl, w)
            admin(pg_admin_url, f'DROP DATABASE "{names[1]}" WITH (FORCE)')
            out, _ = w.communicate(timeout=90)
        finally:
            if w.poll() is None:
                w.kill()
        assert w.returncode == 1, out
        assert "Traceback" not in out, out
        waves = q(ctl, "SELECT n, state, message FROM migtui_fleet.wave ORDER BY n")
        assert waves[0][:2] == (1, "failed") and waves[1][1] == "pending", waves
        assert f"{names[1]} could not be watched during the soak" in waves[0][2], waves
        error = q(ctl, "SELECT error FROM migtui_fleet.member WHERE name = %s", (names[1],))[0][0]
        assert error.startswith("not watched: its gauges could not be read"), error
