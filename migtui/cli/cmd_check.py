"""migtui check PLAN...: validate plans and report a summary."""

from __future__ import annotations

import argparse
import json

from migtui.cli.common import EXIT_OK, EXIT_USAGE, error
from migtui.plan import PlanError, load_plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="validate plans: schema, references, and that every SQL step parses",
        description="Validate one or more plan files. Exit 0 when all are valid, 2 when any "
                    "plan is invalid.")
    p.add_argument("plans", nargs="+", metavar="PLAN")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    code = EXIT_OK
    reports = []
    for path in args.plans:
        try:
            plan = load_plan(path)
        except PlanError as e:
            code = EXIT_USAGE
            reports.append({"plan": path, "valid": False,
                            "problems": [str(p) for p in e.problems]})
            if args.format == "text":
                error(f"{path}: {e}")
            continue
        kinds: dict[str, int] = {}
        for s in plan.steps:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
        items = sum(len(items) for _k, _h, items in plan.checklists())
        reports.append({"plan": path, "valid": True, "id": plan.id, "title": plan.title,
                        "type": plan.type.value, "steps": kinds, "checklist_items": items,
                        "rollback_triggers": len(plan.risks.rollback_triggers)})
        if args.format == "text":
            steps = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "no steps"
            print(f"{path}: ok — {plan.title!r} ({plan.type.label}): {steps}; "
                  f"{len(plan.phases)} phases, {items} checklist items, "
                  f"{len(plan.risks.rollback_triggers)} rollback triggers")
    if args.format == "json":
        print(json.dumps(reports, indent=2))
    return code
