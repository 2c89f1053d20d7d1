"""migtui check PLAN...: validate plans and lint their SQL for unsafe operations."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from migtui.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, table_sizes
from migtui.lint import (
    SEVERITIES,
    Finding,
    at_or_above,
    derived_risks,
    lint_plan,
    locate,
    zero_downtime_flags,
)
from migtui.lint.locate import field_line
from migtui.plan import Plan, PlanError, load_plan
from migtui.plan.errors import Problem
from migtui.runnable import step_problems
from migtui.sql import parse_once


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="validate plans and lint their SQL for unsafe operations",
        description="Validate one or more plan files and lint every step's SQL and rollback "
                    "(see docs/lint.md). Exit 2 when any plan is invalid, else 1 when a "
                    "finding at or above --fail-on is not suppressed, else 0.")
    p.add_argument("plans", nargs="+", metavar="PLAN")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--fail-on", choices=[*SEVERITIES, "never"], default="error",
                   help="lowest severity that makes the exit code 1 (default: error)")
    p.add_argument("--dsn", metavar="URL",
                   help="read table sizes from this database: severities follow the size, "
                        "and findings estimate how long a rewrite or scan takes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sizes = table_sizes(args.dsn)
    invalid = failing = False
    reports = []
    for path in args.plans:
        try:
            plan = load_plan(path)
            with parse_once():  # what run refuses, then the lint: each SQL text parsed once
                refused = _unrunnable(path, plan)
                if refused:
                    raise refused
                findings = locate(lint_plan(plan, sizes), path)
        except PlanError as e:  # the file, or what run would refuse in it: located
            invalid = True
            reports.append({"plan": path, "valid": False,
                            "problems": [str(p) for p in e.problems]})
            if args.format == "text":
                error(f"{path}: {e}")
            continue
        failing |= any(f.active and at_or_above(f.severity, args.fail_on) for f in findings)
        reports.append(_report(path, plan, findings))
        if args.format == "text":
            _print_text(path, plan, findings)
    if args.format == "json":
        print(json.dumps(reports, indent=2, default=str))
    if invalid:
        return EXIT_USAGE
    return EXIT_FAILED if failing else EXIT_OK


def _unrunnable(path: str, plan: Plan) -> PlanError | None:
    """What ``run`` would refuse in this plan, located: the same rules, from one function."""
    problems = []
    for i, step in enumerate(plan.steps):
        for p in step_problems(step):
            line = field_line(path, step.id, p.field, p.line)
            problems.append(Problem(path, line, None, f"steps[{i}].{p.field}", p.message))
    return PlanError(problems) if problems else None


def _kinds(plan: Plan) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for s in plan.steps:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    return kinds


def _report(path: str, plan: Plan, findings: list[Finding]) -> dict[str, Any]:
    items = sum(len(items) for _k, _h, items in plan.checklists())
    return {"plan": path, "valid": True, "id": plan.id, "title": plan.title,
            "type": plan.type.value, "steps": _kinds(plan), "checklist_items": items,
            "rollback_triggers": len(plan.risks.rollback_triggers),
            "findings": [f.to_dict() for f in findings],
            "counts": _counts(findings),
            "risks": {t: {"level": lvl.value, "reason": why}
                      for t, (lvl, why) in derived_risks(plan, findings).items()},
            "zero_downtime": zero_downtime_flags(plan, findings)}


def _counts(findings: list[Finding]) -> dict[str, int]:
    out = {s: 0 for s in SEVERITIES}
    out["suppressed"] = 0
    for f in findings:
        out["suppressed" if not f.active else f.severity] += 1
    return out


def _print_text(path: str, plan: Plan, findings: list[Finding]) -> None:
    kinds = _kinds(plan)
    items = sum(len(items) for _k, _h, items in plan.checklists())
    steps = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "no steps"
    c = _counts(findings)
    lint = (f"{c['error']} errors, {c['warning']} warnings, {c['info']} info"
            + (f", {c['suppressed']} suppressed" if c["suppressed"] else ""))
    print(f"{path}: ok — {plan.title!r} ({plan.type.label}): {steps}; "
          f"{len(plan.phases)} phases, {items} checklist items, "
          f"{len(plan.risks.rollback_triggers)} rollback triggers; lint: {lint}")
    for f in findings:
        where = f"{path}:{f.plan_line}" if f.plan_line else path
        step = f.step_id + (" (rollback)" if f.which == "rollback" else "")
        if not f.active:
            print(f"{where}: {step}: {f.rule} suppressed: {f.suppressed}")
            continue
        print(f"{where}: {step}: {f.rule} {f.severity}: {f.message}")
        facts = []
        if f.lock:
            facts.append(f"lock: {f.lock}")
        if f.rewrites:
            facts.append("rewrites the table")
        if f.estimate:
            facts.append(f.estimate)
        if f.breaks:
            facts.append(f"breaks: {f.breaks}")
        if facts:
            print(f"    {'; '.join(facts)}")
        if f.safe_alternative:
            print("    safe alternative:")
            print(textwrap.indent(f.safe_alternative, "      "))
