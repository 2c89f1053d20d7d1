"""Benchmark (not a test): what a schema change costs the application, migtui vs by hand.

pgbench is the application (``-c 8 -P 1``, TPC-B-like, on ``pgbench_accounts``). The same
change is made twice on identical copies of the database, in one run:

* by ``migtui run tests/benchmarks/plans/app_impact.yaml`` (add a column; backfill it in
  keyset batches; CREATE INDEX CONCURRENTLY; NOT NULL through CHECK ... NOT VALID +
  VALIDATE, then SET NOT NULL, which needs no scan after that);
* by ``psql -f tests/benchmarks/plans/app_impact_naive.sql`` (ALTER TABLE ADD COLUMN;
  UPDATE of the whole table; CREATE INDEX; SET NOT NULL).

For each, from pgbench's per-transaction log: baseline and change-window p99, the peak
one-second p99, the longest transaction (the longest stall an application request saw),
failed transactions and aborted clients, and the TPS dip. Targets for migtui: p99 during
the change <= 1.5x the baseline p99, and the longest stall <= lock_timeout + 1 s.

Usage::

    python tests/benchmarks/bench_app_impact.py               # embedded PostgreSQL 18
    python tests/benchmarks/bench_app_impact.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --scale 20 --baseline 10 --tail 5 --rounds 1 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    HERE,
    App,
    Server,
    machine,
    pgbench_init,
    plot_series,
    server,
    sparkline,
    window_stats,
    write_section,
)

SECTION = "bench_app_impact"
PLAN = HERE / "plans" / "app_impact.yaml"
NAIVE = HERE / "plans" / "app_impact_naive.sql"
BASE_DB = "migtui_bench_impact_base"
RUN_DB = "migtui_bench_impact_run"
LOCK_TIMEOUT = 1.0  # the plan's settings.lock_timeout


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def change_by_migtui(url: str, workdir: Path) -> tuple[float, float, dict[str, Any]]:
    """Run the plan; (first step started, last step finished, facts) in epoch seconds."""
    plan = workdir / PLAN.name
    plan.write_text(PLAN.read_text())
    out = subprocess.run([sys.executable, "-m", "migtui", "run", str(plan), "--json"],
                         capture_output=True, text=True, env={**os.environ, "BENCH_URL": url},
                         check=False)
    evs = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0:
        sys.exit(f"migtui run failed ({out.returncode}):\n{out.stdout[-3000:]}{out.stderr}")
    steps = [e for e in evs if e["kind"] in ("StepStarted", "StepFinished")]
    retries = sum(1 for e in evs if e["kind"] == "StepRetried")
    throttled = sum(1 for e in evs if e["kind"] == "StepProgress" and e.get("throttled"))
    progress = [e for e in evs if e["kind"] == "StepProgress"]
    return epoch(steps[0]["at"]), epoch(steps[-1]["at"]), {
        "lock_retries": retries, "batches": len(progress),
        "batches_throttled": throttled,
        "steps": {e["step_id"]: e["elapsed"] for e in evs if e["kind"] == "StepFinished"}}


def change_by_psql(srv: Server, url: str) -> tuple[float, float, dict[str, Any]]:
    t0 = time.time()
    out = subprocess.run([srv.tool("psql"), "-X", "-q", "-f", str(NAIVE), url],
                         capture_output=True, text=True, check=False)
    t1 = time.time()
    if out.returncode != 0:
        sys.exit(f"psql failed:\n{out.stderr[-2000:]}")
    return t0, t1, {}


def one_arm(srv: Server, how: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = srv.create_db(RUN_DB, template=BASE_DB)
    srv.execute("CHECKPOINT")
    app = App(srv, url, clients=opts.clients).start()
    time.sleep(opts.baseline)
    if how == "migtui":
        start, end, facts = change_by_migtui(url, workdir)
    else:
        start, end, facts = change_by_psql(srv, url)
    time.sleep(opts.tail)
    run = app.stop()
    first = run.txns[0].end if run.txns else run.started
    base = window_stats(run, max(run.started + 2, first), start)  # skip connection ramp-up
    during = window_stats(run, start, end)
    whole = window_stats(run, start - 5, run.stopped)
    schema = final_schema(url)
    srv.drop_db(RUN_DB)
    res = {
        "how": how, "change_seconds": round(end - start, 2), "baseline": base,
        "change": during, "aborted_clients": run.aborted_clients,
        "p99_ratio": ratio(during["p99_ms"], base["p99_ms"]),
        "tps_dip_pct": dip(base["tps_mean"], during["tps_min_1s"]),
        "timeline_p99_ms": whole["p99_series_ms"], "timeline_tps": whole["tps_series"],
        "schema": schema, **facts,
    }
    print(f"  {how:6}: change {res['change_seconds']:.1f}s  p99 {base['p99_ms']} -> "
          f"{during['p99_ms']} ms  max {during['max_ms']} ms  tps {base['tps_mean']} -> "
          f"min {during['tps_min_1s']}  aborted {run.aborted_clients}", flush=True)
    return res


def final_schema(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as c:
        notnull = c.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                            "'pgbench_accounts'::regclass AND attname = 'tier'").fetchone()
        idx = c.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                        "to_regclass('pgbench_accounts_tier_idx')").fetchone()
        nulls = c.execute("SELECT count(*) FROM pgbench_accounts WHERE tier IS NULL").fetchone()
    return {"tier_not_null": bool(notnull and notnull[0]), "index_valid": bool(idx and idx[0]),
            "null_rows": int(nulls[0]) if nulls else None}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def dip(base: float, low: float | None) -> float | None:
    return round(100 * (base - low) / base, 1) if low is not None and base else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--scale", type=int, default=20, help="pgbench -s (default 20: 2M rows)")
    ap.add_argument("--clients", type=int, default=8, help="pgbench -c (default 8)")
    ap.add_argument("--baseline", type=float, default=10, help="seconds before the change")
    ap.add_argument("--tail", type=float, default=5, help="seconds after the change")
    ap.add_argument("--rounds", type=int, default=1,
                    help="migtui/psql pairs, alternating which goes first (default 1)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    import tempfile

    with server(opts.dsn, "bench-app-impact") as srv, \
            tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        print(f"{srv.label}; pgbench -i -s {opts.scale} ...", flush=True)
        base_url = srv.create_db(BASE_DB)
        pgbench_init(srv, base_url, opts.scale)
        arms: list[dict[str, Any]] = []
        try:
            for r in range(opts.rounds):
                order = ["migtui", "psql"] if r % 2 == 0 else ["psql", "migtui"]
                for how in order:
                    arms.append({"round": r + 1, **one_arm(srv, how, opts, Path(tmp))})
        finally:
            srv.drop_db(RUN_DB)
            srv.drop_db(BASE_DB)
    result = {
        "benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "server": srv.label,
        "pgbench": f"-s {opts.scale} -c {opts.clients} -j 2 -P 1 (TPC-B-like), "
                   f"{opts.baseline:g}s baseline, {opts.tail:g}s tail",
        "lock_timeout_s": LOCK_TIMEOUT, "arms": arms,
    }
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        png = plot_series(SECTION, "Application impact: migtui vs a psql script", [
            ("p99 latency (ms)", {f"{a['how']} r{a['round']}": a["timeline_p99_ms"]
                                  for a in arms}),
            ("transactions / s", {f"{a['how']} r{a['round']}": a["timeline_tps"]
                                  for a in arms})],
            xlabel="seconds, from 5 s before the change")
        table += f"\n\n![p99 latency and TPS per second]({png.name})"
        write_section(SECTION, "Application impact: migtui vs a psql script "
                      "(`bench_app_impact.py`)", table, result)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}; pgbench {r['pgbench']}. "
        f"The same change on identical copies: migtui (`plans/app_impact.yaml`) and psql "
        f"(`plans/app_impact_naive.sql`). Latencies from pgbench's per-transaction log; the "
        f"change window runs from the first statement to the last.",
        "",
        "| run | change (s) | baseline p99 (ms) | change p99 (ms) | ratio | peak 1-s p99 (ms) "
        "| max latency (ms) | longest gap (ms) | failed tx | aborted clients | baseline tps "
        "| min 1-s tps | TPS dip |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in r["arms"]:
        b, c = a["baseline"], a["change"]
        lines.append(
            f"| {a['how']} (round {a['round']}) | {a['change_seconds']:.1f} | {b['p99_ms']} "
            f"| {c['p99_ms']} | {a['p99_ratio']}x | {c['peak_p99_1s_ms']} | {c['max_ms']} "
            f"| {c['longest_gap_ms']} | {c['failed']} | {a['aborted_clients']} "
            f"| {b['tps_mean']} | {c['tps_min_1s']} | {a['tps_dip_pct']}% |")
    lines += ["", "Targets for migtui:", ""]
    limit_ms = (r["lock_timeout_s"] + 1) * 1000
    for a in r["arms"]:
        if a["how"] != "migtui":
            continue
        c = a["change"]
        lines.append(f"- round {a['round']}: p99 during the change {a['p99_ratio']}x the "
                     f"baseline (target <= 1.5x): {verdict((a['p99_ratio'] or 99) <= 1.5)}; "
                     f"longest stall {c['max_ms']} ms (target <= lock_timeout + 1 s = "
                     f"{limit_ms:.0f} ms): {verdict((c['max_ms'] or 0) <= limit_ms)}. "
                     f"Lock retries: {a.get('lock_retries')}, backfill batches: "
                     f"{a.get('batches')} ({a.get('batches_throttled')} throttled by the "
                     f"latency alert).")
        if (a["p99_ratio"] or 99) > 1.5:
            lines.append(f"  The p99 target was missed: with {os.cpu_count()} cpus saturated by "
                         f"pgbench, every backfill batch competes with the application for "
                         f"the same CPUs and disk. The plan's latency alert throttled "
                         f"{a.get('batches_throttled')} of {a.get('batches')} batches; a "
                         f"`sleep` between batches or a smaller `batch_target` trades a "
                         f"longer change for a lower p99.")
    lines += ["", "p99 latency per second, from 5 s before the change to the end "
              "(same scale for all rows; the top is the largest value shown; a blank is a "
              "second in which no transaction finished):", "", "```"]
    top = max((v for a in r["arms"] for v in a["timeline_p99_ms"] if v is not None),
              default=1.0)
    for a in r["arms"]:
        lines.append(f"{a['how']:>6} r{a['round']} {sparkline(a['timeline_p99_ms'], top)}")
    lines.append(f"top = {top:.0f} ms")
    lines += ["```", "", "TPS per second over the same windows:", "", "```"]
    ttop = max((v for a in r["arms"] for v in a["timeline_tps"]), default=1)
    for a in r["arms"]:
        lines.append(f"{a['how']:>6} r{a['round']} {sparkline(a['timeline_tps'], ttop)}")
    lines += [f"top = {ttop} tps", "```"]
    same = all(a["schema"] == r["arms"][0]["schema"] for a in r["arms"])
    lines += ["", f"Final schema identical in every run: {'yes' if same else 'NO'} "
              f"({r['arms'][0]['schema']})."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
