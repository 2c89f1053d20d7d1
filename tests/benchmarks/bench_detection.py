"""Benchmark (not a test): how fast migtui sees a degradation and starts rolling back.

``migtui run`` applies a slow backfill (with its gauges on) while a light pgbench
select-only load runs. A few seconds into the backfill, the benchmark drops the primary
key of ``pgbench_accounts``: the plan's probe (and the application) fall back to sequential
scans. The plan's rollback trigger (latency above +200% of the baseline for 1 s, policy
``rollback``) trips, and the run rolls back by itself. From the run's own events
(``--json``, timestamped where they happen):

* detection: the index dropped (committed) -> the trip (``ThresholdChanged`` to trip);
* reaction: the trip, which is the rollback request -> ``RollbackStarted`` -> the first
  rollback statement (``StatementStarted`` with action rollback).

Each trial runs on a fresh copy of the database with a fresh journal.

Usage::

    python tests/benchmarks/bench_detection.py                # embedded PostgreSQL 18
    python tests/benchmarks/bench_detection.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --scale 5 --trials 3 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import App, Server, machine, pgbench_init, server, write_section  # noqa: E402

SECTION = "bench_detection"
BASE_DB = "migtui_bench_detect_base"
RUN_DB = "migtui_bench_detect_run"
INTERVAL = 0.5
FOR = 1.0

PLAN = f"""\
migtui: 1
id: bench-detection
title: Detection and reaction
type: schema_change
agent: bench
targets:
  bench: {{dsn_env: BENCH_URL, environment: staging}}
settings: {{sample_interval: {INTERVAL}s, latency_window: 3s}}
steps:
  - id: add_flag
    sql: ALTER TABLE pgbench_accounts ADD COLUMN flag int;
    rollback: ALTER TABLE pgbench_accounts DROP COLUMN IF EXISTS flag;
  - id: backfill_flag
    backfill: {{table: pgbench_accounts, key: aid, set: "flag = 1", batch_size: 500,
               min_batch: 500, max_batch: 500, sleep: 200ms}}
    rollback: UPDATE pgbench_accounts SET flag = NULL WHERE flag IS NOT NULL;
phases:
  - name: Execution
    items:
      - {{text: Baseline, run: {{baseline: 5s}}}}
      - {{text: Apply, run: {{steps: [add_flag, backfill_flag]}}}}
monitoring:
  probes: ["SELECT abalance FROM pgbench_accounts WHERE aid = 4242"]
risks:
  rollback_triggers:
    - {{text: Latency tripled, metric: latency, above: +200%, for: {FOR:g}s, policy: rollback}}
"""


def at(ev: dict[str, Any]) -> float:
    return datetime.fromisoformat(ev["at"]).timestamp()


def trial(srv: Server, n: int, delay: float) -> dict[str, Any]:
    url = srv.create_db(RUN_DB, template=BASE_DB)
    app = App(srv, url, clients=2, extra=["-S"], rate=20).start()
    with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        plan = Path(tmp) / "detect.yaml"
        plan.write_text(PLAN)
        proc = subprocess.Popen([sys.executable, "-m", "migtui", "run", str(plan), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "BENCH_URL": url, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        evs: list[dict[str, Any]] = []
        for line in proc.stdout:
            if line.startswith("{"):
                evs.append(json.loads(line))
                if evs[-1]["kind"] == "StepProgress":
                    break
        time.sleep(delay)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("ALTER TABLE pgbench_accounts DROP CONSTRAINT pgbench_accounts_pkey")
        induced = time.time()
        out, err = proc.communicate(timeout=300)
    run = app.stop()
    srv.drop_db(RUN_DB)
    evs += [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    trip = next((e for e in evs if e["kind"] == "ThresholdChanged" and e["state"] == "trip"
                 and at(e) >= induced), None)
    started = next((e for e in evs if e["kind"] == "RollbackStarted"), None)
    first = next((e for e in evs if e["kind"] == "StatementStarted"
                  and e["action"] == "rollback"), None)
    done = next((e for e in evs if e["kind"] == "RollbackFinished"), None)
    if trip is None or started is None or first is None:
        sys.exit(f"trial {n}: no trip or no rollback (exit {proc.returncode}):\n"
                 f"{out[-3000:]}{err[-2000:]}")
    res = {
        "trial": n, "exit_code": proc.returncode,
        "detect_s": round(at(trip) - induced, 3),
        "trip_to_rollback_started_s": round(at(started) - at(trip), 3),
        "trip_to_first_rollback_statement_s": round(at(first) - at(trip), 3),
        "rollback_ok": bool(done and done["ok"]),
        "latency_at_trip_ms": round(trip["value"] * 1000, 1) if trip["value"] else None,
        "limit_ms": round(trip["limit"] * 1000, 1) if trip["limit"] else None,
        "app_transactions": len(run.txns),
    }
    print(f"  trial {n}: detected in {res['detect_s']}s, first rollback statement "
          f"{res['trip_to_first_rollback_statement_s']}s after the trip", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--scale", type=int, default=5, help="pgbench -s (default 5: 500k rows)")
    ap.add_argument("--trials", type=int, default=3, help="trials (default 3)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    trials: list[dict[str, Any]] = []
    with server(opts.dsn, "bench-detection") as srv:
        print(f"{srv.label}; pgbench -i -s {opts.scale} ...", flush=True)
        pgbench_init(srv, srv.create_db(BASE_DB), opts.scale)
        try:
            for n in range(opts.trials):
                # the degradation lands at a different phase of the sampling period each time
                trials.append(trial(srv, n + 1, 2.0 + n * INTERVAL / opts.trials))
        finally:
            srv.drop_db(RUN_DB)
            srv.drop_db(BASE_DB)
    med = {k: round(statistics.median(t[k] for t in trials), 3) for k in (
        "detect_s", "trip_to_rollback_started_s", "trip_to_first_rollback_statement_s")}
    result = {"benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "server": srv.label, "sample_interval_s": INTERVAL, "trigger_for_s": FOR,
              "trials": trials, "median": med}
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "Detection and reaction (`bench_detection.py`)", table, result)


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}. `migtui run` with its gauges, "
        f"sampling every {r['sample_interval_s']:g} s; trigger: probe latency above +200% of "
        f"the baseline for {r['trigger_for_s']:g} s, policy rollback. Degradation: the "
        f"primary key of pgbench_accounts dropped mid-backfill, under a light pgbench -S "
        f"load. Times from the run's own event timestamps.",
        "",
        "| trial | degradation → trip (s) | trip → RollbackStarted (s) "
        "| trip → first rollback statement (s) | probe latency at trip (ms) | limit (ms) "
        "| rolled back |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in r["trials"]:
        lines.append(f"| {t['trial']} | {t['detect_s']} | {t['trip_to_rollback_started_s']} "
                     f"| {t['trip_to_first_rollback_statement_s']} | {t['latency_at_trip_ms']} "
                     f"| {t['limit_ms']} | {'yes' if t['rollback_ok'] else 'no'} |")
    m = r["median"]
    lines.append(f"| **median** | **{m['detect_s']}** | **{m['trip_to_rollback_started_s']}** "
                 f"| **{m['trip_to_first_rollback_statement_s']}** | | | |")
    lines += ["", f"The floor of the detection time is the trigger's `for` "
              f"({r['trigger_for_s']:g} s) plus up to one sampling period "
              f"({r['sample_interval_s']:g} s) and the probe's own (now slow) run."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
