"""migtui run PLAN: apply a plan (or one phase of it) headlessly, one line per event.

Exit codes: 0 done, 1 failed (a step, a check, the database, another run holds the lock,
or the run lock was lost mid-run), 2 plan or usage error (invalid plan, no database URL,
production not confirmed), 3 rolled back, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from migtui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_USAGE,
    CliError,
    load,
    operator,
    plan_path,
)
from migtui.cli.metrics_args import add_metrics_args, start_metrics
from migtui.cli.printer import Printer, short
from migtui.control import RunControl
from migtui.db import DsnError, NoDatabaseGiven, database_name, resolve_dsn
from migtui.execution import Run, execute
from migtui.execution.confirm import WrongDatabase, database_mismatch, production_question
from migtui.execution.phases import bound_steps, find_phase
from migtui.plan import Plan, plan_checksum
from migtui.plan.model import Environment
from migtui.runner import Outcome, Runner
from migtui.secrets import scrub
from migtui.watch import has_gauges

EXIT_BY_STATUS = {"done": EXIT_OK, "failed": EXIT_FAILED, "rolled_back": EXIT_ROLLED_BACK,
                  "cancelled": EXIT_INTERRUPTED, "rollback_requested": EXIT_FAILED}


def add_target_args(p: argparse.ArgumentParser,
                    json_help: str = "print events as JSON lines") -> None:
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("--dsn", metavar="URL",
                   help="database URL (default: the target's dsn_env, e.g. DATABASE_URL, "
                        "then the libpq PG* variables)")
    p.add_argument("--target", metavar="NAME", help="the plan target to use")
    p.add_argument("--json", action="store_true", help=json_help)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run a plan headlessly: every phase's checklist, or one with --phase",
        description="Apply the plan, printing one line per event. Without --phase, a plan "
                    "whose phases bind actions runs every phase's checklist in order (its "
                    "commands, baselines, steps, checks and watches: in the example plan a "
                    "pg_dump, a 30 s baseline and a 1-minute watch), not only the steps; a plan without "
                    "bound phases applies its steps in order. Applied steps are skipped. "
                    "With --phase, only that phase's checklist runs. Exit codes: 0 "
                    "done, 1 failed, 2 plan or usage error, 3 rolled back, 130 interrupted.")
    add_target_args(p)
    p.add_argument("--phase", metavar="P",
                   help="run only this phase's checklist (id, name or number); default: "
                        "every phase's checklist in order")
    p.add_argument("--dry-run", action="store_true",
                   help="print every statement with its transaction mode and lock; change "
                        "nothing and connect to nothing (no database URL needed)")
    p.add_argument("--yes", action="store_true",
                   help="do not ask to type the database name of a production target")
    p.add_argument("--no-gauges", action="store_true",
                   help="do not sample the gauges (no baseline, alerts or rollback triggers)")
    p.add_argument("--no-auto-rollback", action="store_true",
                   help="when a trigger with policy 'offer' trips, report it but do not roll "
                        "back (headless, 'offer' acts as 'rollback' by default)")
    add_metrics_args(p)
    p.set_defaults(func=run)


# ---------------------------------------------------------------- shared with status/rollback


class Setup:
    """The plan, its target and its URL. ``need_dsn=False`` (``--dry-run``, which never
    connects): a missing URL is no error (``dsn`` is then ""), a malformed one still is."""

    def __init__(self, args: argparse.Namespace, *, need_dsn: bool = True) -> None:
        self.path = plan_path(args.plan)
        self.plan: Plan = load(args.plan)
        self.plan_id = self.plan.id or self.path.stem
        self.target = args.target or self.plan.target_name
        try:
            self.dsn = resolve_dsn(self.plan, args.dsn, args.target)
        except NoDatabaseGiven as e:
            if need_dsn:
                raise CliError(str(e), EXIT_USAGE) from None
            self.dsn = ""
        except DsnError as e:
            raise CliError(str(e), EXIT_USAGE) from None
        self.database = database_name(self.dsn) if self.dsn else ""
        self.checksum = plan_checksum(self.path.read_text(encoding="utf-8"))


def confirm_production(setup: Setup, yes: bool, stdin: TextIO | None = None,
                       out: TextIO | None = None) -> None:
    """A production target needs --yes, or its database name typed at the prompt."""
    try:
        question = production_question(setup.plan, setup.target, setup.database)
    except WrongDatabase as e:
        raise CliError(f"{e}; refusing to run. Point --dsn at {e.expected!r}, choose another "
                       f"target with --target, or change the target's 'database' in the plan "
                       f"(it guards against running on the wrong database)",
                       EXIT_USAGE) from None
    if question is None or yes:
        return
    stdin = stdin or sys.stdin
    out = out or sys.stderr
    if not stdin.isatty():
        raise CliError(f"target {setup.target!r} is production: pass --yes, or run on a "
                       f"terminal and type the database name to confirm", EXIT_USAGE)
    out.write(question.prompt + ": ")
    out.flush()
    if not question.accepts(stdin.readline()):
        raise CliError("the database name was not confirmed; nothing was done", EXIT_USAGE)


def rehearsal_evidence(setup: Setup) -> Callable[[], str] | None:
    from migtui.rehearsal import rehearsal_gate

    status, message = rehearsal_gate(setup.plan, setup.path, setup.checksum)
    return (lambda: message) if status == "ok" else None


def check_rehearsal(setup: Setup) -> None:
    """On a production target, per settings.require_rehearsal: warn, or refuse (exit 2)."""
    tgt = setup.plan.targets.get(setup.target)
    mode = setup.plan.settings.require_rehearsal
    if tgt is None or tgt.environment != Environment.production or mode == "off":
        return
    from migtui.rehearsal import rehearsal_gate
    status, message = rehearsal_gate(setup.plan, setup.path, setup.checksum)
    if status == "ok":
        return
    if mode == "refuse":
        raise CliError(f"no successful rehearsal for this plan: {message} "
                       f"(settings.require_rehearsal: refuse)", EXIT_USAGE)
    print(f"migtui: warning: no successful rehearsal for this plan: {message}",
          file=sys.stderr)


def tty_confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"Manual step — {prompt}\nDone? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


@contextmanager
def interrupt_cancels(control: RunControl) -> Iterator[None]:
    """Ctrl-C, ``kill`` (SIGTERM) and a dropped terminal (SIGHUP) cancel the statement in
    flight (pg_cancel_backend) and stop at a safe point, journaled: dying at once would
    leave the statement running on the server, holding the run lock, and nothing said."""
    why = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)",
           signal.SIGHUP: "the terminal hung up (SIGHUP)"}

    def handler(sig: int, _frame: Any) -> None:
        control.cancel(why.get(sig, f"signal {sig}"))

    try:
        old = {sig: signal.signal(sig, handler) for sig in why}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def open_run(setup: Setup, as_json: bool, control: RunControl, **kw: Any) -> Run:
    """The run of ``setup``: runner, journal (the one policy), the printer on its bus."""
    return Run(setup.plan, setup.path, setup.dsn, operator=operator(), target=setup.target,
               control=control, checksum=setup.checksum,
               subscribers=[Printer(as_json=as_json)], **kw)


def exit_code(outcome: Outcome) -> int:
    return EXIT_BY_STATUS.get(outcome.status, EXIT_FAILED)


# ---------------------------------------------------------------- run


def print_dry_run(runner: Runner, step_ids: list[str] | None, as_json: bool) -> None:
    for ps in runner.dry_run(step_ids):
        if as_json:
            print(json.dumps({"step": ps.step_id, "kind": ps.kind, "index": ps.index,
                              "sql": ps.sql, "autocommit": ps.autocommit, "lock": ps.lock,
                              "note": ps.note}))
        else:
            mode = "autocommit" if ps.autocommit else "transaction"
            note = f"  -- {ps.note}" if ps.note else ""
            print(scrub(f"{ps.step_id}[{ps.index + 1}] {ps.kind:8} {mode:11} "
                        f"{ps.lock:22} {short(ps.sql, 200)}{note}"))


def run(args: argparse.Namespace) -> int:
    setup = Setup(args, need_dsn=not args.dry_run)
    phases = None
    step_ids: list[str] | None = None
    if args.phase:
        try:
            phases = [find_phase(setup.plan, args.phase)]
        except KeyError as e:
            raise CliError(str(e.args[0]), EXIT_USAGE) from None
        step_ids = bound_steps(phases)
    elif bound_steps(setup.plan.phases):
        phases = list(setup.plan.phases)
    control = RunControl()
    runner = Runner(setup.plan, setup.dsn, control=control, operator=operator(),
                    confirm=tty_confirm, workdir=setup.path.resolve().parent,
                    plan_text_checksum=setup.checksum)
    problems = runner.problems(step_ids)
    if problems:
        raise CliError("the plan cannot run as written:\n  " + "\n  ".join(problems), EXIT_USAGE)
    if args.dry_run:
        mismatch = database_mismatch(setup.plan, setup.target, setup.database)
        if mismatch:
            print(f"migtui: warning: {mismatch}", file=sys.stderr)
        if not args.json:
            tgt = setup.plan.targets.get(setup.target)
            db = setup.database or (tgt.database if tgt and tgt.database else "?")
            print(f"dry run of {setup.plan_id} on target {setup.target} (database "
                  f"{db}): nothing is changed, nothing is connected")
        print_dry_run(runner, step_ids, args.json)
        return EXIT_OK
    check_rehearsal(setup)
    confirm_production(setup, args.yes)
    exporter = start_metrics(args, setup.plan, control)  # a port in use: exit 2, nothing run
    try:
        with open_run(setup, args.json, control, confirm=tty_confirm,
                      gauges=not args.no_gauges and has_gauges(setup.plan),
                      auto_rollback=not args.no_auto_rollback, exporter=exporter) as run_, \
                interrupt_cancels(control):
            outcome = execute(run_, phases, on_rehearse=rehearsal_evidence(setup))
    finally:
        if exporter is not None:
            exporter.close()
    return exit_code(outcome)
