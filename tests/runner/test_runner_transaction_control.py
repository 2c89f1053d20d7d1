"""ADD VALUE in the step's transaction, and a script's own BEGIN/COMMIT folded into it."""

from __future__ import annotations

import hashlib

from migtui.events import StepOutput
from migtui.runner import Runner
from tests.runner_helpers import history, make_plan, one, q

ENUM = "CREATE TYPE \"SigningStatus\" AS ENUM ('SIGNED'); " \
       "CREATE TABLE \"Recipient\" (id int, status \"SigningStatus\")"


def _labels(url: str) -> list[str]:
    return [r[0] for r in q(url, "SELECT enumlabel FROM pg_enum e JOIN pg_type t "
                                 "ON t.oid = e.enumtypid WHERE t.typname = 'SigningStatus' "
                                 "ORDER BY enumsortorder")]


def test_add_value_shares_the_transaction_with_other_statements(db_url: str) -> None:
    q(db_url, ENUM)
    plan = make_plan("""
        - id: signing
          sql: |
            ALTER TYPE "SigningStatus" ADD VALUE 'REJECTED';
            ALTER TYPE "SigningStatus" ADD VALUE 'EXPIRED';
            ALTER TABLE "Recipient" ADD COLUMN "rejectionReason" TEXT;
          irreversible: enum values cannot be dropped
        """)
    with Runner(plan, db_url) as r:
        assert r.problems() == []
        outcome = r.apply()
    assert outcome.status == "done", outcome.message
    assert _labels(db_url) == ["SIGNED", "REJECTED", "EXPIRED"]
    assert [(h[0], h[1], h[2]) for h in history(db_url)] == [("signing", "apply", "applied")]


def test_using_the_new_value_in_the_same_step_fails_whole_with_the_servers_reason(
        db_url: str) -> None:
    q(db_url, ENUM)
    plan = make_plan("""
        - id: signing
          sql: |
            ALTER TYPE "SigningStatus" ADD VALUE 'REJECTED';
            ALTER TABLE "Recipient" ALTER COLUMN status SET DEFAULT 'REJECTED';
          irreversible: enum values cannot be dropped
        """)
    with Runner(plan, db_url) as r:
        outcome = r.apply()
    assert outcome.status == "failed"
    assert "unsafe use of new value" in outcome.message
    assert _labels(db_url) == ["SIGNED"]  # nothing of the step stayed


def test_own_begin_commit_are_folded_so_a_failure_leaves_nothing(db_url: str) -> None:
    plan = make_plan("""
        - id: scripted
          sql: |
            BEGIN;
            CREATE TABLE t2 (id int);
            COMMIT;
            CREATE TABLE t3 (id int);
            SELECT 1/0;
          rollback: DROP TABLE t3; DROP TABLE t2;
          prisma: {migration_name: 20240101_scripted, checksum: "%s"}
        """ % ("0" * 64))
    plan.steps[0].prisma.checksum = hashlib.sha256(plan.steps[0].sql.encode()).hexdigest()
    with Runner(plan, db_url) as r:
        outcome = r.apply()
    assert outcome.status == "failed" and "division by zero" in outcome.message
    assert one(db_url, "SELECT to_regclass('t2') IS NULL AND to_regclass('t3') IS NULL")
    assert one(db_url, "SELECT to_regclass('\"_prisma_migrations\"') IS NULL")


def test_prismas_enum_rewrite_with_begin_commit_applies_under_the_timeouts(db_url: str) -> None:
    q(db_url, "CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN', 'GUEST'); "
              "CREATE TABLE \"User\" (id int, role \"Role\" NOT NULL DEFAULT 'USER')")
    plan = make_plan("""
        - id: drop_guest
          sql: |
            -- AlterEnum
            BEGIN;
            CREATE TYPE "Role_new" AS ENUM ('USER', 'ADMIN');
            ALTER TABLE "User" ALTER COLUMN "role" DROP DEFAULT;
            ALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");
            ALTER TYPE "Role" RENAME TO "Role_old";
            ALTER TYPE "Role_new" RENAME TO "Role";
            DROP TYPE "Role_old";
            ALTER TABLE "User" ALTER COLUMN "role" SET DEFAULT 'USER';
            COMMIT;
            DO $$ BEGIN
              IF current_setting('lock_timeout') <> '1500ms' THEN
                RAISE EXCEPTION 'lock_timeout lost: %', current_setting('lock_timeout');
              END IF;
            END $$;
          irreversible: enum values are dropped
        """, settings="lock_timeout: 1500ms")
    events: list[object] = []
    with Runner(plan, db_url, emit=events.append) as r:
        outcome = r.apply()
    assert outcome.status == "done", outcome.message
    said = [e.text for e in events if isinstance(e, StepOutput)]
    assert said == ["the script's own BEGIN/COMMIT (line 2, 10) are folded into this step's "
                    "one transaction: it commits once, with its history row, or not at all"]
    assert one(db_url, "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e "
                       "JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'Role'") \
        == "USER,ADMIN"


def test_rollback_or_savepoints_in_a_step_are_refused_before_anything_runs(db_url: str) -> None:
    plan = make_plan("""
        - id: partial
          sql: |
            CREATE TABLE t4 (id int);
            SAVEPOINT a;
            CREATE TABLE t5 (id int);
            ROLLBACK TO SAVEPOINT a;
          rollback: DROP TABLE t4;
        """)
    with Runner(plan, db_url) as r:
        problems = r.problems()
        assert len(problems) == 1 and "line 2: SAVEPOINT a" in problems[0]
        assert "controls the transaction itself" in problems[0]
        assert r.apply().status == "failed"
    assert one(db_url, "SELECT to_regclass('t4') IS NULL")
