"""Prisma: import-prisma builds a plan; applying writes _prisma_migrations as Prisma does."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from migtui.cli import main
from migtui.plan import load_plan
from migtui.runner import Runner
from migtui.runner.prisma import checksum_bytes
from tests.prisma_helpers import DOWN, MIGRATION, make_migration
from tests.runner_helpers import one, q


def test_checksum_is_prismas_algorithm() -> None:
    data = MIGRATION.encode()
    assert checksum_bytes(data) == hashlib.sha256(data).hexdigest()
    # zero padding: a digest with a byte < 0x10 still gives 64 lowercase hex digits
    sample = next(bytes([i]) for i in range(256) if hashlib.sha256(bytes([i])).digest()[0] < 16)
    assert checksum_bytes(sample) == hashlib.sha256(sample).hexdigest()
    assert len(checksum_bytes(sample)) == 64 and checksum_bytes(sample)[0] == "0"


def test_import_apply_rollback_writes_prisma_rows(db_url: str, tmp_path: Path) -> None:
    mig = make_migration(tmp_path)
    out = tmp_path / "plan.yaml"
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 0
    plan = load_plan(out)
    step = plan.steps[0]
    file_sum = hashlib.sha256((mig / "migration.sql").read_bytes()).hexdigest()
    assert step.sql == MIGRATION  # verbatim, through YAML
    assert step.prisma is not None and step.prisma.checksum == file_sum
    assert step.rollback == DOWN
    with Runner(plan, db_url, operator="alice") as r:
        outcome = r.apply()
        assert outcome.status == "done", outcome.message
        rows = q(db_url, 'SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at,'
                         ' started_at, applied_steps_count FROM "_prisma_migrations"')
        assert len(rows) == 1
        rid, checksum, finished, name, logs, rolled, started, count = rows[0]
        assert str(uuid.UUID(rid)) == rid and len(rid) == 36
        assert checksum == file_sum and name == "20240101120000_add_widget"
        assert logs is None and rolled is None and count == 1
        assert finished is not None and started <= finished
        cols = q(db_url, "SELECT column_name, data_type, is_nullable, character_maximum_length "
                         "FROM information_schema.columns WHERE table_name = '_prisma_migrations'"
                         " ORDER BY ordinal_position")
        assert cols == [
            ("id", "character varying", "NO", 36),
            ("checksum", "character varying", "NO", 64),
            ("finished_at", "timestamp with time zone", "YES", None),
            ("migration_name", "character varying", "NO", 255),
            ("logs", "text", "YES", None),
            ("rolled_back_at", "timestamp with time zone", "YES", None),
            ("started_at", "timestamp with time zone", "NO", None),
            ("applied_steps_count", "integer", "NO", None),
        ]
        assert one(db_url, "SELECT to_regclass('\"Widget\"') IS NOT NULL")
        back = r.rollback()
        assert back.status == "rolled_back", back.message
        assert one(db_url, 'SELECT count(*) FROM "_prisma_migrations"') == 0
        assert not one(db_url, "SELECT to_regclass('\"Widget\"') IS NOT NULL")
        assert r.apply().status == "done"
        assert one(db_url, 'SELECT count(*) FROM "_prisma_migrations" '
                           "WHERE rolled_back_at IS NULL") == 1


def test_failed_migration_writes_no_prisma_row(db_url: str, tmp_path: Path) -> None:
    mig = make_migration(tmp_path)
    q(db_url, 'CREATE TABLE "Widget" (id int)')  # the migration will fail on it
    out = tmp_path / "plan.yaml"
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 0
    with Runner(load_plan(out), db_url) as r:
        outcome = r.apply()
    assert outcome.status == "failed" and "already exists" in outcome.message
    # the table creation and the row were in the failed transaction: neither exists
    assert one(db_url, "SELECT to_regclass('_prisma_migrations') IS NULL")


def test_without_down_sql_the_step_is_irreversible(db_url: str, tmp_path: Path) -> None:
    mig = make_migration(tmp_path, down=False)
    out = tmp_path / "plan.yaml"
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 0
    plan = load_plan(out)
    assert plan.steps[0].irreversible and plan.steps[0].id.startswith("m2024")
    with Runner(plan, db_url) as r:
        assert r.apply().status == "done"
        back = r.rollback()
    assert back.status == "failed" and "irreversible" in back.message
    assert one(db_url, 'SELECT count(*) FROM "_prisma_migrations"') == 1


def test_edited_sql_no_longer_matches_the_checksum(tmp_path: Path, db_url: str) -> None:
    mig = make_migration(tmp_path)
    out = tmp_path / "plan.yaml"
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 0
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 2  # no silent overwrite
    text = out.read_text()
    assert "-- CreateIndex" in text
    out.write_text(text.replace("-- CreateIndex", "-- Create the index"))
    with Runner(load_plan(out), db_url) as r:
        assert any("differs from the migration.sql" in p for p in r.problems())
        assert r.apply().status == "failed"
    assert one(db_url, "SELECT to_regclass('_prisma_migrations') IS NULL")
