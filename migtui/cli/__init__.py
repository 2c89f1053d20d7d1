"""The migtui command line. Each command lives in its own module with ``register()``.

Exit codes (documented in the README):
  0  done
  1  failed: a step or check failed, or ``check`` found lint errors
  2  plan or usage error: invalid plan, bad arguments, no database given
  3  rolled back
  130 interrupted

Start-up is kept cheap: a command's module (and with it SQLAlchemy, psycopg, pglast,
pydantic or Textual) is imported only when that command runs. The top-level parser lists
every command by name and help line from ``COMMANDS``; only the chosen command's module
registers its full parser. ``migtui --version`` and ``migtui --help`` import no command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from migtui import __version__


class Command(NamedTuple):
    name: str
    module: str
    help: str  # the one-line help of the top-level listing; the module's register() repeats it


# In the order of the help text. A test checks each help line against the module's own.
COMMANDS = [
    Command("open", "migtui.cli.cmd_open", "open the app on a plan (also: migtui PLAN)"),
    Command("demo", "migtui.cli.cmd_demo",
            "the whole story on an embedded database with simulated traffic"),
    Command("serve", "migtui.cli.cmd_serve",
            "serve the app to a browser (a plan, or the demo) for walkthroughs"),
    Command("new", "migtui.cli.cmd_new", "scaffold a plan with every section of the template"),
    Command("check", "migtui.cli.cmd_check",
            "validate plans and lint their SQL for unsafe operations"),
    Command("export", "migtui.cli.cmd_export",
            "write the plan and its run journal as the template's Markdown"),
    Command("import-markdown", "migtui.cli.cmd_import_markdown",
            "read a filled-in migration plan template into a plan file"),
    Command("schema", "migtui.cli.cmd_schema", "print the JSON Schema of plan files"),
    Command("run", "migtui.cli.cmd_run",
            "run a plan headlessly: every phase's checklist, or one with --phase"),
    Command("rehearse", "migtui.cli.cmd_rehearse",
            "rehearse a plan on staging: apply, verify, roll back, compare, re-apply"),
    Command("trace", "migtui.cli.cmd_trace",
            "apply and roll back on a scratch database, tracing every statement's locks and "
            "rewrites"),
    Command("status", "migtui.cli.cmd_status",
            "show each step as applied, pending, failed or rolled back"),
    Command("rollback", "migtui.cli.cmd_rollback", "roll back applied steps in reverse order"),
    Command("fleet", "migtui.cli.cmd_fleet",
            "run one plan across a fleet of databases or schemas, in gated waves"),
    Command("import-prisma", "migtui.cli.cmd_import_prisma",
            "build a plan from a Prisma migrations folder or directories"),
]
COMMAND_NAMES = frozenset(c.name for c in COMMANDS)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, that command's module is imported and registers its
    full sub-parser, every other command is a name and a help line."""
    parser = argparse.ArgumentParser(
        prog="migtui",
        description="Run a PostgreSQL migration plan as a guarded, monitored, reversible "
                    "runbook. 'migtui PLAN' opens the app on a plan.",
        epilog="Exit codes: 0 done, 1 failed, 2 plan or usage error, 3 rolled back, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"migtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for c in COMMANDS:
        if c.name == command:
            importlib.import_module(c.module).register(sub)
        else:
            sub.add_parser(c.name, help=c.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # "migtui PLAN [--dsn ...]" opens the app: treat a first argument that is not a
    # command (and not an option) as a plan path.
    if args_list and args_list[0] not in COMMAND_NAMES and not args_list[0].startswith("-"):
        args_list = ["open", *args_list]
    command = args_list[0] if args_list and args_list[0] in COMMAND_NAMES else None
    parser = build_parser(command)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from migtui.cli import common  # already imported by the command's module
    from migtui.dsn import DsnError

    try:
        return int(args.func(args) or 0)
    except common.CliError as e:
        common.error(str(e))
        return e.code
    except DsnError as e:  # a malformed connection string, wherever a command parses it
        common.error(str(e))
        return common.EXIT_USAGE
    except KeyboardInterrupt:
        common.error("interrupted")
        return 130
    except OSError as e:  # a file that could not be read or written, found late
        where = f"{e.filename}: " if e.filename else ""
        common.error(f"{where}{e.strerror or e}")
        return common.EXIT_FAILED
