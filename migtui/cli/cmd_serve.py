"""migtui serve PLAN|demo: the real app in a browser (textual-serve), for walkthroughs.

One app process per visitor, at most ``--max-visitors`` at once. For ``demo``, this process
starts the embedded database and the simulated traffic once, and every visitor's app
connects to them. Every URL needs the token printed at start (``?token=...``); it binds
to 127.0.0.1 unless ``--public``. A port in use is one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from pathlib import Path

from migtui.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, load, plan_path

HELP = "serve the app to a browser (a plan, or the demo) for walkthroughs"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help=HELP,
        description="Serve the real app to web browsers with textual-serve: one app process "
                    "per visitor. Every URL needs the token printed at start. 'demo' starts "
                    "one embedded shop database and one traffic generator for all visitors.")
    p.add_argument("plan", metavar="PLAN|demo", help="a plan file, or 'demo'")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0: any)")
    p.add_argument("--host", default=None,
                   help="address to bind (default 127.0.0.1; with --public 0.0.0.0)")
    p.add_argument("--public", action="store_true",
                   help="listen on every interface; visitors need the printed token URL")
    p.add_argument("--max-visitors", type=int, default=3, metavar="N",
                   help="app processes at once (default 3); one more visitor is told to wait")
    p.add_argument("--dsn", help="database URL: the plan's database, or the demo's instead "
                                 "of the embedded server")
    p.add_argument("--orders", type=int, default=1_000_000, help="demo: orders in the shop")
    p.add_argument("--workers", type=int, default=4, help="demo: application traffic threads")
    p.add_argument("--rate", type=float, default=25.0, help="demo: operations/s per thread")
    p.add_argument("--seed", type=int, default=42, help="demo: traffic seed")
    p.add_argument("--home", type=Path, help="demo: where the embedded server lives")
    p.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    from migtui.serve.server import bind

    if not 0 <= port <= 65535:
        raise CliError(f"--port: expected a port from 0 to 65535, found {port}", EXIT_USAGE)
    try:
        return bind(host, port)
    except OSError as e:
        import errno

        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
        raise CliError(f"port {port} on {host} {why}", EXIT_USAGE) from None


def run(args: argparse.Namespace) -> int:
    from migtui.serve.server import MigtuiServer, describe, new_token
    from migtui.serve.visitor import DSN_ENV

    if args.max_visitors < 1:
        raise CliError(f"--max-visitors: expected 1 or more, found {args.max_visitors}",
                       EXIT_USAGE)
    demo = args.plan == "demo"
    target = "demo" if demo else str(plan_path(args.plan).resolve())
    if not demo:
        load(args.plan)  # a bad plan is a located error now, not in every visitor's app
    host = args.host or ("0.0.0.0" if args.public else "127.0.0.1")
    sock = _bind(host, args.port)
    bound_host, port = describe(sock)
    shown = socket.gethostname() if args.public and bound_host in ("0.0.0.0", "::") else (
        "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host)
    token = new_token()
    command = shlex.join([sys.executable, "-m", "migtui.serve.visitor", target])
    server = MigtuiServer(command, token=token, max_visitors=args.max_visitors,
                          title="migtui demo" if demo else f"migtui {Path(target).name}")

    def say(msg: str) -> None:
        print(msg, flush=True)

    db = traffic = None
    try:
        if demo:
            from migtui.demo.server import DemoDatabase
            from migtui.demo.traffic import Traffic
            from migtui.embedded import EmbeddedError, default_home

            db = DemoDatabase(dsn=args.dsn, home=args.home or default_home(),
                              orders=args.orders)
            try:
                url = db.start(progress=say)
            except EmbeddedError as e:
                raise CliError(f"cannot start the embedded PostgreSQL: {e}",
                               EXIT_FAILED) from None
            traffic = Traffic(url, workers=args.workers, rate=args.rate, seed=args.seed,
                              orders=args.orders).start()
            say(f"application traffic: {args.workers} threads × {args.rate:g} ops/s, "
                f"shared by every visitor")
            os.environ[DSN_ENV] = url
        elif args.dsn:
            os.environ[DSN_ENV] = args.dsn
        say(f"serving {'the demo' if demo else args.plan} to at most {args.max_visitors} "
            f"visitor(s) on http://{shown}:{port}/?token={token}")
        say("every URL needs that token; Ctrl+C stops")
        server.serve_on(sock)
        return EXIT_OK
    finally:
        sock.close()
        if traffic is not None:
            traffic.stop()
        if db is not None:
            db.stop()
