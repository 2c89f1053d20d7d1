"""migtui rehearse PLAN: apply, verify, roll back, compare, re-apply on a staging database.

Exit codes: 0 clean, 1 failed (a step, a check, a difference after the rollback, or the
database), 2 plan or usage error (invalid plan, a production target, no database URL,
an irreversible step), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from migtui.cli.cmd_run import interrupt_cancels, tty_confirm
from migtui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    load,
    operator,
    output_file,
    plan_path,
)
from migtui.cli.printer import Printer
from migtui.control import RunControl
from migtui.db import DsnError, resolve_dsn
from migtui.events import Event, EventBus, RehearsalFinished, RehearsalStage
from migtui.execution.journal_policy import JournalWriter, rehearsal_route
from migtui.journal import journal_path
from migtui.plan import Plan
from migtui.plan.model import Environment
from migtui.rehearsal import RehearsalError, rehearse, write_markdown
from migtui.secrets import register_url, scrub, scrub_obj, scrubbed_str


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rehearse", help="rehearse a plan on staging: apply, verify, roll back, compare, "
                         "re-apply",
        description="Fingerprint the schema and checksum the data the plan touches, apply "
                    "every step under the plan's guards, run the verification checks, roll "
                    "back, prove the fingerprint and checksums equal those before, apply "
                    "again and roll back again (or keep it applied with --keep). Results go "
                    "to the plan's journal and tick the staging checklist. Exit codes: 0 "
                    "clean, 1 failed, 2 plan or usage error, 130 interrupted.")
    p.add_argument("plan", metavar="PLAN")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="NAME",
                       help="the plan target to rehearse on (default: its staging target)")
    where.add_argument("--dsn", metavar="URL", help="database URL of a staging database")
    p.add_argument("--keep", action="store_true",
                   help="leave the migration applied after the re-apply")
    p.add_argument("--json", action="store_true", help="print only the report, as JSON")
    p.add_argument("-o", "--output", metavar="FILE.md",
                   help="also write the report as Markdown here, with the gauges over the "
                        "rehearsal drawn beside it (FILE-gauges.png) when they ran")
    p.add_argument("--production-dsn", metavar="URL",
                   help="read production table sizes to estimate each step's production "
                        "duration (default: the production target's dsn_env, when set)")
    p.add_argument("--gauges", choices=("auto", "on", "off"), default="auto",
                   help="run the gauges and rollback triggers: auto when other sessions "
                        "are active (default)")
    p.set_defaults(func=run)


def _staging_target(plan: Plan) -> str | None:
    return next((n for n, t in plan.targets.items()
                 if t.environment == Environment.staging), None)


def _production_dsn(plan: Plan, given: str | None) -> str | None:
    if given:
        register_url(given)
        return given
    for t in plan.targets.values():
        if t.environment == Environment.production and os.environ.get(t.dsn_env):
            url = os.environ[t.dsn_env]
            register_url(url)
            return url
    return None


def choose(plan: Plan, target: str | None, dsn: str | None) -> tuple[str, str]:
    """(target label, DSN). Refuses a production target: a rehearsal rolls back."""
    name = target or _staging_target(plan)
    if name is None and dsn is None:
        raise CliError("the plan has no target with environment: staging; pass --target or "
                       "--dsn", EXIT_USAGE)
    tgt = plan.targets.get(name) if name else None
    if target and tgt is None:
        raise CliError(f"unknown target {target!r}; the plan defines: "
                       f"{', '.join(plan.targets)}", EXIT_USAGE)
    if tgt is not None and tgt.environment == Environment.production:
        raise CliError(f"target {name!r} is production: a rehearsal applies and rolls back; "
                       f"rehearse on staging (--target with a staging target, or --dsn)",
                       EXIT_USAGE)
    try:
        url = resolve_dsn(plan, dsn, name if dsn is None else None)
    except DsnError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    for pname, t in plan.targets.items():
        if t.environment == Environment.production and os.environ.get(t.dsn_env) == url:
            raise CliError(f"this URL is the one of production target {pname!r} "
                           f"(${t.dsn_env}); refusing to rehearse on production", EXIT_USAGE)
    return (name if name is not None else "--dsn"), url


class RehearsalPrinter(Printer):
    def line(self, e: Event) -> str | None:
        match e:
            case RehearsalStage():
                msg = f": {e.message}" if e.message else ""
                return f"[{e.index}/{e.of}] {e.stage.replace('_', ' ')}{msg}"
            case RehearsalFinished():
                return None  # the report follows
        return super().line(e)


def run(args: argparse.Namespace) -> int:
    output_file(args.output)
    path = plan_path(args.plan)
    plan = load(args.plan)
    plan_id = plan.id or path.stem
    label, dsn = choose(plan, args.target, args.dsn)
    prod = _production_dsn(plan, args.production_dsn)
    bus = EventBus()
    journal = JournalWriter(journal_path(path, plan_id))
    bus.subscribe(rehearsal_route(journal))
    if not args.json:
        bus.subscribe(RehearsalPrinter())
    control = RunControl()
    gauges = {"auto": None, "on": True, "off": False}[args.gauges]
    try:
        with interrupt_cancels(control):
            report = rehearse(plan, path, dsn, emit=bus, control=control, keep=args.keep,
                              production_dsn=prod, target=label, operator=operator(),
                              confirm=tty_confirm, gauges=gauges)
    except RehearsalError as e:
        raise CliError(str(e), e.code) from None
    finally:
        journal.close()
    if args.json:
        print(scrub(json.dumps(scrub_obj(report.to_dict()), default=scrubbed_str,
                               ensure_ascii=False, indent=1)))
    else:
        sys.stdout.write("\n" + scrub(report.text()) + "\n")
    if args.output:
        md, image = write_markdown(report, args.output)
        print(f"wrote {md}" + (f" and {image}" if image else ""), file=sys.stderr)
    if report.ok:
        return EXIT_OK
    if any(p.status == "cancelled" for p in report.passes):
        return EXIT_INTERRUPTED
    return EXIT_FAILED
