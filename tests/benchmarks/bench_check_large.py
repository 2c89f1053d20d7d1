"""Benchmark (not a test): ``migtui check`` on a large plan, next to its floor.

Issue 12 asked that ``check`` stay linear and check a 20,000-step plan in a few seconds.
A generated plan of ``--steps`` SQL steps (each an ALTER with its rollback, over 50 tables)
is timed, each trial a fresh process, for:

- *the floor, a careful script by hand*: read the YAML and parse every SQL text once with
  pglast (what any tool that reads the plan's SQL must do at least);
- ``migtui check`` on this tree;
- ``migtui check`` on ``--compare REF`` (default: the commit before each text was parsed
  once, when ``check`` parsed every text twice: for what ``run`` refuses and for the lint).

And a plan of ``--refused`` steps that ``run`` would refuse (an ALTER and a concurrent index
build in one step), each problem located in the file: on both trees (before, the YAML was
composed again for every problem).

Usage::

    python tests/benchmarks/bench_check_large.py        # no database needed
    options: --steps 20000 --refused 500 --trials 3 --compare REF --no-write
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_startup import export  # noqa: E402
from common import REPO, machine, write_section  # noqa: E402

SECTION = "bench_check_large"
GOAL_S = 5.0  # "a few seconds" for 20,000 steps
BEFORE = "d05f10e"  # check parsed every SQL text twice

FLOOR = """
import sys, yaml, pglast
doc = yaml.load(open(sys.argv[1], encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
for s in doc["steps"]:
    for k in ("sql", "rollback"):
        if isinstance(s.get(k), str):
            pglast.parse_sql(s[k])
"""


def trial(tree: Path, args: list[str]) -> float:
    """One fresh process, timed from spawn to exit (check exits 1 on findings, 2 on a
    refused plan: both are full runs)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                         text=True, check=False, timeout=1800)
    elapsed = time.perf_counter() - t0
    if out.returncode not in (0, 1, 2) or "Traceback" in out.stderr:
        sys.exit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return elapsed


def write_plan(path: Path, steps: int, refused: bool = False) -> None:
    lines = ["migtui: 1", "id: large", "title: A large plan", "type: schema_change",
             "agent: bench", "targets: {dev: {environment: development}}", "steps:"]
    for i in range(steps):
        extra = f"; CREATE INDEX CONCURRENTLY i{i} ON t{i % 50} (c{i})" if refused else ""
        lines += [f"  - id: s{i}", f"    sql: ALTER TABLE t{i % 50} ADD COLUMN c{i} int{extra}",
                  f"    rollback: ALTER TABLE t{i % 50} DROP COLUMN c{i}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--refused", type=int, default=500)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--compare", metavar="REF", default=BEFORE)
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        plan = Path(tmp) / "large.yaml"
        write_plan(plan, opts.steps)
        bad = Path(tmp) / "refused.yaml"
        write_plan(bad, opts.refused, refused=True)
        floor = Path(tmp) / "floor.py"
        floor.write_text(FLOOR, encoding="utf-8")
        before = export(opts.compare, Path(tmp))
        arms = {"floor: YAML read, every SQL text parsed once by pglast":
                (REPO, [str(floor), str(plan)]),
                "migtui check (this tree)": (REPO, ["-m", "migtui", "check", str(plan)]),
                f"migtui check ({opts.compare})": (before, ["-m", "migtui", "check", str(plan)]),
                f"refused plan, {opts.refused} problems: migtui check (this tree)":
                (REPO, ["-m", "migtui", "check", str(bad)]),
                f"refused plan, {opts.refused} problems: migtui check ({opts.compare})":
                (before, ["-m", "migtui", "check", str(bad)])}
        times: dict[str, list[float]] = {a: [] for a in arms}
        for i in range(opts.trials):
            for name, (root, args) in arms.items():
                times[name].append(trial(root, args))
            print(f"  trial {i + 1}: " + ", ".join(f"{ts[-1]:.2f}" for ts in times.values()),
                  flush=True)
    rows = {name: {"median_s": round(statistics.median(ts), 2), "min_s": round(min(ts), 2),
                   "max_s": round(max(ts), 2)} for name, ts in times.items()}
    here = rows["migtui check (this tree)"]["median_s"]
    result: dict[str, Any] = {
        "benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "steps": opts.steps, "refused": opts.refused, "trials": opts.trials, "goal_s": GOAL_S,
        "met": here <= GOAL_S, "arms": rows,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                 capture_output=True, text=True).stdout.strip()}
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "`check` on a large plan, next to its floor "
                      "(`bench_check_large.py`)", table, result)


def markdown(r: dict[str, Any]) -> str:
    lines = [f"Run {r['date']} on {r['machine']} at `{r['commit']}`; a generated plan of "
             f"{r['steps']:,} SQL steps (an ALTER and its rollback each); {r['trials']} fresh "
             f"processes per arm, alternated.", "",
             "| arm | median (s) | min (s) | max (s) |", "|---|---|---|---|"]
    lines += [f"| {n} | {x['median_s']} | {x['min_s']} | {x['max_s']} |"
              for n, x in r["arms"].items()]
    here = r["arms"]["migtui check (this tree)"]["median_s"]
    lines += ["", "| goal | measured | met |", "|---|---|---|",
              f"| {r['steps']:,} steps checked within {r['goal_s']:g} s | {here} s | "
              f"{'yes' if r['met'] else 'NO'} |", "", NOTE]
    return "\n".join(lines)


NOTE = ("What limits it: the floor, reading the YAML and parsing each SQL text once with "
        "pglast, is most of the time (pglast builds a Python object for every node of the "
        "parse tree, and validates each attribute as it is set); `check` adds the plan model "
        "(pydantic), the lint's rules and locating each finding in the file. It is linear: "
        "the commit before parsed every text twice (for what `run` refuses, then for the "
        "lint), and composed the whole YAML again for each refused step, so a refused plan "
        "grew with the square of its problems. Next: hand the lint the statements the "
        "loader's checks already parsed, and locate findings from the loader's own YAML "
        "nodes instead of composing the file again.")


if __name__ == "__main__":
    main()
