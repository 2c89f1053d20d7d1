"""How long rolling a 3-step plan across 100 databases takes: `migtui fleet run` at
concurrency 1, 4 and 8, against the user's alternative, a shell loop of `migtui run`, in
one run on the same databases; and the control database's load (queries per second).

    python tests/benchmarks/bench_fleet.py --dsn postgresql://postgres@127.0.0.1:5432/test
    options: --members 100 --concurrency 1 4 8 --no-write

Every configuration applies its own copy of the plan (its own plan id and column name), so
all run on the same 100 databases, copied once from a seeded template, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine, server, with_db, write_section  # noqa: E402

PLAN = """\
migtui: 1
id: bench-{tag}
title: Fleet benchmark {tag}
type: schema_change
agent: bench
targets: {{dev: {{environment: development}}}}
steps:
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN c_{tag} int
    rollback: ALTER TABLE accounts DROP COLUMN c_{tag}
  - id: fill
    sql: UPDATE accounts SET c_{tag} = id % 7
    rollback: UPDATE accounts SET c_{tag} = NULL
  - id: index
    sql: CREATE INDEX accounts_c_{tag}_idx ON accounts (c_{tag})
    rollback: DROP INDEX accounts_c_{tag}_idx
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def control_kind(control: str) -> str:
    """How the server counts the control database's load: pg_stat_statements' calls when the
    extension is loaded (every statement, BEGIN and COMMIT included), else pg_stat_database's
    transactions (a worker's autocommit statements are one transaction each)."""
    with psycopg.connect(control, autocommit=True) as c:
        try:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            c.execute("SELECT 1 FROM pg_stat_statements LIMIT 1")
            return "statements (pg_stat_statements)"
        except psycopg.Error:
            return "transactions (pg_stat_database)"


def control_count(control: str, kind: str) -> int:
    """The server's count; each call adds one to it (its own statement, seen by the next)."""
    with psycopg.connect(control, autocommit=True) as c:
        if kind.startswith("statements"):
            n = c.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = "
                          "(SELECT oid FROM pg_database WHERE datname = current_database())"
                          ).fetchone()
        else:
            n = c.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE "
                          "datname = current_database()").fetchone()
        return int(n[0])  # type: ignore[index]


def calibrated_count(control: str, kind: str) -> tuple[int, int]:
    """The server's count before a run, and how much one poll adds to it (a connection's
    start-up is a transaction too)."""
    a = control_count(control, kind)
    time.sleep(0.5)
    b = control_count(control, kind)
    return b, max(0, b - a)


def settled_count(control: str, kind: str, before: int, per_poll: int) -> int:
    """The worker's share of the server's count, once the worker's backend has flushed its
    statistics (at exit): this polling's own share taken out."""
    polls, last = 1, control_count(control, kind)  # 'before' was a poll too
    for _ in range(20):
        time.sleep(0.5)
        now = control_count(control, kind)
        polls += 1
        if now - last <= per_poll:  # only the previous poll moved it
            break
        last = now
    return now - before - polls * per_poll


def fleet_run(srv_admin: str, prefix: str, control: str, tmp: Path, conc: int) -> dict:
    tag = f"f{conc}"
    plan = tmp / f"plan-{tag}.yaml"
    plan.write_text(PLAN.format(tag=tag))
    fleet = tmp / f"fleet-{tag}.yaml"
    fleet.write_text(f"""fleet: 1
name: bench-{tag}
control: {{dsn: "{control}"}}
members:
  discover: [{{dsn: "{srv_admin}", pattern: "{prefix}_m%"}}]
waves: [1, 10%, rest]
concurrency: {{overall: {conc}}}
""")
    kind = control_kind(control)
    before, per_poll = calibrated_count(control, kind)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "migtui", "fleet", "run", str(fleet), str(plan),
                          "--no-gauges"], capture_output=True, text=True, env=env(), check=False)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"fleet run at concurrency {conc} failed:\n{out.stdout}\n{out.stderr}")
    m = re.search(r"(\d+) control queries in ([\d.]+)s", out.stdout)
    queries, secs = (int(m.group(1)), float(m.group(2))) if m else (0, wall)
    server_n = settled_count(control, kind, before, per_poll)
    with psycopg.connect(control, autocommit=True) as c:
        waves = c.execute("SELECT n, extract(epoch FROM finished_at - started_at) FROM "
                          "migtui_fleet.wave WHERE rollout = %s ORDER BY n",
                          (f"bench-{tag}/bench-{tag}",)).fetchall()
    return {"label": f"fleet, concurrency {conc}", "seconds": round(wall, 1),
            "control_queries": queries, "control_qps": round(queries / secs, 1) if secs else 0,
            "server_count": server_n, "server_kind": kind,
            "server_per_s": round(server_n / secs, 1) if secs else 0,
            "waves_s": [round(float(w[1] or 0), 1) for w in waves]}


