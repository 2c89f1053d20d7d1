"""The control database goes away while members run. A short outage (a dropped
connection, a restart) costs a worker nothing: its members go on, and its ticks are
retried until the control database is back. Past the heartbeat timeout, other workers
would take its members over, so it stops them at a safe point and exits 1, saying why."""

from __future__ import annotations

import time
from pathlib import Path
from subprocess import Popen
from typing import Any

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


def outage(tmp: Path, admin_url: str, members: int, timeout: str, seconds: float,
           outage_s: float | None) -> tuple[Any, dict[str, Any], dict[str, Any], int, str]:
    """A worker on ``members`` members whose slow step takes ``seconds``; once one runs it,
    the control database goes away for ``outage_s`` (None: for good). What is left, read
    before the databases go: the members' states in the control database, each member's
    apply history and its rows the slow step set, the worker's exit code and output."""
    with databases(admin_url, members) as (pattern, names), \
            databases(admin_url, 1, seed="SELECT 1") as (_p, (control,)):
        ctl = _with_db(admin_url, control)
        w = start(tmp, admin_url, pattern, ctl, timeout, seconds)
        try:
            wait_slow(ctl, w)
            cut(admin_url, control)
            if outage_s is not None:
                time.sleep(outage_s)  # members go on meanwhile
                restore(admin_url, control)
            out, _ = w.communicate(timeout=120)
        finally:
            restore(admin_url, control)
            if w.poll() is None:
                w.kill()
        states = q(ctl, "SELECT state, count(*) FROM migtui_fleet.member GROUP BY 1")
        history = {nm: q(_with_db(admin_url, nm), "SELECT step_id, status FROM "
                         "migtui.history WHERE action = 'apply' ORDER BY id") for nm in names}
        tiers = {nm: q(_with_db(admin_url, nm), "SELECT count(*) FROM accounts WHERE tier = 1")
                 for nm in names}
        return states, history, tiers, w.returncode or 0, out


def test_a_short_control_outage_costs_a_worker_nothing(tmp_path: Path, pg_admin_url: str
                                                       ) -> None:
    states, history, _tiers, code, out = outage(tmp_path, pg_admin_url, 3, "8s", 3, 1.5)
    assert code == 0, out
    assert "control database:" in out and "retrying" in out and "back after" in out, out
    assert states == [("applied", 3)], (states, out)
    for nm, rows in history.items():  # each step applied exactly once
        assert sorted(s for s, st in rows if st == "applied") == ["add_col", "slow"], (nm, out)


def test_a_control_database_gone_for_good_stops_the_worker(tmp_path: Path, pg_admin_url: str
                                                           ) -> None:
    _states, history, tiers, code, out = outage(tmp_path, pg_admin_url, 2, "2s", 8, None)
    assert code == 1, out
    assert "past the heartbeat timeout (2s): stopping this worker" in out, out
    assert "Traceback" not in out, out
    for nm, rows in history.items():  # stopped at a safe point: nothing half-applied
        assert ("slow", "applied") not in rows and all(
            st != "running" for _, st in rows), (nm, rows, out)
        assert tiers[nm] == [(0,)], (nm, out)


def test_a_busy_member_that_cannot_be_given_back_does_not_kill_its_thread(
        tmp_path: Path, db_url: str) -> None:
    """A member whose database is locked by another run is given back; when the control
    database is away at that moment, the member's thread logs it and ends (its claim lapses
    without a heartbeat) instead of dying with the member left in the worker's active set."""
    from migtui.control import RunControl
    from migtui.fleet.control import ControlDb
    from migtui.fleet.members import Member
    from migtui.fleet.worker import Active, Worker, WorkerOptions
    from migtui.plan import load_plan
    from migtui.runner import Runner

    plan = load_plan(write_plan(tmp_path))
    away = ControlDb(_with_db(db_url, "migtui_no_such_control_db"))  # refused: no database
    member = Member("busy", db_url, "127.0.0.1:5432", "busy")
    logged: list[str] = []
    worker = Worker(away, "r1", "f", plan, {"busy": member},
                    WorkerOptions(workdir=tmp_path, gauges=False, log=logged.append))
    a = Active(member, "apply", RunControl())
    worker.active["busy"] = a
    with Runner(plan, db_url):  # another run holds the member's lock
        worker._member(a)  # as its thread runs it
    assert "busy" not in worker.active
    assert any("could not be given back" in line for line in logged), logged
