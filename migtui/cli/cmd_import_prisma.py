"""migtui import-prisma prisma/migrations [--dsn URL]: a plan from a Prisma Migrate history.

Takes the migrations folder (every migration in it, in Prisma's order) or single migration
directories. Each migration becomes one SQL step: ``migration.sql`` as its SQL, ``down.sql``
(if present) as its rollback, else the step is irreversible. Applying a step records the
``_prisma_migrations`` row ``prisma migrate deploy`` would. With ``--dsn``, migrations the
database already has (same name and checksum) are left out; a changed checksum is refused,
with the diff when migtui applied it.
Exit codes: 0 written, 2 usage error (or a checksum conflict), 1 the database could not
be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import psycopg

from migtui.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    operator,
    output_file,
)
from migtui.importers.prisma import (
    Migration,
    PrismaImportError,
    build_plan,
    discover,
    dump_plan,
    split_applied,
    step_id,
)
from migtui.plan import PlanError, load_plan_text
from migtui.runner.prisma import AppliedBody, AppliedRow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-prisma", help="build a plan from a Prisma migrations folder or directories",
        description="Build a migtui plan from prisma/migrations (every migration in it, in "
                    "the order 'prisma migrate deploy' applies them) or from single "
                    "prisma/migrations/<name> directories (migration.sql, optional down.sql). "
                    "Applying a step records it in _prisma_migrations as 'prisma migrate "
                    "deploy' does; rolling it back removes the row. Migrations the database "
                    "already has are skipped when the plan runs, and left out of the plan with "
                    "--dsn.")
    p.add_argument("migrations", nargs="+", metavar="DIR")
    p.add_argument("-o", "--output", metavar="PLAN",
                   help="where to write the plan (default: <last migration name>.migtui.yaml)")
    p.add_argument("--dsn", metavar="URL",
                   help="leave out the migrations this database's _prisma_migrations already "
                        "has (same name and checksum)")
    p.add_argument("--force", action="store_true", help="overwrite an existing plan file")
    p.set_defaults(func=run)


def _applied(dsn: str, migrations: list[Migration]
             ) -> tuple[dict[str, AppliedRow], dict[str, AppliedBody]]:
    """The database's ``_prisma_migrations`` rows, and for each migration whose checksum
    differs, the SQL migtui's history says it applied (for the diff), when it has it."""
    from migtui.db import DsnError, resolve_dsn
    from migtui.runner.conn import connect
    from migtui.runner.prisma import applied_body, applied_rows
    from migtui.secrets import scrub

    try:
        with connect(resolve_dsn(dsn=dsn)) as conn:
            rows = applied_rows(conn)
            bodies = {}
            for m in migrations:
                row = rows.get(m.name)
                if row is not None and row.checksum != m.checksum and (
                        got := applied_body(conn, step_id(m.name))) is not None:
                    bodies[m.name] = got
            return rows, bodies
    except DsnError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    except psycopg.Error as e:
        raise CliError(f"cannot read _prisma_migrations: {scrub(str(e)).splitlines()[0]}",
                       EXIT_FAILED) from None


def run(args: argparse.Namespace) -> int:
    output_file(args.output)
    try:
        migrations = discover([Path(d) for d in args.migrations])
    except PrismaImportError as e:
        raise CliError(str(e), EXIT_USAGE) from None
    if args.dsn:
        todo, done, conflicts = split_applied(migrations, *_applied(args.dsn, migrations))
        if conflicts:
            raise CliError("; ".join(conflicts), EXIT_USAGE)
        for m in done:
            print(f"already applied: {m.name} (same checksum), left out")
        if not todo:
            print("nothing to import: the database has every migration")
            return EXIT_OK
        migrations = todo
    plan = build_plan(migrations, agent=operator())
    text = dump_plan(plan)
    out = Path(args.output) if args.output else Path(f"{migrations[-1].name}.migtui.yaml")
    try:
        load_plan_text(text, str(out))
    except PlanError as e:
        raise CliError(f"the imported plan does not validate: {e}", EXIT_USAGE) from None
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; pass --force to overwrite it", EXIT_USAGE)
    out.write_text(text, encoding="utf-8")
    names = [m.name for m in migrations]
    shown = ", ".join(names) if len(names) <= 4 else f"{names[0]} … {names[-1]}"
    print(f"wrote {out}: {len(names)} step(s) from {shown}")
    return EXIT_OK
