"""migtui export PLAN -o FILE.md: the plan and its journal as the filled-in template."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from migtui import lint
from migtui.cli.common import load, output_file, plan_path, table_sizes
from migtui.document import export_markdown
from migtui.journal import journal_path, read_journal
from migtui.plan import plan_checksum
from migtui.state import RunState


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write the plan and its run journal as the template's Markdown",
        description="Render the plan, with its journal (ticks, notes, step results, trips), "
                    "as the migration plan template, filled in.")
    p.add_argument("plan", metavar="PLAN")
    p.add_argument("-o", "--output", metavar="FILE.md", help="write here (default: stdout)")
    p.add_argument("--dsn", help="read table sizes from this database for the risk review")
    p.set_defaults(func=run)


def lint_context(plan: Any, dsn: str | None) -> tuple[list[Any], dict[str, Any], list[str]]:
    """Findings, derived risk levels and zero-downtime flags for the export."""
    sizes = table_sizes(dsn)
    findings = lint.lint_plan(plan, sizes=sizes)
    return findings, lint.derived_risks(plan, findings), lint.zero_downtime_flags(plan, findings)


def run(args: argparse.Namespace) -> int:
    output_file(args.output)
    path = plan_path(args.plan)
    plan = load(str(path))
    assert plan.id is not None
    state = RunState.from_records(read_journal(journal_path(path, plan.id)))
    findings, risks, flags = lint_context(plan, args.dsn)
    checksum = plan_checksum(path.read_text(encoding="utf-8"))
    image = None
    if args.output:  # the gauges' picture beside the report (stdout: the text only)
        from migtui.plots import GaugeSeries, gauges_beside

        image = gauges_beside(args.output, GaugeSeries.from_state(state),
                              title=f"{plan.id}: the gauges over the run")
    text = export_markdown(plan, state, findings=findings, risks=risks, flags=flags,
                           plan_checksum=checksum, gauges_image=image.name if image else None)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}" + (f" and {image}" if image else ""), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
