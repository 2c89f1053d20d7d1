"""migtui status PLAN: each step as applied, pending, failed or rolled back (from history).

A step whose rollback is a backfill and stopped part-way stays ``applied`` (its apply is
not wholly undone) and says ``rollback stopped part-way, resumes after key K``:
``migtui rollback`` finishes it, and ``migtui run`` refuses to go on until then.

Reads ``migtui.history`` without taking the run lock, so it works while a run is going on.
Exit codes: 0 shown, 1 database error, 2 plan or usage error.
"""

from __future__ import annotations

import argparse
import json

from migtui.cli.cmd_run import Setup, add_target_args
from migtui.cli.common import EXIT_FAILED, EXIT_OK, CliError, operator
from migtui.execution.confirm import database_mismatch
from migtui.runner import Runner, RunnerError
from migtui.runner import history as hist
from migtui.secrets import scrub, scrub_obj, scrubbed_str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status", help="show each step as applied, pending, failed or rolled back",
        description="Read migtui's history in the database and show the state of every step "
                    "of the plan, and whether an applied step has changed since.")
    add_target_args(p, json_help="print the steps' states as one JSON document")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup = Setup(args)
    runner = Runner(setup.plan, setup.dsn, operator=operator(), exclusive=False,
                    plan_text_checksum=setup.checksum)
    try:
        with runner:
            statuses = runner.status()
            conn = runner._ctx.work.conn  # noqa: SLF001
            progress = {s.id: hist.progress(conn, setup.plan_id, s.id)
                        for s in setup.plan.steps if s.backfill is not None}
    except RunnerError as e:
        raise CliError(str(e), EXIT_FAILED) from None
    rows = []
    for st in statuses:
        step = setup.plan.step(st.step_id)
        last = st.last
        prog = progress.get(st.step_id)
        rows.append({
            "step": st.step_id, "kind": step.kind, "state": st.state, "changed": st.changed,
            "at": last.finished_at.isoformat(timespec="seconds") if last and last.finished_at
            else None,
            "operator": last.operator if last else None,
            "action": last.action if last else None,
            "rows": last.rows if last else None,
            "error": last.error if last else None,
            "resume_after_key": prog[0] if prog else None,
            "rollback_resumes_after_key": st.rolling_back[0] if st.rolling_back else None,
            "rows_rolled_back": st.rolling_back[1] if st.rolling_back else None,
            "diff": st.diff or None,
        })
    mismatch = database_mismatch(setup.plan, setup.target, setup.database)
    if args.json:
        print(scrub(json.dumps(scrub_obj({"plan": setup.plan_id, "database": setup.database,
                                          "database_mismatch": mismatch, "steps": rows}),
                               indent=2, default=scrubbed_str)))
        return EXIT_OK
    print(scrub(f"{setup.plan_id} on {setup.database} (target {setup.target})"))
    if mismatch:
        print(scrub(f"WARNING: {mismatch}"))
    width = max((len(r["step"]) for r in rows), default=4)
    for r in rows:
        state = r["state"] + (" (CHANGED since applied)" if r["changed"] else "")
        when = f"  {r['action']} {r['at']} by {r['operator']}" if r["at"] else ""
        extra = ""
        if r["rows"]:
            extra += f", {r['rows']} rows"
        if r["resume_after_key"] is not None:
            extra += f", resumes after key {r['resume_after_key']}"
        if r["rollback_resumes_after_key"] is not None:
            extra += (f", ROLLBACK STOPPED PART-WAY ({r['rows_rolled_back']} rows undone): "
                      f"migtui rollback resumes it after key {r['rollback_resumes_after_key']}")
        if r["error"] and r["state"] != "applied":
            extra += f"\n      error: {r['error']}"
        print(scrub(f"  {r['step']:<{width}}  {r['kind']:8}  {state:<12}{when}{extra}"))
        if r["diff"]:
            print(scrub("".join(f"      {ln}\n" for ln in r["diff"].splitlines())), end="")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(", ".join(f"{n} {k}" for k, n in counts.items()) or "no steps")
    return EXIT_OK
