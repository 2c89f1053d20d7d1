"""The control database goes away while members run. A short outage (a dropped
connection, a restart) costs a worker nothing: its members go on, and its ticks are
retried until the control database is back. Past the heartbeat timeout, other workers
would take its members over, so it stops them at a safe point and exits 1, saying why."""

from __future__ import annotations

import time
from pathlib import Path
from subprocess import Popen

from psycopg import sql

from tests.conftest import _with_db
from tests.fleet.helpers import admin, databases, q, slow_steps, spawn, write_fleet, write_plan


def start(tmp: Path, admin_url: str, pattern: str, control: str, timeout: str,
          seconds: float) -> Popen[str]:
    f = write_fleet(tmp, f"""\
        fleet: 1
        name: outage-{pattern.rstrip('%')}
        control: {{dsn: "{control}"}}
        members:
          discover: [{{dsn: "{admin_url}", pattern: "{pattern}"}}]
        waves: [rest]
        concurrency: {{overall: 3}}
        workers: {{heartbeat: 0.3s, timeout: {timeout}}}
        """)
    return spawn("fleet", "run", str(f), str(write_plan(tmp, slow_steps(seconds))), "--no-gauges")


def cut(admin_url: str, database: str) -> None:
    """No new connection to ``database``, and its sessions terminated."""
    admin(admin_url, sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
        sql.Identifier(database)),
        sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}")
        .format(sql.Literal(database)))


def restore(admin_url: str, database: str) -> None:
    admin(admin_url, sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
        sql.Identifier(database)))


def wait_slow(ctl: str, worker: Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        if q(ctl, "SELECT to_regclass('migtui_fleet.member') IS NOT NULL")[0][0] and q(
                ctl, "SELECT 1 FROM migtui_fleet.member WHERE step = 'slow'"):
            return
        time.sleep(0.05)
    worker.kill()
    raise AssertionError(f"no member got to the slow step (exit {worker.poll()}): "
                         f"{worker.communicate()[0]}")


def test_a_short_control_outage_costs_a_worker_nothing(tmp_path: Path, pg_admin_url: str
                                                       ) -> None:
    with databases(pg_admin_url, 3) as (pattern, names), \
            databases(pg_admin_url, 1, seed="SELECT 1") as (_p, (control,)):
        ctl = _with_db(pg_admin_url, control)
        w = start(tmp_path, pg_admin_url, pattern, ctl, "8s", 3)
        try:
            wait_slow(ctl, w)
            cut(pg_admin_url, control)
            time.sleep(1.5)  # members go on meanwhile
            restore(pg_admin_url, control)
            out, _ = w.communicate(timeout=120)
        finally:
            restore(pg_admin_url, control)
            if w.poll() is None:
                w.kill()
        assert w.returncode == 0, out
        assert "control database:" in out and "retrying" in out and "back after" in out, out
        states = q(ctl, "SELECT state, count(*) FROM migtui_fleet.member GROUP BY 1")
        assert states == [("applied", 3)], (states, out)
        for nm in names:  # each applied exactly once
            assert q(_with_db(pg_admin_url, nm), "SELECT step_id, count(*) FROM migtui.history"
                     " WHERE status = 'applied' GROUP BY 1 ORDER BY 1") == [
                ("add_col", 1), ("slow", 1)], (nm, out)


def test_a_control_database_gone_for_good_stops_the_worker(tmp_path: Path, pg_admin_url: str
                                                           ) -> None:
    with databases(pg_admin_url, 2) as (pattern, names), \
            databases(pg_admin_url, 1, seed="SELECT 1") as (_p, (control,)):
        ctl = _with_db(pg_admin_url, control)
        w = start(tmp_path, pg_admin_url, pattern, ctl, "2s", 8)
        try:
            wait_slow(ctl, w)
            cut(pg_admin_url, control)
            out, _ = w.communicate(timeout=120)
        finally:
            restore(pg_admin_url, control)
            if w.poll() is None:
                w.kill()
        assert w.returncode == 1, out
        assert "past the heartbeat timeout (2s): stopping this worker" in out, out
        assert "Traceback" not in out, out
        for nm in names:  # stopped at a safe point: nothing half-applied or left running
            rows = q(_with_db(pg_admin_url, nm), "SELECT step_id, status FROM migtui.history "
                     "WHERE action = 'apply' ORDER BY id")
            assert ("slow", "applied") not in rows and all(
                s != "running" for _, s in rows), (nm, rows, out)
            assert q(_with_db(pg_admin_url, nm),
                     "SELECT count(*) FROM accounts WHERE tier = 1") == [(0,)], (nm, out)
