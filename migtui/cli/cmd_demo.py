"""migtui demo: the whole story on an embedded database with simulated traffic.

Quitting — q in the app, Ctrl+C, SIGHUP or SIGTERM — stops the traffic and the server.
The demo touches no database but its own unless --dsn is given.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from types import FrameType

from migtui.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from migtui.cli.metrics_args import add_metrics_args, start_metrics
from migtui.dsn import DsnError, conninfo, database_name
from migtui.embedded import EmbeddedError, default_home
from migtui.plan import load_plan


class _Stop(Exception):
    """A signal asked us to stop: unwind and clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="the whole story on an embedded database with simulated traffic",
        description="Start an embedded PostgreSQL with a shop database (1M orders, kept "
                    "between runs), simulated application traffic, and open the app on the "
                    "demo plan. --headless plays the same story without a TTY.")
    p.add_argument("--headless", action="store_true", help="play the story without a TTY")
    p.add_argument("--tour", action="store_true", help="a hint panel says what to press next")
    p.add_argument("--dsn", metavar="URL",
                   help="run the story against this existing database instead (any form "
                        "libpq accepts: postgresql:// URL, key=value string, Prisma URL)")
    p.add_argument("--reset", action="store_true",
                   help="roll back what an earlier demo left applied (after a crash or a "
                        "quit halfway) and forget its journal, so the next demo starts at "
                        "the first stage; then exit")
    p.add_argument("--orders", type=int, default=1_000_000, help="orders in the shop")
    p.add_argument("--workers", type=int, default=4, help="application traffic threads")
    p.add_argument("--rate", type=float, default=25.0, help="operations/s per traffic thread")
    p.add_argument("--seed", type=int, default=42, help="traffic seed (same story each run)")
    p.add_argument("--baseline", type=float, help="baseline seconds (default: the plan's)")
    p.add_argument("--home", type=Path, help="where the demo keeps its server (MIGTUI_HOME)")
    add_metrics_args(p)
    p.add_argument("--no-standby", action="store_true",
                   help="do not start a streaming standby beside the embedded server")
    p.set_defaults(func=run)


DEMO_TARGET = "  demo: {dsn_env: MIGTUI_DEMO_DSN, environment: development, database: shop}\n"


def demo_plan_path(home: Path, database: str | None = None) -> Path:
    """A working copy of the packaged demo plan, so its journal lives in the demo's home.
    ``database``: the one ``--dsn`` names, which the copy's target expects instead of
    ``shop`` (else the app would warn, rightly for a real plan, that it is the wrong one)."""
    run_dir = home / "demo-run"
    run_dir.mkdir(parents=True, exist_ok=True)
    dst = run_dir / "demo.yaml"
    src = resources.files("migtui.demo").joinpath("plan.yaml")
    text = src.read_text(encoding="utf-8")
    if database and database != "shop":
        assert DEMO_TARGET in text, "the packaged demo plan's target line changed"
        target = json.dumps(database)  # a YAML flow scalar, quoted
        text = text.replace(DEMO_TARGET, DEMO_TARGET.replace("database: shop",
                                                             f"database: {target}"))
    dst.write_text(text, encoding="utf-8")
    return dst


@contextmanager
def _signals_stop() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signum)

    # SIGINT too: a shell that started the demo in the background leaves SIGINT ignored,
    # and Python then never turns it into KeyboardInterrupt
    old = {s: signal.signal(s, handler)
           for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(args: argparse.Namespace) -> int:
    from migtui.demo.server import DemoDatabase
    from migtui.demo.traffic import Traffic

    home = args.home or default_home()

    def say(msg: str) -> None:
        print(msg, flush=True)

    dsn = None
    if args.dsn is not None:
        try:  # every form migtui.dsn accepts, as the conninfo psycopg connects with
            dsn = conninfo(args.dsn)
        except DsnError as e:
            raise CliError(f"--dsn: {e}", EXIT_USAGE) from None
    plan_file = demo_plan_path(home, database_name(dsn) if dsn else None)
    plan = load_plan(plan_file)
    exporter = None if args.reset else start_metrics(args, plan)  # a port in use: exit 2 first
    db = DemoDatabase(dsn=dsn, home=home, orders=args.orders,
                      standby=not args.no_standby and not args.reset)
    traffic: Traffic | None = None
    with _signals_stop():
        try:
            url = db.start(progress=say)
            if args.reset:
                return _reset(plan, plan_file, url, say)
            traffic = Traffic(url, workers=args.workers, rate=args.rate, seed=args.seed,
                              orders=args.orders).start()
            say(f"application traffic: {args.workers} threads × {args.rate:g} ops/s "
                f"(seed {args.seed})")
            if args.headless:
                return _headless(plan, plan_file, url, args, say, exporter)
            return _interactive(plan_file, url, args, exporter)
        except EmbeddedError as e:
            raise CliError(f"cannot start the embedded PostgreSQL: {e}", EXIT_FAILED) from None
        except (_Stop, KeyboardInterrupt) as e:
            print(f"\nstopping the demo ({e or 'interrupted'}) …", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            if traffic is not None:
                traffic.stop()
            db.stop()
            if exporter is not None:
                exporter.close()


def _reset(plan, plan_file: Path, url: str, say) -> int:
    """Undo an earlier demo's steps (partial backfills and rollbacks too) and its journal."""
    from migtui.journal import journal_path
    from migtui.runner import Runner, RunnerError

    try:
        with Runner(plan, url, operator="demo-presenter") as runner:
            left = [s.step_id for s in runner.status()
                    if s.state in ("applied", "failed") or s.rolling_back]
            out = runner.rollback(reason="migtui demo --reset")
    except RunnerError as e:
        raise CliError(f"cannot reset the demo: {e}", EXIT_FAILED) from None
    if out.status != "rolled_back":
        raise CliError(f"cannot reset the demo: {out.message}", EXIT_FAILED)
    journal_path(plan_file, plan.id or "demo").unlink(missing_ok=True)
    say(f"demo reset: rolled back {', '.join(out.steps)}" if out.steps and left
        else "demo reset: nothing was left applied")
    say("the next `migtui demo` starts the story from the first stage")
    return EXIT_OK


def _headless(plan, plan_file: Path, url: str, args: argparse.Namespace, say,
              exporter=None) -> int:
    from migtui.cli.printer import Printer
    from migtui.demo.story import play

    printer = Printer(sys.stdout)
    report = play(plan, plan_file, url, say=say, on_event=printer,
                  baseline_seconds=args.baseline, exporter=exporter)
    for line in report.summary():
        say(line)
    ok = report.trip is not None and report.rollback_ok
    return EXIT_OK if ok else EXIT_FAILED


def _interactive(plan_file: Path, url: str, args: argparse.Namespace, exporter=None) -> int:
    from migtui.journal import journal_path
    from migtui.tui.app import make_app

    # every demo run tells the story from the start (the database's history still says
    # where a run that was quit halfway stands, and the app offers to resume it)
    journal_path(plan_file, "demo").unlink(missing_ok=True)
    app = make_app(plan_file, dsn=url, demo=True, tour=args.tour, exporter=exporter)
    code = app.run()
    if code is None:  # the app crashed; Textual printed the traceback
        return int(app.return_code or EXIT_FAILED)
    return int(code)
