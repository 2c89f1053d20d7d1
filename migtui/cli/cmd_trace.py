"""migtui trace PLAN --dsn URL: the locks and rewrites each statement really takes.

Applies every step on a scratch database with each statement traced, rolls them back traced
too (unless ``--keep``), and holds each trace against the lint's prediction. Never on a
production target. Exit codes: 0 traced (disagreements are findings, listed), 1 a step
failed, 2 plan or usage error (a production target, no database URL), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys

from migtui.cli.cmd_rehearse import _production_dsn, choose
from migtui.cli.cmd_run import interrupt_cancels
from migtui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, load, operator, plan_path
from migtui.control import RunControl
from migtui.secrets import scrub


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace", help="apply and roll back on a scratch database, tracing every statement's "
                      "locks and rewrites",
        description="Apply the plan on a scratch (or staging) database with every statement "
                    "traced: the locks it took, whether it rewrote a table, the indexes and "
                    "constraints it changed, and how long its strongest lock was held. Then "
                    "roll it back, traced too. Each trace is held against the lint's "
                    "prediction; disagreements are listed. Refuses production targets.")
    p.add_argument("plan", metavar="PLAN")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="NAME", help="a non-production target of the plan")
    where.add_argument("--dsn", metavar="URL", help="database URL of a scratch database")
    p.add_argument("--keep", action="store_true", help="leave the plan applied (no rollback)")
    p.add_argument("--production-dsn", metavar="URL",
                   help="read production table sizes to project each lock's duration there "
                        "(default: the production target's dsn_env, when set)")
    p.add_argument("--json", action="store_true", help="print the traces as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from migtui.lint import TableSizes
    from migtui.trace.run import trace_plan

    path = plan_path(args.plan)
    plan = load(args.plan)
    _label, dsn = choose(plan, args.target, args.dsn)
    prod_url = _production_dsn(plan, args.production_dsn)
    production = None
    if prod_url:
        try:
            production = TableSizes.read(prod_url)
        except Exception as e:  # noqa: BLE001 - sizes are optional; say why and go on
            print(f"production sizes unavailable: {scrub(str(e)).splitlines()[0]}",
                  file=sys.stderr)
    control = RunControl()
    with interrupt_cancels(control):
        report = trace_plan(plan, dsn, control=control, keep=args.keep, operator=operator(),
                            production=production, workdir=str(path.resolve().parent))
    if args.json:
        print(scrub(json.dumps(report.to_dict(), default=str, ensure_ascii=False, indent=1)))
    else:
        print(scrub(report.text()))
        n = sum(len(t.disagreements) for t in report.traces)
        print(f"\n{len(report.traces)} statement(s) traced; "
              + (f"{n} disagreement(s) with the lint" if n else "the lint agreed on every one")
              + (f"; {report.message}" if report.message else ""))
    if control.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILED
