"""migtui schema: print the JSON Schema of the plan format, for editors."""

from __future__ import annotations

import argparse
import json

from migtui.plan.model import Plan


def plan_json_schema() -> dict[str, object]:
    schema = Plan.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "migtui plan"
    return schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of plan files",
                       description="Print the JSON Schema of the plan format. Point your "
                                   "editor's YAML language server at it.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(plan_json_schema(), indent=2))
    return 0
