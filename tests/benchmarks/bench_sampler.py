"""Benchmark (not a test): what the sampler costs the database it watches.

1. Database time per sample: the client-side time of the sampler's own monitoring reads
   (``Snapshot.db_time``), the whole sample (``duration``, probes and checks included),
   and, with pg_stat_statements, the server's execution time of the tagged
   ``/* migtui-sampler */`` queries divided by the number of samples.
2. pgbench TPS with the sampler at 1 Hz and off, alternated in one run (off, on, off,
   on, ...) so drift on a shared machine hits both sides alike.

Usage::

    python tests/benchmarks/bench_sampler.py                    # embedded PostgreSQL 18
    python tests/benchmarks/bench_sampler.py --dsn postgresql://postgres@127.0.0.1:5432/test

It prints the results side by side and writes them, as a Markdown table and JSON, into
the ``bench_sampler`` section of ``tests/benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import with_db, write_section  # noqa: E402

from migtui.embedded import EmbeddedPostgres  # noqa: E402
from migtui.plan.model import Plan
from migtui.sampler import Sampler, Snapshot
from migtui.sampler.collect import TAG
from migtui.sampler.window import percentile

HERE = Path(__file__).resolve().parent
SECTION = "bench_sampler"
DB = "migtui_bench_sampler"


def bench_plan() -> Plan:
    """Every gauge on: two probes, a smoke query, an integrity check."""
    return Plan.model_validate({
        "migtui": 1, "title": "bench", "type": "schema_change", "agent": "bench",
        "overview": [], "documentation": [],
        "risks": {"rollback_triggers": [{"metric": "latency", "above": "+50%"}]},
        "monitoring": {
            "probes": ["SELECT abalance FROM pgbench_accounts WHERE aid = 4242",
                       "SELECT sum(tbalance) FROM pgbench_tellers WHERE bid = 1"],
            "smoke": ["SELECT 1 FROM pgbench_branches LIMIT 1"],
            "integrity": [{"name": "branches present",
                           "sql": "SELECT count(*) FROM pgbench_branches", "expect": "> 0"}],
        },
    })


def pgbench_binary(embedded: EmbeddedPostgres | None) -> str:
    if embedded is not None and (embedded.bin / "pgbench").exists():
        return str(embedded.bin / "pgbench")
    found = shutil.which("pgbench")
    if not found:
        sys.exit("pgbench not found: install the PostgreSQL client tools")
    return found


def run_pgbench(pgbench: str, url: str, args: list[str]) -> str:
    out = subprocess.run([pgbench, *args, url], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"pgbench failed:\n{out.stderr[-2000:]}")
    return out.stdout + out.stderr


def tps_of(output: str) -> float:
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output) or re.search(
        r"tps = ([0-9.]+)", output)
    if not m:
        sys.exit(f"no tps in pgbench output:\n{output[-1000:]}")
    return float(m.group(1))


def sampler_server_ms(url: str) -> tuple[float, float] | None:
    """(calls, total ms) of the sampler's tagged queries, or None without pgss."""
    try:
        with psycopg.connect(url, autocommit=True) as c:
            row = c.execute(
                "SELECT coalesce(sum(calls), 0)::float8, coalesce(sum(total_exec_time), 0)::float8"
                " FROM pg_stat_statements WHERE query LIKE %s", (f"%{TAG}%",)).fetchone()
            return (row[0], row[1]) if row else None
    except psycopg.Error:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--scale", type=int, default=5, help="pgbench -s (default 5)")
    ap.add_argument("--clients", type=int, default=4, help="pgbench -c (default 4)")
    ap.add_argument("--seconds", type=int, default=10, help="seconds per round (default 10)")
    ap.add_argument("--pairs", type=int, default=3, help="off/on pairs (default 3)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    with ExitStack() as stack:
        embedded = None
        admin = opts.dsn
        if admin is None:
            embedded = EmbeddedPostgres(  # home: MIGTUI_HOME, else migtui's default
                name="bench-sampler", settings={"shared_preload_libraries": "pg_stat_statements",
                                                "max_connections": "60"})
            admin = embedded.start()
            stack.callback(embedded.destroy)
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
            server = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(DB)))

        stack.callback(drop)
        url = with_db(admin, DB)
        pgbench = pgbench_binary(embedded)
        print(f"PostgreSQL {server}; pgbench -i -s {opts.scale} ...", flush=True)
        run_pgbench(pgbench, url, ["-i", "-q", "-s", str(opts.scale)])
        with psycopg.connect(url, autocommit=True) as c, suppress(psycopg.Error):
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

        plan = bench_plan()
        bench_args = ["-c", str(opts.clients), "-j", str(min(opts.clients, 2)), "-T",
                      str(opts.seconds), "-n"]
        rounds: list[dict[str, Any]] = []
        snaps: list[Snapshot] = []
        server_before = sampler_server_ms(url)
        for i in range(opts.pairs * 2):
            on = i % 2 == 1
            sampler = Sampler(plan, url, interval=1.0, on_snapshot=snaps.append) if on else None
            if sampler:
                sampler.start()
            tps = tps_of(run_pgbench(pgbench, url, bench_args))
            if sampler:
                sampler.stop()
            rounds.append({"round": i + 1, "sampler": "on" if on else "off", "tps": tps})
            print(f"  round {i + 1}: sampler {'on ' if on else 'off'}  {tps:9.1f} tps", flush=True)
        server_after = sampler_server_ms(url)

    good = [s for s in snaps if s.error is None]
    off = [r["tps"] for r in rounds if r["sampler"] == "off"]
    on = [r["tps"] for r in rounds if r["sampler"] == "on"]
    per_sample: dict[str, Any] = {
        "samples": len(snaps), "failed": len(snaps) - len(good),
        "db_time_ms_median": 1000 * statistics.median(s.db_time for s in good),
        "db_time_ms_p95": 1000 * (percentile([s.db_time for s in good], 95) or 0),
        "sample_ms_median": 1000 * statistics.median(s.duration for s in good),
        "sample_ms_p95": 1000 * (percentile([s.duration for s in good], 95) or 0),
    }
    if server_before and server_after and good:
        per_sample["server_exec_ms_per_sample"] = (server_after[1] - server_before[1]) / len(good)
        per_sample["queries_per_sample"] = (server_after[0] - server_before[0]) / len(good)
    result = {
        "benchmark": SECTION, "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}",
        "server": f"PostgreSQL {server} ({'embedded' if opts.dsn is None else 'given DSN'})",
        "pgbench": f"-s {opts.scale} -c {opts.clients} -T {opts.seconds}, {opts.pairs} pairs",
        "per_sample": per_sample, "rounds": rounds,
        "tps_off_mean": statistics.mean(off), "tps_on_mean": statistics.mean(on),
        "tps_change_pct": 100 * (statistics.mean(on) - statistics.mean(off)) / statistics.mean(off),
    }
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "Sampler cost (`bench_sampler.py`)", table, result)


