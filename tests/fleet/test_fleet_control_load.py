"""The control database's load: a few statements a second per worker, whatever the
concurrency. A worker's tick is one statement, plus one claim call when a slot is free, at
most once a second; finished members are recorded by the next tick, not one by one.

Counted twice: by the worker (every statement it sends, in its ``worker`` row) and by the
server (the control database's transactions in ``pg_stat_database``: the worker's
statements are autocommit, one transaction each). The old design — a transaction of up to
8 statements per tick, every 0.5 s while members finished, plus one per finished member —
sent about 6 statements per tick and 20–30 a second here."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.conftest import _with_db
from tests.fleet.helpers import databases, migtui, q, slow_steps, write_fleet, write_plan

STEPS = slow_steps(1)


def transactions(url: str) -> int:
    """The control database's transactions as the server counts them (this read's own
    connection start-up and query included: the caller takes them out)."""
    return int(q(url, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE "
                      "datname = current_database()")[0][0])


def server_count_since(url: str, before: int, per_read: int) -> int:
    """What the server counted since ``before``, once the exited worker's backend flushed
    its statistics; these reads' own share taken out."""
    reads, last = 1, transactions(url)
    for _ in range(40):  # bounded: until only the previous read moved the count
        time.sleep(0.25)
        now = transactions(url)
        reads += 1
        if now - last <= per_read:
            return now - before - reads * per_read
        last = now
    raise AssertionError("the control database's statistics never settled")


def test_a_worker_sends_a_few_statements_a_second_at_concurrency_8(
        tmp_path: Path, pg_admin_url: str, db_url: str) -> None:
    control = db_url  # a control database of its own: what the server counts there is ours
    with databases(pg_admin_url, 24) as (pattern, names):
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: load-{pattern.rstrip('%')}
            control: {{dsn: "{control}"}}
            members:
              discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
            waves: [1, rest]
            concurrency: {{overall: 8}}
            workers: {{heartbeat: 2s, timeout: 30s}}
            """)
        a = transactions(control)
        time.sleep(0.25)
        before = transactions(control)
        per_read = before - a
        res = migtui("fleet", "run", str(f), str(write_plan(tmp_path, STEPS)), "--no-gauges")
        assert res.returncode == 0, res.stdout + res.stderr
        server = server_count_since(control, before, per_read)
        (queries, ticks), = q(control, "SELECT queries, ticks FROM migtui_fleet.worker")
        m = re.search(r"(\d+) control queries in ([\d.]+)s \((\d+) ticks\)", res.stdout)
        assert m, res.stdout
        assert (int(m.group(1)), int(m.group(3))) == (queries, ticks)
        seconds = float(m.group(2))
        for nm in names:  # every member applied, each step once
            assert q(_with_db(pg_admin_url, nm), "SELECT step_id, count(*) FROM migtui.history "
                     "WHERE status = 'applied' GROUP BY 1 ORDER BY 1") == [
                ("add_col", 1), ("slow", 1)], nm
    # the worker: one sync per tick, a claim on some, a statement per wave transition
    # (2 waves: start, gate; the rollout's end), its registration, its last row update
    assert queries <= 2 * ticks + 2 * 2 + 1 + 3, (queries, ticks)
    assert queries < len(names) + ticks, "finished members are not recorded one by one"
    # ticks are at least a second apart (a finish wakes the loop, no sooner)
    assert ticks <= seconds / 1.0 + 2, (ticks, seconds)
    assert queries / seconds <= 4.0, (queries, seconds)
    # the server agrees: the run's transactions are the worker's statements (autocommit),
    # plus the command's set-up (its connection, the schema, the rollout: about 5) and what
    # autovacuum may do in a new database meanwhile
    assert queries <= server <= queries + 20, (server, queries)