def shell_loop(srv_admin: str, names: list[str], tmp: Path) -> dict:
    plan = tmp / "plan-loop.yaml"
    plan.write_text(PLAN.format(tag="loop"))
    urls = tmp / "urls.txt"
    urls.write_text("\n".join(with_db(srv_admin, n) for n in names) + "\n")
    script = (f'while read -r url; do "{sys.executable}" -m migtui run "{plan}" --dsn "$url" '
              f'--no-gauges >/dev/null || exit 1; done < "{urls}"')
    t0 = time.monotonic()
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env(),
                         check=False)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"the shell loop failed: {out.stderr}")
    return {"label": "shell loop of `migtui run`", "seconds": round(wall, 1),
            "control_queries": 0, "control_qps": 0, "server_count": 0, "server_kind": "",
            "server_per_s": 0, "waves_s": []}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", help="a superuser URL (default: an embedded server)")
    ap.add_argument("--members", type=int, default=100)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--no-write", action="store_true")
    opts = ap.parse_args()
    prefix = f"bfleet{os.getpid()}"
    with server(opts.dsn, "bench-fleet", max_connections=80) as srv, \
            tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        tmpl = f"{prefix}_tmpl"
        names = [f"{prefix}_m{i:03d}" for i in range(opts.members)]
        control = srv.create_db(f"{prefix}_control")
        try:
            url = srv.create_db(tmpl)
            srv.execute("CREATE TABLE accounts (id int PRIMARY KEY, name text)",
                        "INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 1000) g",
                        db=tmpl)
            del url
            t0 = time.monotonic()
            for n in names:
                srv.create_db(n, template=tmpl)
            print(f"{len(names)} databases created in {time.monotonic() - t0:.1f}s")
            results = [shell_loop(srv.admin, names, tmp)]
            print(results[-1])
            for conc in opts.concurrency:
                results.append(fleet_run(srv.admin, prefix, control, tmp, conc))
                print(results[-1])
        finally:
            for n in [*names, tmpl, f"{prefix}_control"]:
                srv.drop_db(n)
        loop_s = results[0]["seconds"]
        kind = next((r["server_kind"] for r in results if r["server_kind"]), "")
        rows = ["| how | wall time (s) | speed-up vs the loop | control statements (worker) | "
                "per second | server-counted " + kind + " | per second | waves (s) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in results:
            rows.append(f"| {r['label']} | {r['seconds']} | {loop_s / r['seconds']:.1f}× | "
                        f"{r['control_queries'] or '—'} | {r['control_qps'] or '—'} | "
                        f"{r['server_count'] or '—'} | {r['server_per_s'] or '—'} | "
                        f"{', '.join(map(str, r['waves_s'])) or '—'} |")
        best = next((r for r in results if r["label"].endswith(" 8")), results[-1])
        speed = loop_s / best["seconds"]
        goal = "met" if speed >= 5 else "missed"
        table = (f"Run {dt.date.today()} on {machine()}; {srv.label}; {opts.members} databases "
                 f"(1000 rows each), a 3-step plan (add column, fill, index), waves "
                 f"[1, 10%, rest], gauges off, default heartbeat (2s).\n\n" + "\n".join(rows)
                 + f"\n\nGoal (≥ 5× the shell loop at concurrency 8): **{goal}** "
                 f"({speed:.1f}×). Control-database load at concurrency 8: "
                 f"{best['control_qps']} statements/s counted by the worker "
                 f"({best['control_queries'] / opts.members:.1f} per member), "
                 f"{best['server_per_s']} {kind}/s counted by the server, over the worker's "
                 f"run. A worker's tick is one statement (heartbeats, finished members, the "
                 f"rollout and wave counts) plus one claim call when a slot is free, at most "
                 f"once a second (a finish wakes it), else once per heartbeat; wave "
                 f"transitions add one statement each. The shell loop pays a Python "
                 f"start-up, plan load and two connections per database; the fleet's "
                 f"concurrency is bounded by the 2 cores (worker threads share one "
                 f"interpreter).")
        print(table)
        if not opts.no_write:
            write_section("bench_fleet", "Fleet rollout vs a shell loop (`bench_fleet.py`)",
                          table, {"benchmark": "bench_fleet", "date": str(dt.date.today()),
                                  "machine": machine(), "server": srv.label,
                                  "members": opts.members, "results": results,
                                  "speedup_at_8": round(speed, 2)})


if __name__ == "__main__":
    main()
