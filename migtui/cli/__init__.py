"""The migtui command line. Each command lives in its own module with ``register()``.

Exit codes (documented in the README):
  0  done
  1  failed: a step or check failed, or ``check`` found lint errors
  2  plan or usage error: invalid plan, bad arguments, no database given
  3  rolled back
  130 interrupted
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from migtui import __version__
from migtui.cli import common
from migtui.dsn import DsnError

# Each module registers its sub-command. Keep this list in the order of the help text.
COMMAND_MODULES = [
    "migtui.cli.cmd_open",
    "migtui.cli.cmd_demo",
    "migtui.cli.cmd_new",
    "migtui.cli.cmd_check",
    "migtui.cli.cmd_export",
    "migtui.cli.cmd_import_markdown",
    "migtui.cli.cmd_schema",
    "migtui.cli.cmd_run",
    "migtui.cli.cmd_rehearse",
    "migtui.cli.cmd_status",
    "migtui.cli.cmd_rollback",
    "migtui.cli.cmd_import_prisma",
]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="migtui",
        description="Run a PostgreSQL migration plan as a guarded, monitored, reversible "
                    "runbook. 'migtui PLAN' opens the app on a plan.",
        epilog="Exit codes: 0 done, 1 failed, 2 plan or usage error, 3 rolled back, "
               "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"migtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # "migtui PLAN [--dsn ...]" opens the app: treat a first argument that is not a
    # command (and not an option) as a plan path.
    if args_list and args_list[0] not in commands and not args_list[0].startswith("-"):
        args_list = ["open", *args_list]
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
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
