"""Benchmark (not a test): do the latency triggers trip only when something is wrong?

Three scenarios, each run N times (``--runs``, default 20):

* **demo, no bad step**: the demo's story (``migtui.demo.story.play``, the headless
  ``migtui demo`` flow) with the shop's application traffic running in-process, as in the
  demo, but without the step that drops the index: baseline, a column, a concurrent
  index, the throttled backfill, a check, 20 s of watching. Any trip is a false alarm.
* **no DDL under pgbench on a loaded machine**: ``migtui run`` of a plan with a baseline,
  a check and 30 s of watching, under ``pgbench -c 4`` and a CPU-bound process beside it
  (``python -c 'while True: pass'``, killed after the run). Any trip is a false alarm.
* **demo, bad step**: the full demo story; the dropped index must trip the latency
  trigger, within ``--detect`` seconds (5) of the bad step finishing, and not before it.

Goal: 0 false trips, and every real degradation detected in time.

Usage::

    python tests/benchmarks/bench_false_alarms.py               # embedded PostgreSQL 18
    python tests/benchmarks/bench_false_alarms.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --runs 20 --bad-runs 10 --orders 300000 --scale 5 --only demo,pgbench,bad --no-write
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    REPO,
    App,
    Server,
    machine,
    pgbench_init,
    server,
    write_section,
)

SECTION = "bench_false_alarms"
SHOP_DB = "migtui_bench_fa_shop"
PGB_BASE = "migtui_bench_fa_pgb_base"
PGB_RUN = "migtui_bench_fa_pgb_run"
DEMO_PLAN = REPO / "migtui" / "demo" / "plan.yaml"
BAD = "drop_customer_index"

PGB_PLAN = """\
migtui: 1
id: bench-false-alarms
title: No DDL under load
type: schema_change
agent: bench
targets:
  bench: {dsn_env: BENCH_URL, environment: staging}
settings: {sample_interval: 1s, latency_window: 5s}
phases:
  - name: Execution
    items:
      - {text: Baseline, run: {baseline: 10s}}
      - {text: Check, run: {check: "SELECT count(*) FROM pgbench_branches", expect: "> 0"}}
      - {text: Watch, run: {watch: 30s}}
monitoring:
  probes:
    - "SELECT abalance FROM pgbench_accounts WHERE aid = 4242"
    - "SELECT bid, bbalance FROM pgbench_branches WHERE bid = 1"
  metrics:
    - {metric: latency, alert: +25%, for: 1s}
risks:
  rollback_triggers:
    - {text: Performance degradation >50%, metric: latency, above: +50%, for: 3s}
