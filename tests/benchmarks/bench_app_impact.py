"""Benchmark (not a test): what a schema change costs the application: a naive psql script,
a careful script by hand, and migtui with default settings; alone, then with a standby.

pgbench is the application (``-c 8 -P 1``, TPC-B-like, on ``pgbench_accounts``). The same
change (add a column; fill it; index it; make it NOT NULL) is made on identical copies of
the database, in one run, on the same server:

* ``naive``: ``psql -f plans/app_impact_naive.sql`` (ADD COLUMN; one UPDATE of the whole
  table; CREATE INDEX; SET NOT NULL);
* ``careful``: ``plans/app_impact_careful.py``, by hand without gauges: 5,000-row keyset
  batches, CREATE INDEX CONCURRENTLY, CHECK ... NOT VALID + VALIDATE, lock_timeout 1 s
  with retries;
* ``migtui``: ``migtui run plans/app_impact.yaml`` with **default settings** (no
  batch_target, batch size or pacing tuned);

then the same three with a streaming standby attached (embedded server only: the
standby is made with the wheel's ``pg_basebackup``).

For each, from pgbench's per-transaction log: baseline and change-window p99, the longest
stall (the longest transaction), failed transactions, the time to finish, and the peak
replica lag (``pg_stat_replication.replay_lag``, polled every 100 ms). Goals for migtui,
with default settings: p99 <= 1.25x the baseline, longest stall <= 250 ms, peak replica lag
<= 1 s, time <= 2x the careful script's.

Usage::

    python tests/benchmarks/bench_app_impact.py               # embedded PostgreSQL 18
    python tests/benchmarks/bench_app_impact.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --scale 20 --baseline 10 --tail 5 --no-standby --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
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
CAREFUL = HERE / "plans" / "app_impact_careful.py"
BASE_DB = "migtui_bench_impact_base"
RUN_DB = "migtui_bench_impact_run"
GOAL_RATIO, GOAL_STALL_MS, GOAL_LAG_S, GOAL_TIME = 1.25, 250.0, 1.0, 2.0
HOWS = ("naive", "careful", "migtui")


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
    progress = [e for e in evs if e["kind"] == "StepProgress"]
    limits: dict[str, int] = {}
    for e in progress:
        key = (e.get("limited_by") or "").split(" ")[0:2]
        name = " ".join(key) if key and key[0] in ("replica", "app", "writers") else (
            e.get("limited_by") or "?")
        limits[name] = limits.get(name, 0) + 1
    return epoch(steps[0]["at"]), epoch(steps[-1]["at"]), {
        "lock_retries": retries, "batches": len(progress), "limited_by": limits,
        "paused": [e["reason"] for e in evs if e["kind"] == "StepPaused"],
        "steps": {e["step_id"]: e["elapsed"] for e in evs if e["kind"] == "StepFinished"}}


def change_by_psql(srv: Server, url: str) -> tuple[float, float, dict[str, Any]]:
    t0 = time.time()
    out = subprocess.run([srv.tool("psql"), "-X", "-q", "-f", str(NAIVE), url],
                         capture_output=True, text=True, check=False)
    t1 = time.time()
    if out.returncode != 0:
        sys.exit(f"psql failed:\n{out.stderr[-2000:]}")
    return t0, t1, {}


def change_by_hand(url: str) -> tuple[float, float, dict[str, Any]]:
    t0 = time.time()
    out = subprocess.run([sys.executable, str(CAREFUL), url], capture_output=True, text=True,
                         check=False)
    t1 = time.time()
    if out.returncode != 0:
        sys.exit(f"the careful script failed:\n{out.stderr[-2000:]}")
    return t0, t1, {}


class LagWatch:
    """The worst replay lag of any standby, polled every 100 ms between start and stop."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.admin, autocommit=True) as c:
                    while not self._stop.is_set():
                        row = c.execute("SELECT max(extract(epoch FROM replay_lag))::float8 "
                                        "FROM pg_stat_replication").fetchone()
                        if row and row[0] is not None:
                            self.samples.append((time.time(), float(row[0])))
                        time.sleep(0.1)
            except psycopg.Error:
                time.sleep(0.1)  # terminated with the application's sessions: reconnect

    def start(self) -> LagWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self, start: float, end: float) -> float | None:
        inside = [v for t, v in self.samples if start <= t <= end + 2]
        return round(max(inside), 2) if inside else None


