"""A whole Prisma history, written the way ``prisma migrate dev`` writes PostgreSQL migrations.

The corpus (``prisma_history/``) has enums, ``ADD VALUE`` (alone, and two beside an ``ALTER
TABLE``), an enum rewrite in the script's own ``BEGIN``/``COMMIT``, quoted identifiers, a ``DO $$``
block, ``CREATE EXTENSION``, CRLF line endings, trailing spaces, an empty migration, foreign
keys, an implicit many-to-many table and renames. Imported as one plan and applied on a fresh
database, it must leave the schema plain psql leaves, one ``_prisma_migrations`` row per
migration with the file's checksum, and migtui's history in agreement.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import psycopg
import pytest
import yaml

from migtui.cli import main
from migtui.plan import load_plan
from migtui.rehearsal import fingerprint
from migtui.runner import Runner
from tests.runner_helpers import one, q

CORPUS = Path(__file__).parent / "prisma_history"
NAMES = sorted(d.name for d in CORPUS.iterdir() if d.is_dir())


def _import(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "history.yaml"
    assert main(["import-prisma", str(CORPUS), "-o", str(out), *args]) == 0
    return out


def _plain_apply(url: str) -> None:
    """What psql -f does with each migration.sql, in Prisma's order (autocommit scripts)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in NAMES:
            conn.execute((CORPUS / name / "migration.sql").read_bytes().decode())


def test_folder_imports_every_migration_in_order_verbatim(tmp_path: Path) -> None:
    plan = load_plan(_import(tmp_path))
    assert [s.prisma.migration_name for s in plan.steps if s.prisma] == NAMES
    for step in plan.steps:
        assert step.prisma is not None and step.sql is not None
        data = (CORPUS / step.prisma.migration_name / "migration.sql").read_bytes()
        assert step.sql.encode() == data  # CRLF and trailing spaces included
        assert step.prisma.checksum == hashlib.sha256(data).hexdigest()
    assert plan.phases[0].items[0].run.steps == [s.id for s in plan.steps]


def test_sql_stays_a_readable_literal_block(tmp_path: Path) -> None:
    text = _import(tmp_path).read_text()
    raw = yaml.compose(text)
    steps = next(v for k, v in raw.value if k.value == "steps")
    styles = {}
    for node in steps.value:
        fields = {k.value: v for k, v in node.value}
        styles[fields["id"].value] = fields["sql"].style
    assert set(styles.values()) == {"|"}, styles  # none fell back to an escaped string
    assert "line_endings: crlf" in text  # the CRLF migration, restored on load


