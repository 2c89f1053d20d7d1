"""A dropped SSH session (SIGHUP) during a step: the app cancels the statement, the
history records the step as failed, the journal ends the run, and the process exits."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import psycopg
import pytest

PLAN = """migtui: 1
id: slow
title: Slow
type: schema_change
agent: tester
targets: {staging: {environment: staging}}
overview: [Ready]
documentation: [Done]
steps:
  - id: slow
    check: {sql: "SELECT count(*) FROM pg_sleep(30)", expect: "= 1"}
"""


def _drain(fd: int, seconds: float) -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


SLEEPING = ("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
            "AND pid <> pg_backend_pid() AND datname = current_database()")


def _start_the_slow_step(fd: int, db_url: str) -> None:
    """Wait for the app on ``fd``, press x, and wait for its statement on the server."""
    deadline = time.monotonic() + 30
    while b"Next step" not in _drain(fd, 0.5):
        assert time.monotonic() < deadline, "the app did not start"
    _drain(fd, 1.0)
    os.write(fd, b"x")
    with psycopg.connect(db_url, autocommit=True) as c:
        deadline = time.monotonic() + 20
        while not c.execute(SLEEPING).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the step did not start"
            _drain(fd, 0.2)


def _exit_status(pid: int, seconds: float, what: str, fd: int | None = None) -> int:
    """The app's wait status once it exits (``fd``: drained meanwhile)."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        assert time.monotonic() < deadline, what
        if fd is None:
            time.sleep(0.1)
        else:
            _drain(fd, 0.2)


def _journal_kinds(tmp_path: Path) -> list[str]:
    return [json.loads(line)["kind"] for line in
            (tmp_path / ".migtui" / "slow.journal.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX only")
def test_sighup_during_a_step_leaves_history_and_journal_consistent(
        db_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "slow.yaml"
    plan.write_text(PLAN)
    pid, fd = _spawn_on_a_terminal(plan, db_url, leader=True)
    try:
        _start_the_slow_step(fd, db_url)
        os.kill(pid, signal.SIGHUP)
        status = _exit_status(pid, 20, "the app did not exit on SIGHUP", fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT step_id, action, status, error FROM migtui.history").fetchall()
        sleeping = c.execute(SLEEPING).fetchone()
    assert rows == [("slow", "apply", "failed", "cancelled: terminal hung up (SIGHUP)")]
    assert sleeping == (0,)  # the statement was cancelled, not left running
    assert _journal_kinds(tmp_path)[-3:] == ["StepStarted", "StepFailed", "RunFinished"]


def _spawn_on_a_terminal(plan: Path, db_url: str, *, leader: bool) -> tuple[int, int]:
    """The app on a pseudo-terminal of its own. ``leader``: the app leads the session (the
    kernel sends it SIGHUP and SIGCONT when the terminal hangs up). Otherwise it runs
    under a parent that leads the session and does not pass the hangup on (a shell with a
    HUP trap or zsh's NO_HUP, a disowned job, a container's exec): the app gets no signal
    at all, only a terminal that is gone."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm-256color", MIGTUI_OPERATOR="tester")
        argv = [sys.executable, "-m", "migtui", str(plan), "--dsn", db_url, "--no-gauges"]
        if leader:
            os.execv(sys.executable, argv)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        child = os.fork()
        if child == 0:
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            os.execv(sys.executable, argv)
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)
    return pid, fd


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX only")
@pytest.mark.parametrize("leader", [False, True], ids=["no-sighup", "session-leader"])
def test_the_app_exits_when_its_terminal_goes_away_during_a_step(
        db_url: str, tmp_path: Path, leader: bool) -> None:
    """Issue 15: apps were found running with no terminal after their tmux pane or SSH
    session went away, holding the plan's lock. The terminal closes (its master side, as
    tmux kill-server or sshd do) while a step runs: the app cancels the statement,
    journals the step and the run's end, frees the lock and exits 130."""
    plan = tmp_path / "slow.yaml"
    plan.write_text(PLAN)
    pid, fd = _spawn_on_a_terminal(plan, db_url, leader=leader)
    closed = False
    try:
        _start_the_slow_step(fd, db_url)
        os.close(fd)  # the terminal goes away
        closed = True
        status = _exit_status(pid, 15, "the app outlived its terminal")
    finally:
        if not closed:
            os.close(fd)
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            if not os.waitpid(pid, os.WNOHANG)[0]:
                os.killpg(pid, signal.SIGKILL)  # the session's group: the app too
                os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT step_id, action, status, error FROM migtui.history").fetchall()
        sleeping = c.execute(SLEEPING).fetchone()
        locks = c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                          "database = (SELECT oid FROM pg_database WHERE datname = "
                          "current_database())").fetchone()
    assert [r[:3] for r in rows] == [("slow", "apply", "failed")]
    assert rows[0][3].startswith("cancelled: ")
    assert sleeping == (0,)  # the statement was cancelled, not left running
    assert locks == (0,)  # the plan's run lock is free
    assert _journal_kinds(tmp_path)[-3:] == ["StepStarted", "StepFailed", "RunFinished"]