def caught_up(admin: str, timeout: float = 120) -> None:
    """Wait until every standby replayed what the primary wrote (the copied database)."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(admin, autocommit=True) as c:
        while time.monotonic() < deadline:
            row = c.execute("SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                            "replay_lsn)), 0) FROM pg_stat_replication").fetchone()
            streaming = c.execute("SELECT count(*) FROM pg_stat_replication "
                                  "WHERE state = 'streaming'").fetchone()
            if not (streaming and streaming[0]):
                sys.exit("the standby is not streaming: see its postgres.log")
            if row and row[0] is not None and float(row[0]) < 1024 * 1024:
                return
            time.sleep(0.5)


def one_arm(srv: Server, how: str, opts: argparse.Namespace, workdir: Path,
            standby: bool) -> dict[str, Any]:
    url = srv.create_db(RUN_DB, template=BASE_DB)
    srv.execute("CHECKPOINT")
    if standby:
        caught_up(srv.admin)
    lag = LagWatch(srv.admin).start()
    app = App(srv, url, clients=opts.clients).start()
    time.sleep(opts.baseline)
    if how == "migtui":
        start, end, facts = change_by_migtui(url, workdir)
    elif how == "careful":
        start, end, facts = change_by_hand(url)
    else:
        start, end, facts = change_by_psql(srv, url)
    time.sleep(opts.tail)
    run = app.stop()
    lag.stop()
    first = run.txns[0].end if run.txns else run.started
    base = window_stats(run, max(run.started + 2, first), start)  # skip connection ramp-up
    during = window_stats(run, start, end)
    whole = window_stats(run, start - 5, run.stopped)
    schema = final_schema(url)
    srv.drop_db(RUN_DB)
    res = {
        "how": how, "standby": standby, "change_seconds": round(end - start, 2),
        "baseline": base, "change": during, "aborted_clients": run.aborted_clients,
        "p99_ratio": ratio(during["p99_ms"], base["p99_ms"]),
        "peak_lag_s": lag.peak(start, end) if standby else None,
        "tps_dip_pct": dip(base["tps_mean"], during["tps_min_1s"]),
        "timeline_p99_ms": whole["p99_series_ms"], "timeline_tps": whole["tps_series"],
        "schema": schema, **facts,
    }
    print(f"  {how:7}{' +standby' if standby else '         '}: change "
          f"{res['change_seconds']:.1f}s  p99 {base['p99_ms']} -> {during['p99_ms']} ms  max "
          f"{during['max_ms']} ms  failed {during['failed']}  lag {res['peak_lag_s']}  "
          f"{facts.get('limited_by', '')}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", help="superuser URL of a server (default: embedded PostgreSQL)")
    ap.add_argument("--scale", type=int, default=20, help="pgbench -s (default 20: 2M rows)")
    ap.add_argument("--clients", type=int, default=8, help="pgbench -c (default 8)")
    ap.add_argument("--baseline", type=float, default=10, help="seconds before the change")
    ap.add_argument("--tail", type=float, default=5, help="seconds after the change")
    ap.add_argument("--only", choices=HOWS, action="append", help="run only these arms")
    ap.add_argument("--no-standby", action="store_true", help="skip the arms with a standby")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()
    hows = opts.only or list(HOWS)

    import tempfile

    with server(opts.dsn, "bench-app-impact") as srv, \
            tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        print(f"{srv.label}; pgbench -i -s {opts.scale} ...", flush=True)
        base_url = srv.create_db(BASE_DB)
        pgbench_init(srv, base_url, opts.scale)
        arms: list[dict[str, Any]] = []
        try:
            for how in hows:
                arms.append(one_arm(srv, how, opts, Path(tmp), standby=False))
            if srv.embedded is not None and not opts.no_standby:
                from migtui.standby import EmbeddedStandby

                # through a slot: without one, the naive arm's WAL outruns the standby and
                # the primary recycles segments it still needs (seen: the standby stopped)
                sb = EmbeddedStandby(name="bench-app-impact-standby", primary=srv.embedded,
                                     home=srv.embedded.home, slot="bench_app_impact")
                try:
                    sb.start()
                    sb.wait_streaming()
                    for how in hows:
                        arms.append(one_arm(srv, how, opts, Path(tmp), standby=True))
                finally:
                    sb.destroy()
        finally:
            srv.drop_db(RUN_DB)
            srv.drop_db(BASE_DB)
    result = {
        "benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "server": srv.label,
        "pgbench": f"-s {opts.scale} -c {opts.clients} -j 2 -P 1 (TPC-B-like), "
                   f"{opts.baseline:g}s baseline, {opts.tail:g}s tail",
        "arms": arms,
    }
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        png = plot_series(SECTION, "Application impact: naive, careful by hand, migtui", [
            ("p99 latency (ms)", {name(a): a["timeline_p99_ms"] for a in arms}),
            ("transactions / s", {name(a): a["timeline_tps"] for a in arms})],
            xlabel="seconds, from 5 s before the change")
        table += f"\n\n![p99 latency and TPS per second]({png.name})"
        write_section(SECTION, "Application impact: naive, careful by hand, migtui "
                      "(`bench_app_impact.py`)", table, result)


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


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def name(a: dict[str, Any]) -> str:
    return f"{a['how']}{' + standby' if a['standby'] else ''}"


def goals(a: dict[str, Any], careful: dict[str, Any] | None) -> list[str]:
    c = a["change"]
    out = [f"p99 {a['p99_ratio']}x (goal <= {GOAL_RATIO}x): "
           f"{verdict((a['p99_ratio'] or 99) <= GOAL_RATIO)}",
           f"longest stall {c['max_ms']} ms (goal <= {GOAL_STALL_MS:.0f} ms): "
           f"{verdict((c['max_ms'] or 0) <= GOAL_STALL_MS)}"]
    if a["standby"]:
        lag = a["peak_lag_s"]
        out.append(f"peak replica lag {lag} s (goal <= {GOAL_LAG_S:g} s): "
                   f"{verdict(lag is not None and lag <= GOAL_LAG_S)}")
    if careful is not None:
        r = a["change_seconds"] / max(careful["change_seconds"], 1e-9)
        out.append(f"time {a['change_seconds']:.1f} s = {r:.2f}x the careful script's "
                   f"(goal <= {GOAL_TIME:g}x): {verdict(r <= GOAL_TIME)}")
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['server']}; pgbench {r['pgbench']}. "
        f"The same change on identical copies of one database, on one server: naive "
        f"(`plans/app_impact_naive.sql`), careful by hand (`plans/app_impact_careful.py`), "
        f"migtui with default settings (`plans/app_impact.yaml`); then the same with a "
        f"streaming standby. Latencies from pgbench's per-transaction log; the change window "
        f"runs from the first statement to the last; the longest stall is the longest "
        f"transaction in it.",
        "",
        "| run | time (s) | baseline p99 (ms) | change p99 (ms) | ratio | longest stall (ms) "
        "| failed tx | aborted clients | peak replica lag (s) | min 1-s tps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in r["arms"]:
        b, c = a["baseline"], a["change"]
        lag = "—" if not a["standby"] else a["peak_lag_s"]
        lines.append(
            f"| {name(a)} | {a['change_seconds']:.1f} | {b['p99_ms']} | {c['p99_ms']} "
            f"| {a['p99_ratio']}x | {c['max_ms']} | {c['failed']} | {a['aborted_clients']} "
            f"| {lag} | {c['tps_min_1s']} |")
    lines += ["", "Goals, with default settings (where the careful script cannot):", ""]
    for a in r["arms"]:
        if a["how"] == "naive":
            continue
        careful = next((x for x in r["arms"] if x["how"] == "careful"
                        and x["standby"] == a["standby"]), None)
        lines.append(f"- {name(a)}: " + "; ".join(
            goals(a, careful if a["how"] == "migtui" else None)) + ".")
        if a["how"] == "migtui":
            lines.append(f"  Batches: {a.get('batches')}; what limited the rate, per batch: "
                         f"{a.get('limited_by')}; lock retries: {a.get('lock_retries')}"
                         + (f"; paused: {a['paused']}" if a.get("paused") else "") + ".")
    lines += ["", "p99 latency per second, from 5 s before the change to the end "
              "(same scale for all rows; a blank is a second in which no transaction "
              "finished):", "", "```"]
    top = max((v for a in r["arms"] for v in a["timeline_p99_ms"] if v is not None),
              default=1.0)
    for a in r["arms"]:
        lines.append(f"{name(a):>18} {sparkline(a['timeline_p99_ms'], top)}")
    lines.append(f"top = {top:.0f} ms")
    lines += ["```"]
    same = all(a["schema"] == r["arms"][0]["schema"] for a in r["arms"])
    lines += ["", f"Final schema identical in every run: {'yes' if same else 'NO'} "
              f"({r['arms'][0]['schema']})."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
