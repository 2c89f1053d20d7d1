"""A dropped SSH session (SIGHUP) during a step: the app cancels the statement, the
history records the step as failed, the journal ends the run, and the process exits."""

from __future__ import annotations

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


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX only")
def test_sighup_during_a_step_leaves_history_and_journal_consistent(
        db_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "slow.yaml"
    plan.write_text(PLAN)
    pid, fd = pty.fork()
    if pid == 0:  # the app, on a terminal of its own
        os.environ.update(TERM="xterm-256color", MIGTUI_OPERATOR="tester")
        os.execv(sys.executable, [sys.executable, "-m", "migtui", str(plan), "--dsn", db_url,
                                  "--no-gauges"])
    try:
        deadline = time.monotonic() + 30
        while b"Next step" not in _drain(fd, 0.5):
            assert time.monotonic() < deadline, "the app did not start"
        _drain(fd, 1.0)
        os.write(fd, b"x")
        with psycopg.connect(db_url, autocommit=True) as c:
            deadline = time.monotonic() + 20
            while not c.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE "
                                "'%pg_sleep(30)%' AND pid <> pg_backend_pid()").fetchone():
                assert time.monotonic() < deadline, "the step did not start"
                _drain(fd, 0.2)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            assert time.monotonic() < deadline, "the app did not exit on SIGHUP"
            _drain(fd, 0.2)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT step_id, action, status, error FROM migtui.history").fetchall()
        sleeping = c.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                             "'%pg_sleep(30)%' AND pid <> pg_backend_pid()").fetchone()
    assert rows == [("slow", "apply", "failed", "cancelled: terminal hung up (SIGHUP)")]
    assert sleeping == (0,)  # the statement was cancelled, not left running
    recs = [json.loads(line) for line in
            (tmp_path / ".migtui" / "slow.journal.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in recs]
    assert kinds[-3:] == ["StepStarted", "StepFailed", "RunFinished"]
