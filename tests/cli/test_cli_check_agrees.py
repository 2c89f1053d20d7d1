"""``check`` refuses what ``run`` would refuse, located, from the same rules; what ``check``
passes, ``run`` runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.plan import load_plan
from migtui.runner import Runner
from tests.runner_helpers import column_exists, one, plan_text

NOWHERE = "postgresql://nobody@127.0.0.1:1/nowhere"  # the dry run must not need it

# (steps, the statement or key the error points at, the field)
REFUSED = [
    pytest.param("""
        - id: two_cic
          sql: |
            CREATE INDEX CONCURRENTLY orders_a_idx ON orders (status);
            CREATE INDEX CONCURRENTLY orders_b_idx ON orders (customer_id);
          rollback: DROP INDEX orders_a_idx, orders_b_idx;
    """, "CREATE INDEX CONCURRENTLY orders_a_idx", "steps[0].sql", id="two-cic"),
    pytest.param("""
        - id: alter_then_cic
          sql: |
            ALTER TABLE orders ADD COLUMN b int;
            CREATE INDEX CONCURRENTLY orders_b_idx ON orders (b);
          rollback: ALTER TABLE orders DROP COLUMN b;
    """, "CREATE INDEX CONCURRENTLY orders_b_idx", "steps[0].sql", id="alter-and-cic"),
    pytest.param("""
        - id: ok
          sql: ALTER TABLE orders ADD COLUMN a int;
          rollback: ALTER TABLE orders DROP COLUMN a;
        - id: cic_then_alter
          sql: |
            CREATE INDEX CONCURRENTLY orders_c_idx ON orders (status);
            ALTER TABLE orders ADD COLUMN c int;
          rollback: ALTER TABLE orders DROP COLUMN c;
    """, "CREATE INDEX CONCURRENTLY orders_c_idx", "steps[1].sql", id="cic-and-alter"),
    pytest.param("""
        - id: vacuum_in_tx
          sql: |
            BEGIN;
            VACUUM orders;
            COMMIT;
          irreversible: maintenance
    """, "VACUUM orders", "steps[0].sql", id="begin-vacuum-commit"),
    pytest.param("""
        - id: savepoint
          sql: |
            CREATE TABLE t (id int);
            SAVEPOINT a;
          rollback: DROP TABLE t;
    """, "SAVEPOINT a", "steps[0].sql", id="savepoint"),
    pytest.param("""
        - id: idx
          sql: CREATE INDEX CONCURRENTLY orders_d_idx ON orders (status);
          rollback: |
            DROP INDEX CONCURRENTLY orders_d_idx;
            DROP INDEX CONCURRENTLY IF EXISTS orders_e_idx;
    """, "DROP INDEX CONCURRENTLY orders_d_idx", "steps[0].rollback", id="rollback-two-drops"),
    pytest.param("""
        - id: imported
          sql: SELECT 1;
          rollback: SELECT 1;
          prisma:
            migration_name: 20240101_init
            checksum: "0000000000000000000000000000000000000000000000000000000000000000"
    """, "prisma:", "steps[0].prisma.checksum", id="prisma-checksum"),
]


def write(tmp_path: Path, steps: str) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(steps))
    return p


def line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


@pytest.mark.parametrize(("steps", "at", "field"), REFUSED)
def test_check_and_dry_run_refuse_what_run_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str, at: str,
        field: str) -> None:
    path = write(tmp_path, steps)
    plan = load_plan(path)
    assert Runner(plan, NOWHERE).problems(), "the runner accepts it: not a refused plan"
    code, out = cli(capsys, "check", "--fail-on", "never", str(path))
    assert code == 2, out
    assert f"plan.yaml:{line_of(path, at)}: {field}:" in out, out
    assert "expected" in out
    code, out = cli(capsys, "check", "--format", "json", str(path))
    assert code == 2 and '"valid": false' in out
    code, out = cli(capsys, "run", str(path), "--dry-run", "--dsn", NOWHERE)
    assert code == 2 and "cannot run as written" in out, out


ACCEPTED = """
- id: add_col
  sql: |
    ALTER TABLE orders ADD COLUMN note text;
    COMMENT ON COLUMN orders.note IS 'free text';
  rollback: ALTER TABLE orders DROP COLUMN note;
- id: idx
  sql: CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);
  rollback: DROP INDEX CONCURRENTLY orders_note_idx;
- id: fill
  backfill: {table: orders, set: "note = 'n' || id", where: "note IS NULL", batch_size: 500}
  rollback: UPDATE orders SET note = NULL
"""


def test_what_check_accepts_run_runs(shop_db: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, textwrap.dedent(ACCEPTED))
    code, out = cli(capsys, "check", "--fail-on", "never", str(path))
    assert code == 0, out
    code, out = cli(capsys, "run", str(path), "--dry-run", "--dsn", NOWHERE)
    assert code == 0, out
    code, out = cli(capsys, "run", str(path), "--dsn", shop_db)
    assert code == 0, out
    assert column_exists(shop_db, "orders", "note")
    assert one(shop_db, "SELECT count(*) FROM orders WHERE note IS NULL") == 0
    assert one(shop_db, "SELECT indisvalid FROM pg_index "
                        "WHERE indexrelid = 'orders_note_idx'::regclass") is True
