"""migtui fleet: run one plan across a fleet of databases or schemas, wave by wave.

  fleet run FLEET PLAN                 work on the rollout (start several, anywhere)
  fleet status FLEET [PLAN] [--json]   where every wave and member stands
  fleet rollback FLEET PLAN [--wave N | --member M]
  fleet pause FLEET [PLAN] / fleet resume FLEET [PLAN]
  fleet export FLEET PLAN -o FILE.md   the rollout report, with per-member reports
  fleet schema                         the fleet file's JSON Schema
  fleet [view] FLEET PLAN              the app on the fleet view (Enter: a member's view)

Exit codes: 0 done (run: every member applied; status: the rollout is not failed),
1 failed (a member failed and the rollout stopped), 2 fleet file, plan or usage error,
3 rolled back (the failure policy or `fleet rollback` rolled members back), 130 interrupted.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migtui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_USAGE,
    CliError,
    load,
    operator,
    output_file,
    plan_path,
)
from migtui.plan import PlanError, plan_checksum

HELP = "run one plan across a fleet of databases or schemas, in gated waves"


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A control database that cannot be reached or read is a failure (exit 1), in one line."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        import psycopg

        from migtui.runner.conn import first_line
        from migtui.runner.errors import RunnerError

        try:
            return fn(args)
        except RunnerError as e:
            raise CliError(str(e), EXIT_FAILED) from None
        except psycopg.Error as e:
            raise CliError(f"control database: {first_line(e)}", EXIT_FAILED) from None

    return wrapper


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help=HELP, description=(
        "Run one plan across many databases or tenant schemas: a canary, then waves, each "
        "gated; the rollout's state lives in a control database that several workers share. "
        "Exit codes: 0 done, 1 failed, 2 fleet file, plan or usage error, 3 rolled back, "
        "130 interrupted."))
    fs = p.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)

    def base(name: str, help_: str, plan: str = "required") -> argparse.ArgumentParser:
        q = fs.add_parser(name, help=help_, description=help_)
        q.add_argument("fleet", metavar="FLEET", help="the fleet file (YAML)")
        if plan == "required":
            q.add_argument("plan", metavar="PLAN")
        elif plan == "optional":
            q.add_argument("plan", metavar="PLAN", nargs="?",
                           help="the plan (default: the fleet's latest rollout)")
        q.add_argument("--control", metavar="URL",
                       help="the control database (default: the fleet file's 'control')")
        return q

    q = base("run", "work on the rollout of PLAN across FLEET until it is done or stops")
    q.add_argument("--no-gauges", action="store_true", help="do not sample members' gauges")
    q.add_argument("--target", metavar="NAME",
                   help="the plan target whose settings apply (default: the plan's)")
    q.add_argument("--yes", action="store_true",
                   help="run a plan whose target is production (required for one)")
    q.add_argument("--threads", type=int, metavar="N",
                   help="members this worker runs at once (default: the fleet's concurrency)")
    q.set_defaults(func=cmd_run)
    q = base("status", "show each wave and member of the rollout", "optional")
    q.add_argument("--json", action="store_true", help="print the state as JSON")
    q.add_argument("--members", action="store_true", help="list every member, not only "
                                                          "the failed and active ones")
    q.set_defaults(func=cmd_status)
    q = base("rollback", "roll back applied members: all, one wave, or one member")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--wave", type=int, metavar="N")
    g.add_argument("--member", metavar="M")
    q.set_defaults(func=cmd_rollback)
    for name, help_ in (("pause", "stop claiming members; members in flight finish"),
                        ("resume", "continue a paused rollout, or retry a failed one's "
                                   "failed and rolled-back members")):
        base(name, help_, "optional").set_defaults(func=cmd_pause, action=name)
    q = base("export", "write the rollout report (Markdown) with per-member reports")
    q.add_argument("-o", "--output", metavar="FILE.md", required=True)
    q.set_defaults(func=cmd_export)
    fs.add_parser("schema", help="print the JSON Schema of fleet files").set_defaults(
        func=cmd_schema)
    base("view", "open the app on the fleet view (also: migtui fleet FLEET PLAN)").set_defaults(
        func=cmd_view)
    actions = set(fs.choices)
    parse = p.parse_known_args

    def view_by_default(args: Any = None, namespace: Any = None) -> Any:
        """`migtui fleet FLEET PLAN` (no action): the fleet view."""
        if args and args[0] not in actions and not args[0].startswith("-"):
            args = ["view", *args]
        return parse(args, namespace)

    p.parse_known_args = view_by_default  # type: ignore[method-assign]


def _fleet(path: str) -> Any:
    from migtui.fleet import load_fleet

    if not Path(path).exists():
        raise CliError(f"{path}: no such fleet file", EXIT_USAGE)
    try:
        return load_fleet(path)
    except PlanError as e:
        raise CliError(str(e), EXIT_USAGE) from None


def _resolve(loaded: Any) -> Any:
    from migtui.fleet import resolve

    try:
        return resolve(loaded)
    except PlanError as e:
        raise CliError(str(e), EXIT_USAGE) from None


def _open_existing(args: argparse.Namespace) -> tuple[Any, Any]:
    """The control database and the rollout named by FLEET [PLAN]; exit 2 when none."""
    from migtui.fleet import ControlDb, control_dsn, rollout_id

    loaded = _fleet(args.fleet)
    try:
        dsn = control_dsn(loaded, args.control,
                          None if args.control or loaded.fleet.control else _resolve(loaded))
    except PlanError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    db = ControlDb(dsn)
    db.ensure_schema()
    plan = getattr(args, "plan", None)
    if plan:
        p = load(plan)
        r = db.rollout(rollout_id(loaded.fleet.name, p.id or ""))
    else:
        r = db.latest_rollout(loaded.fleet.name)
    if r is None:
        raise CliError(f"fleet {loaded.fleet.name!r} has no rollout"
                       + (f" of plan {plan}" if plan else "") + " in its control database; "
                       "start one with 'migtui fleet run FLEET PLAN'", EXIT_USAGE)
    return db, r


@_guarded
def cmd_run(args: argparse.Namespace) -> int:
    from migtui.fleet import Worker, WorkerOptions, open_rollout
    from migtui.fleet.rollout import without_baseline

    loaded = _fleet(args.fleet)
    path = plan_path(args.plan)
    plan = load(args.plan)
    checksum = plan_checksum(path.read_text(encoding="utf-8"))
    _guard_production(plan, path, checksum, args.target, args.yes)
    try:
        opened = open_rollout(loaded, plan, checksum, args.control)
    except PlanError as e:
        raise CliError(str(e), EXIT_USAGE) from None

    def log(text: str) -> None:
        print(text, flush=True)

    worker = Worker(opened.db, opened.rollout.id, loaded.fleet.name, plan, opened.members,
                    WorkerOptions(heartbeat=loaded.fleet.workers.heartbeat, operator=operator(),
                                  workdir=path.resolve().parent, plan_checksum=checksum,
                                  gauges=not args.no_gauges, log=log, max_threads=args.threads))
    log(f"rollout {opened.rollout.id}: {'created' if opened.created else 'joined'} "
        f"({len(opened.members)} members); worker {worker.id}")
    relative = without_baseline(plan) if not args.no_gauges else []
    if relative:
        log(f"warning: relative limits stay inactive in a fleet (a member's run takes no "
            f"baseline): {'; '.join(relative)}; write them as absolute limits (e.g. 50ms)")
    interrupted = []

    def on_signal(_sig: int, _frame: Any) -> None:
        interrupted.append(True)
        worker.stop()

    old = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        res = worker.run()
    finally:
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)
        opened.db.close()
    r = res.rollout
    log(f"rollout {r.id}: {r.state}" + (f" — {r.message}" if r.message else "")
        + f"; this worker applied {len(res.applied)}, failed {len(res.failed)}, rolled back "
        f"{len(res.rolled_back)}, {res.queries} control queries in {res.seconds:.1f}s "
        f"({res.ticks} ticks)")
    if interrupted:
        return EXIT_INTERRUPTED
    return _exit_for(r.state, opened.db, r.id)


def _guard_production(plan: Any, path: Path, checksum: str, target: str | None,
                      yes: bool) -> None:
    """As `migtui run`: a production target honours settings.require_rehearsal, and needs
    --yes (there is no one database name to type for a fleet)."""
    from types import SimpleNamespace

    from migtui.cli.cmd_run import check_rehearsal
    from migtui.plan.model import Environment

    name = target or plan.target_name
    if target and target not in plan.targets:
        raise CliError(f"unknown target {target!r}; the plan has: "
                       f"{', '.join(plan.targets)}", EXIT_USAGE)
    check_rehearsal(SimpleNamespace(plan=plan, target=name, path=path, checksum=checksum))
    tgt = plan.targets.get(name)
    if tgt is not None and tgt.environment == Environment.production and not yes:
        raise CliError(f"target {name!r} is production: pass --yes to roll it across the "
                       f"fleet", EXIT_USAGE)


def _exit_for(state: str, db: Any, rid: str) -> int:
    if state == "done":
        return EXIT_OK
    if state == "failed":
        members = db.members(rid)
        states = {m["state"] for m in members}
        if "rolled_back" in states and "failed" not in states:
            return EXIT_ROLLED_BACK
        return EXIT_FAILED
    return EXIT_OK


@_guarded
def cmd_status(args: argparse.Namespace) -> int:
    from migtui.fleet import status

    db, r = _open_existing(args)
    members, waves = db.members(r.id), db.waves(r.id)
    ro = dict(r.__dict__)
    if args.json:
        print(json.dumps(status.as_json(ro, waves, members, db.workers(r.id)), indent=2))
    else:
        print(status.render(status.wave_table(ro, waves, members)))
        only = None if args.members else {"running", "failed", "rolling_back",
                                          "rollback_pending", "rolled_back"}
        table = status.member_table(members, only)
        if table.rows:
            print()
            print(status.render(table))
    return EXIT_FAILED if r.state == "failed" else EXIT_OK


@_guarded
def cmd_rollback(args: argparse.Namespace) -> int:
    from migtui.fleet import Worker, WorkerOptions

    db, r = _open_existing(args)
    members = db.members(r.id)
    if args.member and args.member not in {m["name"] for m in members}:
        raise CliError(f"unknown member {args.member!r} in rollout {r.id}", EXIT_USAGE)
    if args.wave is not None and args.wave not in {m["wave"] for m in members}:
        raise CliError(f"rollout {r.id} has no wave {args.wave}", EXIT_USAGE)
    n = db.request_rollback(r.id, args.wave, args.member)
    print(f"rollout {r.id}: {n} member(s) marked for rollback; rolling back")
    loaded = _fleet(args.fleet)
    path = plan_path(args.plan)
    plan = load(args.plan)
    found = {m.name: m for m in _resolve(loaded)}
    worker = Worker(db, r.id, loaded.fleet.name, plan, found, WorkerOptions(
        heartbeat=loaded.fleet.workers.heartbeat, operator=operator(),
        workdir=path.resolve().parent, log=lambda s: print(s, flush=True),
        only_rollbacks=True))
    res = worker.run()
    left = [m for m in db.members(r.id) if m["state"] in ("rollback_pending", "rolling_back")]
    failed = [m for m in db.members(r.id) if m["state"] == "failed"]
    print(f"rolled back {len(res.rolled_back)}, failed {len(res.failed)}")
    return EXIT_FAILED if failed or left or res.failed else EXIT_ROLLED_BACK


@_guarded
def cmd_pause(args: argparse.Namespace) -> int:
    db, r = _open_existing(args)
    if args.action == "pause":
        if r.state != "running":
            raise CliError(f"rollout {r.id} is {r.state}; only a running rollout pauses",
                           EXIT_USAGE)
        db.set_state(r.id, "paused", f"paused by {operator()}")
    else:
        if r.state == "done":
            raise CliError(f"rollout {r.id} is done; nothing to resume", EXIT_USAGE)
        db.resume(r.id, f"resumed by {operator()}")
    print(f"rollout {r.id}: {'paused' if args.action == 'pause' else 'running'}")
    return EXIT_OK


@_guarded
def cmd_export(args: argparse.Namespace) -> int:
    from migtui.fleet.report import write_report

    output_file(args.output)
    db, r = _open_existing(args)
    path = plan_path(args.plan)
    plan = load(args.plan)
    out = Path(args.output)
    written = write_report(db, r, plan, path.resolve().parent, out)
    print(f"wrote {out} and {written} member report(s)", file=sys.stderr)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from migtui.fleet import fleet_json_schema

    print(json.dumps(fleet_json_schema(), indent=2))
    return EXIT_OK


@_guarded
def cmd_view(args: argparse.Namespace) -> int:
    from migtui.fleet import ControlDb, resolve
    from migtui.fleet.snapshot import read_snapshot, roll_back
    from migtui.tui.app import make_app
    from migtui.tui.fleet_app import FleetApp

    db, r = _open_existing(args)
    loaded = _fleet(args.fleet)
    path = plan_path(args.plan)
    plan = load(args.plan)
    try:  # discovery may not reach every server from here: the view still shows
        members = {m.name: m for m in resolve(loaded)}
    except PlanError:
        members = {}

    def rollback(member: str | None, wave: int | None) -> str:
        own = ControlDb(db.dsn)  # the rollback's worker ticks on its own connection
        try:
            n, done, failed = roll_back(own, r.id, loaded.fleet.name, plan, members,
                                        path.resolve().parent, member=member, wave=wave,
                                        operator=operator(),
                                        heartbeat=loaded.fleet.workers.heartbeat)
        finally:
            own.close()
        return (f"{n} member(s) marked; rolled back {len(done)}"
                + (f", failed {len(failed)}: {', '.join(failed)}" if failed else ""))

    try:
        while True:
            app = FleetApp(lambda: read_snapshot(db, r.id), rollback=rollback,
                           openable=lambda n: n in members)
            out = app.run()
            if not (isinstance(out, tuple) and out[0] == "open"):
                return EXIT_OK if out is None else int(out)
            make_app(path, members[out[1]].dsn, operator=operator(), plan=plan).run()
    finally:
        db.close()