def markdown(r: dict[str, Any]) -> str:
    ps = r["per_sample"]
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}; pgbench {r['pgbench']}; "
        f"sampler at 1 Hz with 2 probes, 1 smoke query, 1 integrity check.",
        "",
        "| per sample | median | p95 |",
        "|---|---|---|",
        f"| monitoring reads, client side (ms) | {ps['db_time_ms_median']:.2f} "
        f"| {ps['db_time_ms_p95']:.2f} |",
        f"| whole sample incl. probes and checks (ms) | {ps['sample_ms_median']:.2f} "
        f"| {ps['sample_ms_p95']:.2f} |",
    ]
    if "server_exec_ms_per_sample" in ps:
        lines.append(f"| server execution of the tagged reads (ms, mean) | "
                     f"{ps['server_exec_ms_per_sample']:.3f} | |")
    lines += ["", "| round | sampler off (tps) | sampler on (tps) |", "|---|---|---|"]
    rounds = r["rounds"]
    for i in range(0, len(rounds) - 1, 2):
        lines.append(f"| {i // 2 + 1} | {rounds[i]['tps']:.1f} | {rounds[i + 1]['tps']:.1f} |")
    lines.append(f"| **mean** | **{r['tps_off_mean']:.1f}** | **{r['tps_on_mean']:.1f}** "
                 f"({r['tps_change_pct']:+.1f}%) |")
    off = [x["tps"] for x in rounds if x["sampler"] == "off"]
    spread = 100 * (max(off) - min(off)) / r["tps_off_mean"]
    lines += ["", f"Round-to-round spread with the sampler off: {spread:.0f}% of the mean. "
              f"A TPS change smaller than that is noise, not the sampler's cost; the "
              f"per-sample server time above is the direct measure."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
