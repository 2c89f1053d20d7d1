"""migtui PLAN (migtui open PLAN): the app on a plan, with live gauges when a database is given.

Exit codes: 0 closed normally, 2 plan or usage error, 130 quit during a run or hung up.
"""

from __future__ import annotations

import argparse

from migtui.cli.common import CliError, load, operator, plan_path
from migtui.cli.metrics_args import add_metrics_args, start_metrics
from migtui.db import DsnError, resolve_dsn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "open", help="open the app on a plan (also: migtui PLAN)",
        description="Open the Textual app on a plan: sections, checklists, steps, live gauges "
                    "and one-key rollback. Without a database URL (--dsn, the target's "
                    "dsn_env, or the PG* variables) the plan opens read-only. Keys: ? in "
                    "the app, or docs/app.md.")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("--dsn", metavar="URL",
                   help="database URL (default: the target's dsn_env, e.g. DATABASE_URL, "
                        "then the libpq PG* variables)")
    p.add_argument("--target", metavar="NAME", help="the plan target to use")
    p.add_argument("--no-gauges", action="store_true", help="do not sample the database")
    add_metrics_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = plan_path(args.plan)
    plan = load(args.plan)
    if args.target and args.target not in plan.targets:
        raise CliError(f"unknown target {args.target!r}; the plan defines: "
                       f"{', '.join(plan.targets)}")
    try:
        dsn: str | None = resolve_dsn(plan, args.dsn, args.target)
    except DsnError:
        dsn = None  # read-only view; the app says how to connect
    exporter = start_metrics(args, plan)  # a port in use: exit 2 before the app opens
    try:
        from migtui.tui import make_app  # Textual only for this command

        app = make_app(path, dsn, args.target, operator=operator(), plan=plan,
                       sample=not args.no_gauges, exporter=exporter)
        code = app.run()
    finally:
        if exporter is not None:
            exporter.close()
    if code is None:  # the app crashed; Textual printed the traceback
        return int(app.return_code or 1)
    return int(code)
