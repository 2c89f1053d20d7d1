"""migtui rollback PLAN [--to STEP]: undo applied steps in reverse order.

Exit codes: 0 rolled back (or nothing to roll back): the command did what it was asked, so
it exits 0, where ``run`` exits 3 when a run ended rolled back; 1 stopped (a failure, an irreversible
step, another run holds the lock, the database), 2 plan or usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse

from migtui.cli.cmd_run import (
    Setup,
    add_target_args,
    confirm_production,
    interrupt_cancels,
    open_run,
)
from migtui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError, operator
from migtui.control import RunControl
from migtui.execution import execute
from migtui.runner import Outcome, Runner


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rollback", help="roll back applied steps in reverse order",
        description="Run the rollback SQL of the applied steps, last first, recording each in "
                    "the history. Stops at --to STEP (inclusive) or at an irreversible step. "
                    "A rollback written as a backfill runs in keyset batches and resumes from "
                    "its last committed batch. Exit codes: 0 rolled back (or nothing to roll "
                    "back; run's 3 means a run ended rolled back), 1 stopped or failed, 2 plan "
                    "or usage error, 130 interrupted.")
    add_target_args(p)
    p.add_argument("--to", metavar="STEP", help="the last step to roll back (inclusive)")
    p.add_argument("--reason", default="", help="why, for the history and the journal")
    p.add_argument("--yes", action="store_true",
                   help="do not ask to type the database name of a production target")
    p.set_defaults(func=run)


def _code(o: Outcome) -> int:
    return {"rolled_back": EXIT_OK, "cancelled": EXIT_INTERRUPTED}.get(o.status, EXIT_FAILED)


def run(args: argparse.Namespace) -> int:
    setup = Setup(args)
    if args.to is not None and args.to not in {s.id for s in setup.plan.steps}:
        raise CliError(f"unknown step {args.to!r}; the plan has: "
                       f"{', '.join(s.id for s in setup.plan.steps)}", EXIT_USAGE)
    control = RunControl()
    runner = Runner(setup.plan, setup.dsn, control=control, operator=operator(),
                    workdir=setup.path.resolve().parent, plan_text_checksum=setup.checksum)
    problems = [p for p in runner.problems() if "rollback" in p]
    if problems:
        raise CliError("the plan cannot roll back as written:\n  " + "\n  ".join(problems),
                       EXIT_USAGE)
    confirm_production(setup, args.yes)
    reason = args.reason or "migtui rollback"
    with open_run(setup, args.json, control, gauges=False) as run_, interrupt_cancels(control):
        run_.start("rollback")
        outcome = execute(run_, work=lambda _r: run_.rollback(args.to, reason))
    return _code(outcome)