"""


def demo_run(url: str, n: int, bad: bool, tmp: Path) -> dict[str, Any]:
    from migtui.demo.story import play
    from migtui.demo.traffic import Traffic
    from migtui.events import Event, StepFinished, ThresholdChanged
    from migtui.plan import load_plan_text

    text = DEMO_PLAN.read_text()
    if not bad:
        text = text.replace(f"backfill_status, {BAD}]", "backfill_status]")
        assert BAD + "]" not in text
    path = tmp / ("demo_bad.yaml" if bad else "demo_ok.yaml")
    path.write_text(text)
    plan = load_plan_text(text, str(path))
    trips: list[dict[str, Any]] = []
    warns = 0
    at: dict[str, float] = {}

    def on_event(ev: Event) -> None:
        nonlocal warns
        if isinstance(ev, StepFinished) and ev.step_id == BAD and ev.action == "apply":
            at["bad_done"] = time.monotonic()
        if isinstance(ev, ThresholdChanged) and ev.metric == "latency":
            if ev.state == "trip":
                at.setdefault("trip", time.monotonic())
                trips.append({"value": ev.value, "limit": ev.limit, "baseline": ev.baseline})
            elif ev.state == "warn":
                warns += 1

    customers, orders = _shop(url)
    with Traffic(url, workers=4, rate=20.0, seed=42 + n, orders=orders, customers=customers):
        rep = play(plan, path, url, say=lambda _s: None, on_event=on_event,
                   recovery_wait=20.0 if bad else 1.0, warmup=5.0)
    res: dict[str, Any] = {
        "run": n, "trips": len(trips), "warns": warns,
        "baseline_ms": None if rep.baseline_latency is None else round(
            rep.baseline_latency * 1000, 2),
        "first_trip": trips[0] if trips else None,
    }
    if bad:
        d = at["trip"] - at["bad_done"] if "trip" in at and "bad_done" in at else None
        if "trip" in at and "bad_done" not in at:
            d = -1.0  # tripped before the bad step ran
        res.update(detect_s=None if d is None else round(d, 2), rollback_ok=rep.rollback_ok)
    return res


def _shop(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as c:
        row = c.execute("SELECT (SELECT max(id) FROM customers), (SELECT max(id) FROM orders)"
                        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def pgbench_run(srv: Server, n: int, tmp: Path) -> dict[str, Any]:
    from migtui.demo.story import play
    from migtui.events import BaselineRecorded, Event, ThresholdChanged
    from migtui.plan import load_plan_text

    url = srv.create_db(PGB_RUN, template=PGB_BASE)
    srv.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=PGB_RUN)
    path = tmp / "no_ddl.yaml"
    path.write_text(PGB_PLAN)
    plan = load_plan_text(PGB_PLAN, str(path))
    trips: list[ThresholdChanged] = []
    warns: list[ThresholdChanged] = []
    bases: list[BaselineRecorded] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, ThresholdChanged) and ev.metric == "latency":
            (trips if ev.state == "trip" else warns if ev.state == "warn" else []).append(ev)
        elif isinstance(ev, BaselineRecorded):
            bases.append(ev)

    app = App(srv, url, clients=4).start()
    hog = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 120\n"
                            "while time.time() < end: pass"])
    try:
        play(plan, path, with_db_env(url), say=lambda _s: None, on_event=on_event,
             recovery_wait=1.0, warmup=3.0)
    finally:
        hog.kill()
        hog.wait()
        run = app.stop()
    srv.drop_db(PGB_RUN)
    lat = bases[0].metrics.get("latency", {}) if bases else {}
    return {"run": n, "trips": len(trips), "warns": len(warns),
            "baseline_ms": round(lat["median"] * 1000, 3) if "median" in lat else None,
            "baseline_server_share": lat.get("server"),
            "app_tps": round(len(run.txns) / max(1e-9, run.stopped - run.started), 1),
            "first_trip": ({"value": trips[0].value, "limit": trips[0].limit,
                            "baseline": trips[0].baseline} if trips else None)}


def with_db_env(url: str) -> str:
    os.environ["BENCH_URL"] = url
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--runs", type=int, default=20, help="runs per scenario (default 20)")
    ap.add_argument("--bad-runs", type=int, help="runs of the bad-step scenario (default: --runs)")
    ap.add_argument("--orders", type=int, default=300_000, help="the shop's orders")
    ap.add_argument("--scale", type=int, default=5, help="pgbench -s")
    ap.add_argument("--detect", type=float, default=5.0, help="detection goal, seconds")
    ap.add_argument("--only", default="demo,pgbench,bad", help="scenarios to run")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()
    only = set(opts.only.split(","))

    from migtui.demo.data import create_shop

    results: dict[str, list[dict[str, Any]]] = {"demo": [], "pgbench": [], "bad": []}
    with server(opts.dsn, "bench-false-alarms") as srv, \
            tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            if only & {"demo", "bad"}:
                shop = srv.create_db(SHOP_DB)
                srv.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=SHOP_DB)
                print(f"{srv.label}; the shop with {opts.orders:,} orders ...", flush=True)
                create_shop(shop, customers=max(1000, opts.orders // 50), orders=opts.orders)
                srv.execute("VACUUM ANALYZE", db=SHOP_DB)
                bad_runs = opts.runs if opts.bad_runs is None else opts.bad_runs
                for n in range(1, max(opts.runs, bad_runs) + 1):
                    for kind, bad in (("demo", False), ("bad", True)):
                        if kind in only and n <= (bad_runs if bad else opts.runs):
                            r = demo_run(shop, n, bad, tmp)
                            results[kind].append(r)
                            print(f"  {kind} {n}: {r}", flush=True)
            if "pgbench" in only:
                pgbench_init(srv, srv.create_db(PGB_BASE), opts.scale)
                for n in range(1, opts.runs + 1):
                    r = pgbench_run(srv, n, tmp)
                    results["pgbench"].append(r)
                    print(f"  pgbench {n}: {r}", flush=True)
        finally:
            for db in (SHOP_DB, PGB_BASE, PGB_RUN):
                srv.drop_db(db)
    summary = summarize(results, opts.detect)
    result = {"benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "server": srv.label, "runs_per_scenario": opts.runs, "orders": opts.orders,
              "pgbench_scale": opts.scale, "summary": summary, "runs": results}
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "False alarms and detection (`bench_false_alarms.py`)", table,
                      result)


def summarize(results: dict[str, list[dict[str, Any]]], goal: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("demo", "pgbench"):
        rs = results[kind]
        if rs:
            out[kind] = {"runs": len(rs), "runs_with_a_trip": sum(1 for r in rs if r["trips"]),
                         "runs_with_a_warn": sum(1 for r in rs if r["warns"])}
    rs = results["bad"]
    if rs:
        times = [r["detect_s"] for r in rs if r["detect_s"] is not None]
        out["bad"] = {"runs": len(rs),
                      "detected_in_time": sum(1 for t in times if 0 <= t <= goal),
                      "tripped_before_the_bad_step": sum(1 for t in times if t < 0),
                      "not_detected": sum(1 for r in rs if r["detect_s"] is None),
                      "detect_s_max": max(times) if times else None,
                      "detect_s_min": min(times) if times else None,
                      "rolled_back": sum(1 for r in rs if r.get("rollback_ok"))}
    return out


def markdown(r: dict[str, Any]) -> str:
    s = r["summary"]
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}; up to {r['runs_per_scenario']} "
        f"runs per scenario (each table gives its count). Demo scenarios: the demo plan's "
        f"triggers (latency +50% for 2 s trips, +25% for 1 s warns); pgbench: +50% for 3 s, "
        f"+25% for 1 s.",
        "",
        "| scenario | runs | runs with a latency trip | runs with a latency warn |",
        "|---|---|---|---|",
    ]
    if "demo" in s:
        d = s["demo"]
        lines.append(f"| demo story without the bad step, app traffic ({r['orders']:,} "
                     f"orders) | {d['runs']} | **{d['runs_with_a_trip']}** "
                     f"| {d['runs_with_a_warn']} |")
    if "pgbench" in s:
        d = s["pgbench"]
        lines.append(f"| no DDL, pgbench -c 4 (scale {r['pgbench_scale']}) + a CPU-bound "
                     f"process | {d['runs']} | **{d['runs_with_a_trip']}** "
                     f"| {d['runs_with_a_warn']} |")
    if "bad" in s:
        b = s["bad"]
        lines += ["", "| real degradation (the demo's dropped index) | runs | tripped ≤ 5 s "
                  "after the step | tripped before it | not detected | detection min–max (s) "
                  "| rolled back |", "|---|---|---|---|---|---|---|",
                  f"| demo story | {b['runs']} | **{b['detected_in_time']}** "
                  f"| {b['tripped_before_the_bad_step']} | {b['not_detected']} "
                  f"| {b['detect_s_min']}–{b['detect_s_max']} | {b['rolled_back']} |"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
