"""migtui import-markdown FILE.md: a filled-in template back into a plan file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migtui.cli.common import EXIT_USAGE, CliError, output_file
from migtui.document.importer import ImportError_, import_markdown, to_yaml
from migtui.plan import PlanError, load_plan_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-markdown", help="read a filled-in migration plan template into a plan file",
        description="Read a copy of the migration plan template, as teams keep it (tables, "
                    "checklists with their ticks, SQL blocks), into a plan file.")
    p.add_argument("markdown", metavar="FILE.md")
    p.add_argument("-o", "--output", metavar="PLAN.yaml", help="write here (default: stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_file(args.output)
    src = Path(args.markdown)
    try:
        text = src.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"{src}: cannot read: {e}", EXIT_USAGE) from None
    try:
        data = import_markdown(text, str(src))
    except ImportError_ as e:
        raise CliError(str(e), EXIT_USAGE) from None
    out = to_yaml(data)
    name = args.output or f"{src.stem}.yaml"
    try:
        load_plan_text(out, name)
    except PlanError as e:
        raise CliError(f"{src}: the document was read, but the plan it gives is not valid:\n"
                       f"{e}", EXIT_USAGE) from None
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(out)
    return 0
