"""When a rollout stops, no wave stays 'running' or 'soaking': the wave that was under way
is 'stopped' (a wave whose own member failed is 'failed'), and `fleet resume` runs it
again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import _with_db
from tests.fleet.helpers import databases, migtui, q, slow_steps, spawn, write_fleet, write_plan

SLOW_STEPS = slow_steps(0.7)


def waves(ctl: str) -> list[tuple[int, str]]:
    if not q(ctl, "SELECT to_regclass('migtui_fleet.wave') IS NOT NULL")[0][0]:
        return []
    return [(int(r[0]), str(r[1])) for r in q(ctl, "SELECT n, state FROM migtui_fleet.wave "
                                                   "ORDER BY n")]


@pytest.mark.parametrize("during", ["soaking", "running"])
def test_a_stopped_rollout_leaves_no_wave_under_way(tmp_path: Path, pg_admin_url: str,
                                                    during: str) -> None:
    with databases(pg_admin_url, 4) as (pattern, names):
        ctl = _with_db(pg_admin_url, names[0])
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: stop-{pattern.rstrip('%')}
            members:
              discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
            waves: [1, rest]
            concurrency: {{overall: 1}}
            gate: {{soak: {'60s' if during == 'soaking' else '0s'}}}
            workers: {{heartbeat: 0.2s, timeout: 10s}}
            """)
        plan = write_plan(tmp_path, SLOW_STEPS)
        w = spawn("fleet", "run", str(f), str(plan), "--no-gauges")
        wave = 1 if during == "soaking" else 2
        try:
            deadline = time.monotonic() + 60
            while (wave, during) not in waves(ctl) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert (wave, during) in waves(ctl), waves(ctl)
            # the operator rolls back the canary: the rollout stops
            rb = migtui("fleet", "rollback", str(f), str(plan), "--member", names[0])
            assert rb.returncode == 3, rb.stdout + rb.stderr
            out, _ = w.communicate(timeout=120)
        finally:
            if w.poll() is None:
                w.kill()
        assert w.returncode in (1, 3), out
        assert q(ctl, "SELECT state FROM migtui_fleet.rollout") == [("failed",)]
        got = waves(ctl)
        assert not [s for _n, s in got if s in ("running", "soaking")], got
        assert got[wave - 1] == (wave, "stopped"), got
        (message,), = q(ctl, "SELECT message FROM migtui_fleet.wave WHERE n = %s", (wave,))
        assert "rollback of member" in message and "requested by the operator" in message
        st = migtui("fleet", "status", str(f))
        assert st.returncode == 1 and "stopped" in st.stdout, st.stdout
        if during == "running":  # resume runs the stopped wave again (no soak here)
            assert migtui("fleet", "resume", str(f)).returncode == 0
            res = migtui("fleet", "run", str(f), str(plan), "--no-gauges", timeout=180)
            assert res.returncode == 0, res.stdout + res.stderr
            assert waves(ctl) == [(1, "done"), (2, "done")]
