"""A headless run told to stop by a signal (kill, a dropped SSH session, Ctrl-C) stops at a
safe point and says so: the statement in flight is cancelled on the server, the run lock
is free, the journal records it, and the exit code is 130. Dying at once left the statement
running on the server, holding the lock, with nothing journaled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migtui.journal import journal_path, read_journal
from tests.cli.test_cli_run import REPO, write_plan
from tests.runner_helpers import one

SLOW = """
- id: slow
  sql: SELECT pg_sleep(60);
  rollback: SELECT 1;
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: s.name)
def test_a_signal_stops_a_headless_run_at_a_safe_point(shop_db: str, tmp_path: Path,
                                                       sig: signal.Signals) -> None:
    plan = write_plan(tmp_path, SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "migtui", "run", str(plan), "--dsn",
                             shop_db], env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while one(shop_db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                           "'SELECT pg_sleep(60)%%' AND state = 'active'") == 0:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    # on the server: the statement cancelled, the run lock free
    assert one(shop_db, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                        "'SELECT pg_sleep(60)%%' AND state = 'active'") == 0
    assert one(shop_db, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = "
                        "l.database WHERE l.locktype = 'advisory' "
                        "AND d.datname = current_database()") == 0  # the server is shared
    kinds = [(r["kind"], r.get("outcome")) for r in read_journal(journal_path(plan, "t-plan"))]
    assert ("RunFinished", "cancelled") in kinds, kinds
    assert one(shop_db, "SELECT status FROM migtui.history WHERE step_id = 'slow' "
                        "ORDER BY id DESC LIMIT 1") == "failed"
