"""Benchmark (not a test): how long a command takes to start, next to bare Python.

A DBA calls ``check``, ``status`` and ``run`` many times in a maintenance window, so the
cost of starting ``migtui`` is paid each time. Each trial is a fresh process, timed from
spawn to exit by the parent, for:

- ``python -c pass``: the interpreter alone, the floor;
- ``python -m migtui --version``;
- ``python -m migtui check plans/add-order-status.yaml`` (load, validate and lint a plan);
- ``python -m migtui run --help``: the imports of ``run`` (the database stack: SQLAlchemy,
  psycopg, the runner, the sampler), without a database.

The commands are alternated trial by trial, so drift on the machine hits them alike; the
median, min and max are reported. With ``--compare REF`` the same commands are timed on
another commit too (exported with ``git archive`` into a temporary directory), in the same
run, e.g. the commit before the lazy imports.

Goals: ``--version`` within 0.15 s of bare Python; ``check`` under 0.5 s.

Usage::

    python tests/benchmarks/bench_startup.py                  # no database needed
    options: --trials 15 --compare REF --no-write
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine, write_section  # noqa: E402

SECTION = "bench_startup"
PLAN = "plans/add-order-status.yaml"
VERSION_GOAL_OVER_PYTHON_S = 0.15
CHECK_GOAL_S = 0.5

COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "migtui --version": ["-m", "migtui", "--version"],
    f"migtui check {PLAN}": ["-m", "migtui", "check", PLAN],
    "migtui run --help": ["-m", "migtui", "run", "--help"],
}


def export(ref: str, into: Path) -> Path:
    """The tree of ``ref`` (only ``migtui/`` and ``plans/``), unpacked under ``into``."""
    blob = subprocess.run(["git", "archive", "--format=tar", ref, "migtui", "plans"],
                          cwd=REPO, capture_output=True, check=True).stdout
    root = into / ref.replace("/", "_")
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(root, filter="data")
    return root


def trial(tree: Path, args: list[str]) -> float:
    # PYTHONPATH puts the measured tree before any installed migtui
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True,
                         text=True, check=False, timeout=120)
    elapsed = time.perf_counter() - t0
    if out.returncode not in (0, 1):  # check exits 1 on lint findings: still a full run
        sys.exit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return elapsed


def loaded_libraries(tree: Path, args: list[str]) -> list[str]:
    """The third-party packages the command imports (from ``-X importtime``)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=tree, env=env,
                         capture_output=True, text=True, check=False, timeout=120)
    names = {ln.split("|")[-1].strip().split(".")[0] for ln in out.stderr.splitlines()
             if ln.startswith("import time:") and "|" in ln}
    libs = {"sqlalchemy", "psycopg", "pydantic", "pglast", "yaml", "psutil", "textual",
            "rich", "markdown_it"}
    return sorted(names & libs)


def stats(xs: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(xs), 3), "min_s": round(min(xs), 3),
            "max_s": round(max(xs), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=15, help="trials per command (default 15)")
    ap.add_argument("--compare", metavar="REF",
                    help="also time the commands on this commit (e.g. the one before a change)")
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    opts = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="migtui-bench-") as tmp:
        trees = {"this tree": REPO}
        if opts.compare:
            trees[opts.compare] = export(opts.compare, Path(tmp))
        times: dict[str, dict[str, list[float]]] = {t: {c: [] for c in COMMANDS} for t in trees}
        for root in trees.values():  # warm the file cache and the bytecode
            for args in COMMANDS.values():
                trial(root, args)
        for i in range(opts.trials):
            for tree, root in trees.items():
                for name, args in COMMANDS.items():
                    times[tree][name].append(trial(root, args))
            print(f"  trial {i + 1}: " + "; ".join(
                f"{tree}: " + ", ".join(f"{ts[-1]:.3f}" for ts in times[tree].values())
                for tree in trees), flush=True)
        libraries = {tree: {name: loaded_libraries(root, args)
                            for name, args in COMMANDS.items() if args[0] == "-m"}
                     for tree, root in trees.items()}

    results: dict[str, Any] = {}
    for tree in trees:
        rows = {name: stats(ts) for name, ts in times[tree].items()}
        floor = rows["python -c pass"]["median_s"]
        for name, row in rows.items():
            row["over_python_s"] = round(row["median_s"] - floor, 3)
            if name in libraries[tree]:
                row["libraries"] = libraries[tree][name]
        results[tree] = rows
    here = results["this tree"]
    version = here["migtui --version"]
    check = here[f"migtui check {PLAN}"]
    goals = {
        "version_within_s_of_python": VERSION_GOAL_OVER_PYTHON_S,
        "version_met": version["over_python_s"] <= VERSION_GOAL_OVER_PYTHON_S,
        "check_under_s": CHECK_GOAL_S,
        "check_met": check["median_s"] < CHECK_GOAL_S,
    }
    result = {"benchmark": SECTION, "date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "trials": opts.trials, "goals": goals, "trees": results}
    table = markdown(result)
    print()
    print(table)
    if not opts.no_write:
        write_section(SECTION, "Start-up: `--version` and `check` next to bare Python "
                      "(`bench_startup.py`)", table, result)


def markdown(r: dict[str, Any]) -> str:
    trees = list(r["trees"])
    lines = [
        f"Run {r['date']} on {r['machine']}; {r['trials']} fresh processes per command and "
        f"tree, alternated, timed from spawn to exit; `python -m migtui` with the tree on "
        f"`PYTHONPATH`."
        + (f" `{trees[1]}` is the commit compared against, timed in the same run." if
           len(trees) > 1 else ""),
        "",
        "| tree | command | median (s) | min (s) | max (s) | over bare Python (s) | "
        "libraries loaded |",
        "|---|---|---|---|---|---|---|",
    ]
    for tree, rows in r["trees"].items():
        for name, x in rows.items():
            libs = ", ".join(x.get("libraries", [])) or ("none" if "libraries" in x else "")
            lines.append(f"| {tree} | `{name}` | {x['median_s']} | {x['min_s']} | "
                         f"{x['max_s']} | {x['over_python_s']} | {libs} |")
    g = r["goals"]
    here = r["trees"]["this tree"]
    v = here["migtui --version"]["over_python_s"]
    c = here[f"migtui check {PLAN}"]["median_s"]
    lines += [
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        f"| `--version` within {g['version_within_s_of_python']} s of bare Python | "
        f"+{v} s | {'yes' if g['version_met'] else 'NO'} |",
        f"| `check` of the example plan under {g['check_under_s']} s | {c} s | "
        f"{'yes' if g['check_met'] else 'NO'} |",
        "",
        "Each command imports only its own module (`migtui/cli/__init__.py`); the libraries "
        "column is what it loads. `check` needs the plan model (pydantic: building the "
        "models is most of it), the SQL parser (pglast) and YAML; SQLAlchemy, psycopg and "
        "psutil load only for commands that connect (`run`, `status`, `rollback`, ...), "
        "which then spend longer on the connection and the run itself.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
