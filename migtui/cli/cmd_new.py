"""migtui new PATH [--type ...]: scaffold a plan with every section of the template."""

from __future__ import annotations

import argparse
import datetime as dt
from importlib import resources
from pathlib import Path

from migtui.cli.common import EXIT_USAGE, CliError, operator
from migtui.plan import PlanError, load_plan_text
from migtui.plan.model import MigrationType, slug

STEPS = {
    "schema_change": """\
  - id: add_column
    sql: ALTER TABLE {table} ADD COLUMN new_column text;
    rollback: ALTER TABLE {table} DROP COLUMN IF EXISTS new_column;
  - id: verify
    check: {{sql: "SELECT count(*) FROM {table} WHERE new_column IS NOT NULL", expect: ">= 0"}}
""",
    "data_migration": """\
  - id: count_before
    check: {{sql: "SELECT count(*) FROM {table}", capture: rows_before}}
  - id: add_column
    sql: ALTER TABLE {table} ADD COLUMN new_column text;
    rollback: ALTER TABLE {table} DROP COLUMN IF EXISTS new_column;
  - id: fill_column
    backfill: {{table: {table}, key: id, set: "new_column = 'TODO'", where: "new_column IS NULL"}}
    rollback:  # undone in keyset batches as well, under the same guards
      backfill: {{table: {table}, key: id, set: "new_column = NULL",
                 where: "new_column IS NOT NULL"}}
  - id: verify
    check: {{sql: "SELECT count(*) FROM {table}", expect: "= @rows_before"}}
""",
    "index_addition": """\
  - id: create_index
    sql: CREATE INDEX CONCURRENTLY IF NOT EXISTS {table}_new_idx ON {table} (id);
    rollback: DROP INDEX CONCURRENTLY IF EXISTS {table}_new_idx;
  - id: verify
    check:
      sql: "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = '{table}_new_idx' AND i.indisvalid"
      expect: "= 1"
""",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="scaffold a plan with every section of the template",
                       description="Write a new plan file with every section of the "
                                   "migration plan template, ready to fill in.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--type", choices=[t.value for t in MigrationType], default="schema_change")
    p.add_argument("--title", help="plan title (default: from the file name)")
    p.add_argument("--table", default="my_table", help="the main table it changes")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def scaffold(path: Path, mtype: str, title: str, table: str, agent: str) -> str:
    steps = STEPS[mtype].format(table=table)
    ids = [ln.split("id:", 1)[1].strip() for ln in steps.splitlines()
           if ln.strip().startswith("- id:")]
    template = resources.files("migtui").joinpath("templates/new-plan.yaml").read_text()
    return template.format(
        filename=path.name, plan_id=slug(path.stem), title=title, date=dt.date.today(),
        type=mtype, agent=agent, table=table, steps=steps,
        step_ids=", ".join(i for i in ids if i != "verify"))


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix not in (".yaml", ".yml"):
        path = path.with_suffix(".yaml")
    if path.exists() and not args.force:
        raise CliError(f"{path} exists; pass --force to overwrite it", EXIT_USAGE)
    title = args.title or path.stem.replace("-", " ").replace("_", " ").capitalize()
    text = scaffold(path, args.type, title, args.table, operator())
    try:
        load_plan_text(text, str(path))
    except PlanError as e:  # the scaffold itself must always be valid
        raise CliError(f"internal error: the scaffold is invalid:\n{e}", 1) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({MigrationType(args.type).label}); next: migtui check {path}")
    return 0
