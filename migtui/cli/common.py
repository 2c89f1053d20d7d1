"""Helpers shared by the commands: loading plans, printing errors, exit codes."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from migtui.plan import Plan, PlanError, load_plan
from migtui.secrets import scrub

if TYPE_CHECKING:
    from migtui.lint import TableSizes

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ROLLED_BACK = 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def error(message: str) -> None:
    print(f"migtui: error: {scrub(message)}", file=sys.stderr)


def load(path: str) -> Plan:
    """Load a plan, or raise CliError (exit 2) with every located problem."""
    try:
        return load_plan(path)
    except PlanError as e:
        raise CliError(str(e), EXIT_USAGE) from None


def operator() -> str:
    """Who is at the keyboard: MIGTUI_OPERATOR, else the login name."""
    if os.environ.get("MIGTUI_OPERATOR"):
        return os.environ["MIGTUI_OPERATOR"]
    try:
        return getpass.getuser()  # LOGNAME, USER, ..., then the password database
    except (KeyError, OSError):
        return "operator"


def plan_path(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CliError(f"{path}: no such plan file", EXIT_USAGE)
    return p


def output_file(path: str | None) -> str | None:
    """Check an ``-o`` path before any work: its folder exists and can be written, and it is
    not a folder. A bad one is a usage error (exit 2), said in one line."""
    if not path:
        return path
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CliError(f"{path}: is a directory; expected a file to write", EXIT_USAGE)
    if not folder.is_dir():
        raise CliError(f"{path}: the folder {folder} does not exist", EXIT_USAGE)
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CliError(f"{path}: cannot write there (permission denied)", EXIT_USAGE)
    return path


def table_sizes(dsn: str | None) -> TableSizes | None:
    """The database's table sizes for the lint (``check --dsn``, ``export --dsn``), or a
    one-line error, exit 2: a malformed string, a server that cannot be reached, a catalog
    that cannot be read (a traceback from ``export`` with a wrong port)."""
    if not dsn:
        return None
    from migtui import secrets
    from migtui.dsn import parse_dsn
    from migtui.lint import TableSizes

    parse_dsn(dsn)  # a malformed string: one line, exit 2
    try:
        return TableSizes.read(dsn)
    except Exception as e:  # connection or catalog errors: a usage problem, not a traceback
        raise CliError(f"cannot read table sizes from {secrets.redact_url(dsn)}: "
                       f"{scrub(str(e).splitlines()[0] if str(e) else type(e).__name__)}",
                       EXIT_USAGE) from None
