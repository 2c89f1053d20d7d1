"""migtui import-prisma prisma/migrations/<name>...: a plan from Prisma migrations.

Each migration directory becomes one SQL step: ``migration.sql`` as its SQL, ``down.sql`` (if
present) as its rollback, else the step is marked irreversible. The step records Prisma's
checksum of migration.sql, so applying it writes the ``_prisma_migrations`` row that
``prisma migrate deploy`` would. Exit codes: 0 written, 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from migtui.cli.common import EXIT_OK, EXIT_USAGE, CliError, operator
from migtui.plan import PlanError, load_plan_text
from migtui.runner.prisma import checksum_bytes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-prisma", help="build a plan from Prisma migration directories",
        description="Build a migtui plan from one or more prisma/migrations/<name> directories "
                    "(migration.sql, optional down.sql). Applying a step records it in "
                    "_prisma_migrations as 'prisma migrate deploy' does; rolling it back "
                    "removes the row.")
    p.add_argument("migrations", nargs="+", metavar="DIR")
    p.add_argument("-o", "--output", metavar="PLAN",
                   help="where to write the plan (default: <last migration name>.migtui.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing plan file")
    p.set_defaults(func=run)


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, data: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def step_id(name: str) -> str:
    sid = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return sid if re.match(r"^[A-Za-z_]", sid) else f"m{sid}"


def build_plan(dirs: list[Path]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for d in dirs:
        mig = d / "migration.sql"
        if not mig.is_file():
            raise CliError(f"{d}: no migration.sql (expected a prisma/migrations/<name> "
                           f"directory)", EXIT_USAGE)
        data = mig.read_bytes()
        try:
            sql = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{mig}: not UTF-8 text", EXIT_USAGE) from None
        step: dict[str, Any] = {
            "id": step_id(d.name),
            "description": f"Prisma migration {d.name}",
            "sql": _Literal(sql),
            "prisma": {"migration_name": d.name, "checksum": checksum_bytes(data)},
        }
        down = d / "down.sql"
        if down.is_file():
            step["rollback"] = _Literal(down.read_text(encoding="utf-8"))
        else:
            step["irreversible"] = ("Prisma migration without down.sql; add one beside "
                                    "migration.sql and import again to make it reversible")
        steps.append(step)
    name = dirs[-1].name
    return {
        "migtui": 1,
        "id": f"prisma-{name}" if len(dirs) == 1 else f"prisma-{dirs[0].name}-to-{name}",
        "title": f"Prisma migration {name}" if len(dirs) == 1 else
                 f"Prisma migrations {dirs[0].name} to {name}",
        "date": dt.date.today().isoformat(),
        "type": "schema_change",
        "agent": operator(),
        "targets": {"production": {"dsn_env": "DATABASE_URL", "environment": "production"}},
        "steps": steps,
        "phases": [{"name": "Execution", "items": [
            {"text": "Execute migration scripts",
             "run": {"steps": [s["id"] for s in steps]}}]}],
    }


def run(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.migrations]
    for d in dirs:
        if not d.is_dir():
            raise CliError(f"{d}: not a directory", EXIT_USAGE)
    plan = build_plan(dirs)
    text = ("# Imported from Prisma by 'migtui import-prisma'. The SQL is migration.sql "
            "verbatim:\n# its checksum is recorded in _prisma_migrations when applied.\n"
            + yaml.dump(plan, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))
    out = Path(args.output) if args.output else Path(f"{dirs[-1].name}.migtui.yaml")
    try:
        load_plan_text(text, str(out))
    except PlanError as e:
        raise CliError(f"the imported plan does not validate: {e}", EXIT_USAGE) from None
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; pass --force to overwrite it", EXIT_USAGE)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}: {len(plan['steps'])} step(s) from {', '.join(d.name for d in dirs)}")
    return EXIT_OK
