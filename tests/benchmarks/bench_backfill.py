"""Benchmark (not a test): migtui's batched backfill against one UPDATE of the whole table.

Both fill the same new column of ``pgbench_accounts`` (``tier = aid % 5``) on identical
copies of the database, in one run, without and then with a pgbench load (``-c 4``). The
backfill is migtui's runner on a one-step plan (keyset batches adapting to the plan's
``batch_target``, one transaction each, progress committed with every batch); the UPDATE
is one statement in one transaction. Target: the backfill reaches at least 50% of the
single UPDATE's rows per second.

Usage::

    python tests/benchmarks/bench_backfill.py                 # embedded PostgreSQL 18
    python tests/benchmarks/bench_backfill.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --scale 10 --clients 4 --pairs 1 --no-write
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import App, Server, machine, pgbench_init, server, write_section  # noqa: E402

from migtui.events import StepFinished, StepProgress  # noqa: E402
from migtui.plan import load_plan_text  # noqa: E402
from migtui.runner import Runner  # noqa: E402

SECTION = "bench_backfill"
BASE_DB = "migtui_bench_backfill_base"
RUN_DB = "migtui_bench_backfill_run"
SET = "tier = aid % 5"

PLAN = f"""\
migtui: 1
id: bench-backfill
title: Backfill throughput
type: schema_change
agent: bench
settings: {{batch_target: 500ms}}
steps:
  - id: backfill_tier
    backfill: {{table: pgbench_accounts, key: aid, set: "{SET}", batch_size: 1000}}
    rollback: UPDATE pgbench_accounts SET tier = NULL;
"""


def prepare(srv: Server) -> str:
    url = srv.create_db(RUN_DB, template=BASE_DB)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("ALTER TABLE pgbench_accounts ADD COLUMN tier int")
        c.execute("CHECKPOINT")
    return url


def by_update(url: str) -> tuple[int, float, dict[str, Any]]:
    with psycopg.connect(url, autocommit=True) as c:
        t0 = time.monotonic()
        cur = c.execute(f"UPDATE pgbench_accounts SET {SET}")
        return cur.rowcount, time.monotonic() - t0, {}


def by_migtui(url: str) -> tuple[int, float, dict[str, Any]]:
    plan = load_plan_text(PLAN)
    events: list[Any] = []
    t0 = time.monotonic()
    with Runner(plan, url, emit=events.append, operator="bench") as runner:
        outcome = runner.apply()
    elapsed = time.monotonic() - t0
    if not outcome.ok:
        sys.exit(f"the backfill failed: {outcome.message}")
    fin = next(e for e in events if isinstance(e, StepFinished))
    sizes = [e.batch_size for e in events if isinstance(e, StepProgress)]
    return fin.rows or 0, elapsed, {"batches": len(sizes),
                                    "batch_size_median": sorted(sizes)[len(sizes) // 2],
                                    "batch_size_max": max(sizes)}


def measure(srv: Server, how: str, load: bool, clients: int) -> dict[str, Any]:
    url = prepare(srv)
    app = App(srv, url, clients=clients).start() if load else None
    if app:
        time.sleep(3)
    rows, secs, facts = (by_migtui if how == "migtui" else by_update)(url)
    tps = None
    if app:
        run = app.stop()
        tps = round(len([t for t in run.txns if not t.failed]) / max(run.stopped - 3 -
                                                                    run.started, 1e-9), 1)
    srv.drop_db(RUN_DB)
    res = {"how": how, "load": load, "rows": rows, "seconds": round(secs, 2),
           "rows_per_s": round(rows / secs), "app_tps": tps, **facts}
    print(f"  {how:7} {'load' if load else 'idle'}: {rows} rows in {secs:.1f}s = "
          f"{res['rows_per_s']} rows/s" + (f" (app {tps} tps)" if tps else ""), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--scale", type=int, default=10, help="pgbench -s (default 10: 1M rows)")
    ap.add_argument("--clients", type=int, default=4, help="pgbench -c for the load (4)")
    ap.add_argument("--pairs", type=int, default=1, help="pairs per condition (default 1)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    runs: list[dict[str, Any]] = []
    with server(opts.dsn, "bench-backfill") as srv:
        print(f"{srv.label}; pgbench -i -s {opts.scale} ...", flush=True)
        pgbench_init(srv, srv.create_db(BASE_DB), opts.scale)
        try:
            for load in (False, True):
                for p in range(opts.pairs):
                    order = ["update", "migtui"] if p % 2 == 0 else ["migtui", "update"]
                    for how in order:
                        runs.append(measure(srv, how, load, opts.clients))
        finally:
            srv.drop_db(RUN_DB)
            srv.drop_db(BASE_DB)
    summary = {}
    for load in (False, True):
        up = [r["rows_per_s"] for r in runs if r["load"] == load and r["how"] == "update"]
        mg = [r["rows_per_s"] for r in runs if r["load"] == load and r["how"] == "migtui"]
        summary["load" if load else "idle"] = {
            "update_rows_per_s": round(sum(up) / len(up)),
            "migtui_rows_per_s": round(sum(mg) / len(mg)),
            "share_pct": round(100 * sum(mg) / len(mg) / (sum(up) / len(up)), 1)}
    result = {"benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "server": srv.label, "table": f"pgbench_accounts at -s {opts.scale}",
              "load": f"pgbench -c {opts.clients} -j 2 (TPC-B-like)", "runs": runs,
              "summary": summary}
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "Backfill throughput (`bench_backfill.py`)", table, result)


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}; {r['table']}; `SET {SET}` on "
        f"every row; load: {r['load']}. migtui: the runner's keyset batches (500 ms target, "
        f"one transaction per batch, progress saved in each); UPDATE: one statement.",
        "",
        "| condition | method | rows | seconds | rows/s | batches (median size) | app tps |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in r["runs"]:
        b = f"{x['batches']} ({x['batch_size_median']})" if "batches" in x else ""
        lines.append(f"| {'under load' if x['load'] else 'idle'} | {x['how']} | {x['rows']} "
                     f"| {x['seconds']} | {x['rows_per_s']} | {b} | {x['app_tps'] or ''} |")
    lines += ["", "| condition | single UPDATE (rows/s) | migtui backfill (rows/s) "
              "| share | target >= 50% |", "|---|---|---|---|---|"]
    for k, s in r["summary"].items():
        ok = "met" if s["share_pct"] >= 50 else "**missed**"
        lines.append(f"| {k} | {s['update_rows_per_s']} | {s['migtui_rows_per_s']} "
                     f"| {s['share_pct']}% | {ok} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
