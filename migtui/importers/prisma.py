"""Prisma Migrate histories as migtui plans: one step per migration, in Prisma's order.

``prisma migrate deploy`` applies the directories of ``prisma/migrations`` sorted by name,
each ``migration.sql`` as one script, and records its checksum in ``_prisma_migrations``.
``build_plan`` turns the same directories into a plan whose steps record the same rows, so
Prisma and migtui agree on what was applied:

* a folder of migrations (``prisma/migrations``) or single migration directories;
* an empty migration (Prisma writes ``-- This is an empty migration.``) is a step that only
  records its row, as Prisma does;
* ``down.sql`` beside ``migration.sql`` becomes the rollback, else the step is irreversible;
* the SQL stays a readable YAML literal block. Trailing spaces are kept (YAML keeps them in
  a literal block; PyYAML just will not write them) and CRLF files are written with LF plus
  ``line_endings: crlf``, which the plan loader turns back into the exact bytes, so the
  checksum still matches. Only text a literal block cannot hold is written quoted.

No Textual, no database: ``split_applied`` sorts them against the rows that
``migtui.runner.prisma.applied_rows`` read from ``_prisma_migrations``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migtui.runner.prisma import (
    AppliedBody,
    AppliedRow,
    checksum_bytes,
    checksum_conflict,
)
from migtui.sql import split

EMPTY_ROLLBACK = ("-- An empty migration: nothing to undo. Rolling it back removes its "
                  "_prisma_migrations row.\n")


class PrismaImportError(ValueError):
    """A directory that is not a Prisma migration (history). Exit code 2."""


@dataclass(frozen=True)
class Migration:
    name: str
    directory: Path
    data: bytes  # migration.sql, byte for byte
    down: str | None

    @property
    def checksum(self) -> str:
        return checksum_bytes(self.data)

    @property
    def empty(self) -> bool:
        """Only comments (Prisma writes ``-- This is an empty migration.``)."""
        return not split(self.data.decode("utf-8"))


def discover(paths: list[Path]) -> list[Migration]:
    """The migrations named by ``paths``: migration directories, or folders of them."""
    out: list[Migration] = []
    for path in paths:
        if not path.is_dir():
            raise PrismaImportError(f"{path}: not a directory")
        if (path / "migration.sql").is_file():
            out.append(_read(path))
            continue
        subdirs = sorted((d for d in path.iterdir() if (d / "migration.sql").is_file()),
                         key=lambda d: d.name)
        if not subdirs:
            raise PrismaImportError(
                f"{path}: no migration.sql, and no migration directories in it (expected "
                f"prisma/migrations, or one prisma/migrations/<name> directory)")
        out.extend(_read(d) for d in subdirs)
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PrismaImportError(f"migration(s) named twice: {', '.join(dupes)}")
    return out


def _read(d: Path) -> Migration:
    data = (d / "migration.sql").read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise PrismaImportError(f"{d / 'migration.sql'}: not UTF-8 text") from None
    down_path = d / "down.sql"
    down = down_path.read_text(encoding="utf-8") if down_path.is_file() else None
    return Migration(d.name, d, data, down)


def step_id(name: str) -> str:
    sid = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return sid if re.match(r"^[A-Za-z_]", sid) else f"m{sid}"


class _Literal(str):
    """A string the dumper writes as a literal block when the block holds it exactly."""


def _sql_value(text: str) -> tuple[str, str | None]:
    """The YAML value for ``text`` and its line-ending marker (None for LF)."""
    if "\r\n" in text and "\r" not in text.replace("\r\n", ""):
        return _Literal(text.replace("\r\n", "\n")), "crlf"
    return _Literal(text), None


def build_plan(migrations: list[Migration], *, today: dt.date | None = None,
               agent: str = "") -> dict[str, Any]:
    if not migrations:
        raise PrismaImportError("no migrations to import")
    steps: list[dict[str, Any]] = []
    for m in migrations:
        sql, endings = _sql_value(m.data.decode("utf-8"))
        prisma: dict[str, Any] = {"migration_name": m.name, "checksum": m.checksum}
        if endings:
            prisma["line_endings"] = endings
        step: dict[str, Any] = {"id": step_id(m.name),
                                "description": f"Prisma migration {m.name}",
                                "sql": sql, "prisma": prisma}
        if m.down is not None:
            step["rollback"] = _Literal(m.down)
        elif m.empty:
            step["rollback"] = _Literal(EMPTY_ROLLBACK)
        else:
            step["irreversible"] = ("Prisma migration without down.sql; add one beside "
                                    "migration.sql and import again to make it reversible")
        steps.append(step)
    first, last = migrations[0].name, migrations[-1].name
    one = len(migrations) == 1
    return {
        "migtui": 1,
        "id": step_id(f"prisma-{last}" if one else f"prisma-{first}-to-{last}")[:128],
        "title": f"Prisma migration {last}" if one else f"Prisma migrations {first} to {last}",
        "date": (today or dt.date.today()).isoformat(),
        "type": "schema_change",
        "agent": agent,
        "targets": {"production": {"dsn_env": "DATABASE_URL", "environment": "production"}},
        "steps": steps,
        "phases": [{"name": "Execution", "items": [
            {"text": "Execute migration scripts",
             "run": {"steps": [s["id"] for s in steps]}}]}],
    }


# ---------------------------------------------------------------- YAML with literal blocks


class _Dumper(yaml.SafeDumper):
    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        if not analysis.allow_block and _block_safe(scalar):
            analysis.allow_block = True  # only trailing spaces stood in the way
        return analysis


def _block_safe(text: str) -> bool:
    """Whether a literal block reproduces ``text`` exactly (checked by reading it back)."""
    if any(ch in text for ch in "\r\x85\u2028\u2029\ufeff"):
        return False
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        return False
    doc = yaml.dump({"v": text}, Dumper=_LiteralProbe, width=100, allow_unicode=True)
    try:
        return yaml.safe_load(doc) == {"v": text}
    except yaml.YAMLError:
        return False


class _LiteralProbe(yaml.SafeDumper):
    def analyze_scalar(self, scalar: str) -> Any:
        analysis = super().analyze_scalar(scalar)
        analysis.allow_block = True
        return analysis

    def choose_scalar_style(self) -> str:
        return "|" if self.event.style == "|" else super().choose_scalar_style()


def _literal(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="|")


for _d in (_Dumper, _LiteralProbe):
    _d.add_representer(_Literal, _literal)


def dump_plan(plan: dict[str, Any]) -> str:
    header = ("# Imported from Prisma by 'migtui import-prisma'. Each step's SQL is its "
              "migration.sql\n# (as a literal block); the file's checksum is recorded in "
              "_prisma_migrations when applied.\n")
    return header + yaml.dump(plan, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              width=100)


# ---------------------------------------------------------------- what the database has


def split_applied(migrations: list[Migration], rows: dict[str, AppliedRow],
                  bodies: Mapping[str, AppliedBody] | None = None
                  ) -> tuple[list[Migration], list[Migration], list[str]]:
    """(to import, already applied, checksum conflicts) against ``_prisma_migrations`` rows;
    ``bodies``: what migtui's history says it applied, by migration name (for the diff)."""
    todo: list[Migration] = []
    done: list[Migration] = []
    conflicts: list[str] = []
    for m in migrations:
        row = rows.get(m.name)
        if row is None:
            todo.append(m)
        elif row.checksum == m.checksum:
            done.append(m)
        else:
            now = m.data.decode("utf-8", "replace").strip() + "\n"
            conflicts.append(checksum_conflict(m.name, row.checksum, m.checksum,
                                               (bodies or {}).get(m.name), now))
    return todo, done, conflicts

