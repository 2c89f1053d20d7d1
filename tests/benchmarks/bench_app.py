"""Benchmark (not a test): the app's cold start, memory, and a 500-step plan.

Each trial is a fresh Python process (a cold start, as an operator types ``migtui PLAN``):
it imports migtui's app, builds it with ``migtui.tui.make_app`` (read-only, no database,
so only the app is measured), runs it headless with ``App.run_test()`` and reports when the
main screen is mounted and its first refresh is done — the first frame. The parent
measures from spawning the process to that report. Then the process reports its RSS.

Two plans: ``plans/add-order-status.yaml`` (the example, 8 steps) and a generated plan of
500 steps, whose open time (load and validate the YAML, build and mount the app, fill the
steps table) is what the issue asks for.

Usage::

    python tests/benchmarks/bench_app.py                      # no database needed
    options: --trials 5 --steps 500 --no-write
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine, write_section  # noqa: E402

SECTION = "bench_app"
EXAMPLE = REPO / "plans" / "add-order-status.yaml"

CHILD = r"""
import asyncio, json, sys, time
t_spawned = float(sys.argv[2])
t0 = time.time()
import psutil
from migtui.tui import make_app
from migtui.tui.widgets.steps import StepsTable
t_import = time.time()

async def main():
    app = make_app(sys.argv[1], None, operator="bench", sample=False)
    t_built = time.time()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        t_frame = time.time()
        # the steps table is part of the content pane; open the steps section
        await pilot.press("j", "j")
        await pilot.pause()
        rows = sum(t.row_count for t in app.screen.query(StepsTable))
        t_steps = time.time()
        rss = psutil.Process().memory_info().rss
        print(json.dumps({"import_s": t_import - t0, "build_s": t_built - t_import,
                          "first_frame_at": t_frame, "steps_shown_s": t_steps - t_frame,
                          "rows": rows, "rss_mb": rss / 2**20, "python_start_s": t0 - t_spawned}),
              flush=True)

asyncio.run(main())
"""


def big_plan(n: int) -> str:
    lines = ["migtui: 1", "id: big", "title: A plan of many steps", "type: schema_change",
             "agent: bench", "overview: [Ready]", "steps:"]
    for i in range(n):
        lines += [f"  - id: step_{i:04d}",
                  f"    description: Add column c{i} to the wide table",
                  f"    sql: ALTER TABLE wide ADD COLUMN c{i} int;",
                  f"    rollback: ALTER TABLE wide DROP COLUMN IF EXISTS c{i};"]
    return "\n".join(lines) + "\n"


def trial(plan: Path) -> dict[str, Any]:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, str(plan), repr(t0)],
                         capture_output=True, text=True, check=False, timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if out.returncode != 0 or line is None:
        sys.exit(f"the app did not start:\n{out.stdout[-2000:]}{out.stderr[-3000:]}")
    r = json.loads(line)
    r["cold_start_s"] = r.pop("first_frame_at") - t0
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=5, help="trials per plan (default 5)")
    ap.add_argument("--steps", type=int, default=500, help="steps of the big plan (500)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    from migtui.plan import load_plan

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        big = Path(tmp) / "big.yaml"
        big.write_text(big_plan(opts.steps))
        t0 = time.perf_counter()
        load_plan(big)
        load_s = time.perf_counter() - t0
        plans = {f"example ({EXAMPLE.name})": EXAMPLE, f"{opts.steps} steps (generated)": big}
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in plans}
        for i in range(opts.trials):  # alternate the plans, so drift hits both alike
            for name, path in plans.items():
                r = trial(path)
                runs[name].append(r)
                print(f"  {i + 1} {name}: first frame {r['cold_start_s']:.2f}s, "
                      f"rss {r['rss_mb']:.0f} MB, {r['rows']} rows", flush=True)
    for name, rs in runs.items():
        results[name] = {k: round(statistics.median(r[k] for r in rs), 3) for k in (
            "cold_start_s", "python_start_s", "import_s", "build_s", "steps_shown_s",
            "rss_mb")} | {"rows": rs[0]["rows"], "trials": len(rs)}
    result = {"benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "big_plan_load_validate_s": round(load_s, 3), "plans": results}
    table = markdown(result, opts.steps)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "The app: cold start, memory, a 500-step plan (`bench_app.py`)",
                      table, result)


def markdown(r: dict[str, Any], steps: int) -> str:
    lines = [
        f"Run {r['date']} on {r['machine']}; headless (`App.run_test`, 120x36), read-only "
        f"(no database); medians of {next(iter(r['plans'].values()))['trials']} fresh "
        f"processes per plan, alternated.",
        "",
        "| plan | cold start to first frame (s) | of which: interpreter | imports | load + "
        "build app | steps section shown (s) | steps listed | RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, x in r["plans"].items():
        lines.append(f"| {name} | {x['cold_start_s']} | {x['python_start_s']} | "
                     f"{x['import_s']} | {x['build_s']} | {x['steps_shown_s']} | {x['rows']} "
                     f"| {x['rss_mb']:.0f} |")
    lines += ["", f"Loading and validating the {steps}-step plan alone (`load_plan`, in "
              f"this process): {r['big_plan_load_validate_s']} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