def test_applied_history_matches_plain_psql(tmp_path: Path, db_url: str,
                                            pg_admin_url: str) -> None:
    plan = load_plan(_import(tmp_path))
    with Runner(plan, db_url, operator="alice") as r:
        outcome = r.apply()
        assert outcome.status == "done", outcome.message
        assert {s.step_id: s.state for s in r.status()} == {s.id: "applied" for s in plan.steps}
    rows = q(db_url, 'SELECT migration_name, checksum, applied_steps_count, finished_at '
                     'FROM "_prisma_migrations" ORDER BY migration_name')
    assert [r[0] for r in rows] == NAMES
    for name, checksum, count, finished in rows:
        data = (CORPUS / name / "migration.sql").read_bytes()
        assert checksum == hashlib.sha256(data).hexdigest() and count == 1 and finished
    # the empty migration recorded its row, and nothing else
    assert one(db_url, "SELECT count(*) FROM \"_prisma_migrations\" "
                       "WHERE migration_name = '20240103120000_empty'") == 1
    with psycopg.connect(db_url) as a:
        migtui_fp = fingerprint.take(a)
    # the same files through plain autocommit scripts, on a second fresh database
    from sqlalchemy.engine import make_url

    name = f"{make_url(db_url).database}_plain"
    plain = make_url(db_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        _plain_apply(plain)
        with psycopg.connect(plain) as b:
            plain_fp = fingerprint.take(b)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert migtui_fp.objects == plain_fp.objects
    assert "public.Label" in migtui_fp.objects["table"]
    assert migtui_fp.objects["type"]["public.Role"]["labels"] == "USER, ADMIN"
    assert migtui_fp.objects["type"]["public.PostStatus"]["labels"] == \
        "DRAFT, REVIEW, LIVE, ARCHIVED, DELETED"


def test_rollback_empties_prisma_rows_and_keeps_bookkeeping_out_of_the_schema(
        tmp_path: Path, db_url: str) -> None:
    # the history up to the renames, whose tail (tags, rename_index) has down.sql files
    head = tmp_path / "migrations"
    for name in NAMES[:8]:
        shutil.copytree(CORPUS / name, head / name)
    out = tmp_path / "head.yaml"
    assert main(["import-prisma", str(head), "-o", str(out)]) == 0
    plan = load_plan(out)
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"
        with psycopg.connect(db_url) as c:
            before = fingerprint.take(c)
        back = r.rollback(to="m20240107170000_tags")
        assert back.status == "rolled_back", back.message
        assert back.steps == ("m20240108090000_rename_index", "m20240107170000_tags")
        assert r.apply().status == "done"
    names = [r[0] for r in q(db_url, 'SELECT migration_name FROM "_prisma_migrations" '
                                     "ORDER BY 1")]
    assert names == NAMES[:8]
    with psycopg.connect(db_url) as c:
        after = fingerprint.take(c)
    assert after.objects == before.objects  # rolled back and applied again: the same schema
    assert "public._prisma_migrations" not in after.objects["table"]
    assert "public.Label" in after.objects["table"]


def test_empty_migration_rolls_back_to_no_row(tmp_path: Path, db_url: str) -> None:
    src = tmp_path / "migrations"
    shutil.copytree(CORPUS / "20240103120000_empty", src / "20240103120000_empty")
    out = tmp_path / "empty.yaml"
    assert main(["import-prisma", str(src), "-o", str(out)]) == 0
    plan = load_plan(out)
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"
        assert one(db_url, 'SELECT count(*) FROM "_prisma_migrations"') == 1
        assert r.rollback().status == "rolled_back"
    assert one(db_url, 'SELECT count(*) FROM "_prisma_migrations"') == 0


def test_migrations_prisma_applied_are_skipped_and_changed_ones_refused(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Prisma applied the first two itself (as 'prisma migrate deploy' would)
    first = tmp_path / "first"
    for name in NAMES[:2]:
        shutil.copytree(CORPUS / name, first / name)
    out = tmp_path / "first.yaml"
    assert main(["import-prisma", str(first), "-o", str(out)]) == 0
    with Runner(load_plan(out), db_url) as r:
        assert r.apply().status == "done"
    with psycopg.connect(db_url, autocommit=True) as c:  # forget migtui's side of it
        c.execute("DROP SCHEMA migtui CASCADE")

    # at run time: the whole history skips them, with the reason, and applies the rest
    plan = load_plan(_import(tmp_path))
    events: list[object] = []
    with Runner(plan, db_url, emit=events.append) as r:
        outcome = r.apply()
    assert outcome.status == "done", outcome.message
    assert len(outcome.steps) == len(NAMES) - 2
    skipped = [e for e in events if type(e).__name__ == "StepSkipped"]
    assert [e.step_id for e in skipped] == [s.id for s in plan.steps[:2]]
    assert all("already applied by Prisma" in e.reason for e in skipped)

    # at import time with --dsn: left out
    capsys.readouterr()
    out2 = tmp_path / "rest.yaml"
    assert main(["import-prisma", str(CORPUS), "-o", str(out2), "--dsn", db_url]) == 0
    assert "nothing to import" in capsys.readouterr().out

    # a migration edited after it was applied is refused, at import and at run time
    q(db_url, "UPDATE \"_prisma_migrations\" SET checksum = repeat('0', 64) "
              f"WHERE migration_name = '{NAMES[0]}'")
    assert main(["import-prisma", str(CORPUS), "-o", str(tmp_path / "x.yaml"),
                 "--dsn", db_url]) == 2
    err = capsys.readouterr().err
    assert f"migration {NAMES[0]} was modified after it was applied" in err
    q(db_url, "DELETE FROM migtui.history")
    with Runner(plan, db_url) as r:
        outcome = r.apply()
    assert outcome.status == "failed" and "modified after it was applied" in outcome.message
    assert "Prisma keeps only the checksum" in outcome.message  # nothing to diff against


def test_a_migration_edited_after_migtui_applied_it_is_refused_with_the_diff(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """migtui applied the first migration (its history keeps the SQL), then someone edited
    migration.sql: the import with --dsn refuses it with the diff, as does a run of a plan
    imported again under another name."""
    folder = tmp_path / "migrations"
    shutil.copytree(CORPUS / NAMES[0], folder / NAMES[0])
    first = tmp_path / "first.yaml"
    assert main(["import-prisma", str(folder), "-o", str(first)]) == 0
    with Runner(load_plan(first), db_url) as r:
        assert r.apply().status == "done"
    sql = folder / NAMES[0] / "migration.sql"
    sql.write_bytes(sql.read_bytes() + b"-- edited after it was applied\nSELECT 1;\n")
    capsys.readouterr()
    assert main(["import-prisma", str(folder), "-o", str(tmp_path / "x.yaml"),
                 "--dsn", db_url]) == 2
    err = capsys.readouterr().err
    assert f"migration {NAMES[0]} was modified after it was applied" in err
    assert "What changed since migtui applied it" in err
    assert "+-- edited after it was applied" in err and "+SELECT 1;" in err
    again = tmp_path / "again.yaml"  # a new plan (another id) over the edited folder
    assert main(["import-prisma", str(folder), "-o", str(again)]) == 0
    text = again.read_text().replace(f"id: {load_plan(again).id}", "id: edited-again", 1)
    again.write_text(text)
    with Runner(load_plan(again), db_url) as r:
        outcome = r.apply()
    assert outcome.status == "failed" and "+SELECT 1;" in outcome.message, outcome.message


def test_not_a_prisma_folder_is_a_clear_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nothing").mkdir()
    assert main(["import-prisma", str(tmp_path / "nothing")]) == 2
    assert "no migration.sql, and no migration directories in it" in capsys.readouterr().err


def test_a_prisma_plan_rehearses_clean_on_a_fresh_database(tmp_path: Path, db_url: str) -> None:
    from migtui.rehearsal import rehearse

    src = tmp_path / "migrations"
    for name in ("20240101093000_init",):
        shutil.copytree(CORPUS / name, src / name)
    out = tmp_path / "init.yaml"
    assert main(["import-prisma", str(src), "-o", str(out)]) == 0
    report = rehearse(load_plan(out), out, db_url, gauges=False, operator="tester")
    # the run creates _prisma_migrations and the rollback leaves it (empty): bookkeeping,
    # not part of the user's schema, so the fingerprints before and after still match
    assert report.ok, report.summary
    assert one(db_url, "SELECT to_regclass('\"_prisma_migrations\"') IS NOT NULL")
