"""migtui run / status / rollback as a user runs them: exit codes, lines, journal, secrets."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from migtui.cli import main
from migtui.cli.cmd_run import Setup, confirm_production
from migtui.cli.common import CliError
from migtui.journal import journal_path, read_journal
from migtui.plan import load_plan
from migtui.runner import Runner
from tests.runner_helpers import column_exists, one, plan_text

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Sup3rSecretPw"

STEPS = """
- id: add_col
  sql: ALTER TABLE orders ADD COLUMN note text;
  rollback: ALTER TABLE orders DROP COLUMN note;
- id: add_idx
  sql: CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);
  rollback: DROP INDEX CONCURRENTLY IF EXISTS orders_note_idx;
- id: count
  check: {sql: "SELECT count(*) FROM orders", expect: "> 0"}
- id: show_url
  command: {run: 'echo "url=$DATABASE_URL"'}
"""


def with_password(url: str) -> str:
    # the test servers trust local connections, so any password is accepted (and must hide)
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def write_plan(tmp_path: Path, steps: str = STEPS, **kw: object) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(steps, **kw))  # type: ignore[arg-type]
    return p


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


def test_run_status_rollback_with_journal_and_no_password(
        shop_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path)
    url = with_password(shop_db)
    code, out = cli(capsys, "run", str(plan), "--dsn", url)
    assert code == 0, out
    assert "✓ add_col applied" in out and "[autocommit; lock SHARE UPDATE EXCLUSIVE]" in out
    # a command step's URL holds no password (it is in a PGPASSFILE, see test_secrets)
    assert "url=postgresql://postgres@" in out
    assert out.strip().splitlines()[-1].startswith("done: 4 step(s) applied")
    code, out2 = cli(capsys, "status", str(plan), "--dsn", url)
    assert code == 0 and "4 applied" in out2
    code, out3 = cli(capsys, "status", str(plan), "--dsn", url, "--json")
    states = {s["step"]: s["state"] for s in json.loads(out3)["steps"]}
    assert states == dict.fromkeys(["add_col", "add_idx", "count", "show_url"], "applied")
    code, out4 = cli(capsys, "rollback", str(plan), "--dsn", url, "--to", "add_idx")
    assert code == 0 and "rolled_back: 3 step(s) rolled back" in out4
    assert column_exists(shop_db, "orders", "note")
    assert one(shop_db, "SELECT count(*) FROM pg_class WHERE relname = 'orders_note_idx'") == 0
    jpath = journal_path(plan, "t-plan")
    records = list(read_journal(jpath))
    kinds = [r["kind"] for r in records]
    assert kinds.count("RunStarted") == 2 and "StepFinished" in kinds
    assert "RollbackFinished" in kinds and "StepOutput" in kinds
    assert oct(jpath.stat().st_mode & 0o777) == "0o600"
    for text in (out, out2, out3, out4, jpath.read_text()):
        assert PASSWORD not in text


def test_clear_errors_and_exit_codes(shop_db: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_plan(tmp_path, """
        - id: good
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        - id: broken
          sql: UPDATE no_such_table SET x = 1;
          rollback: SELECT 1;
    """)
    url = with_password(shop_db)
    code, out = cli(capsys, "run", str(bad), "--dsn", url)
    assert code == 1
    assert "✗ broken apply failed: relation \"no_such_table\" does not exist" in out
    assert "statement: UPDATE no_such_table SET x = 1" in out
    unreachable = make_url(url).set(host="127.0.0.1", port=1, query={}).render_as_string(
        hide_password=False)
    code, out = cli(capsys, "run", str(bad), "--dsn", unreachable)
    assert code == 1 and "cannot connect to postgresql://postgres:***@127.0.0.1:1/" in out
    missing_db = make_url(url).set(database="no_such_database_here").render_as_string(
        hide_password=False)
    code, out = cli(capsys, "status", str(bad), "--dsn", missing_db)
    assert code == 1 and 'database "no_such_database_here" does not exist' in out
    code, out = cli(capsys, "run", str(bad), "--target", "main")  # no URL anywhere
    assert code == 2 and "MIGTUI_TEST_TARGET_URL" in out
    code, out = cli(capsys, "run", str(tmp_path / "nope.yaml"))
    assert code == 2
    mixed = write_plan(tmp_path, """
        - id: mixed
          sql: |
            ALTER TABLE orders ADD COLUMN b int;
            CREATE INDEX CONCURRENTLY orders_b_idx ON orders (b);
          rollback: ALTER TABLE orders DROP COLUMN b;
    """)
    code, out = cli(capsys, "run", str(mixed), "--dsn", url)
    assert code == 2 and "cannot run in a transaction" in out
    for text in (out,):
        assert PASSWORD not in text


def test_run_refused_while_another_run_holds_the_lock(
        shop_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path)
    with Runner(load_plan(plan), shop_db):
        code, out = cli(capsys, "run", str(plan), "--dsn", shop_db)
    assert code == 1 and "another migtui run holds the lock" in out and "pid " in out
    assert not column_exists(shop_db, "orders", "note")


def test_dry_run_prints_modes_and_locks_and_changes_nothing(
        shop_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path)
    code, out = cli(capsys, "run", str(plan), "--dsn", shop_db, "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert any("add_col" in ln and "transaction" in ln and "ACCESS EXCLUSIVE" in ln
               for ln in lines)
    assert any("add_idx" in ln and "autocommit" in ln and "SHARE UPDATE EXCLUSIVE" in ln
               for ln in lines)
    assert one(shop_db, "SELECT to_regnamespace('migtui') IS NULL")
    assert not column_exists(shop_db, "orders", "note")


def test_production_needs_yes_or_the_typed_database_name(shop_db: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, env="production")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "migtui", "run", str(plan), "--dsn", shop_db],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert proc.returncode == 2 and "is production: pass --yes" in proc.stderr
    assert not column_exists(shop_db, "orders", "note")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    import argparse
    setup = Setup(argparse.Namespace(plan=str(plan), dsn=shop_db, target=None))
    name = make_url(shop_db).database
    confirm_production(setup, False, stdin=Tty(f"{name}\n"), out=io.StringIO())
    with pytest.raises(CliError) as exc:
        confirm_production(setup, False, stdin=Tty("shop\n"), out=io.StringIO())
    assert exc.value.code == 2
    confirm_production(setup, True)  # --yes
    proc = subprocess.run([sys.executable, "-m", "migtui", "run", str(plan), "--dsn", shop_db,
                           "--yes"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert column_exists(shop_db, "orders", "note")


def test_run_one_phase_ticks_automated_items_and_skips_the_rest(
        shop_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write_plan(tmp_path, STEPS, phases="""
        - name: Execution
          items:
            - {text: Monitor performance baseline, run: {baseline: 5s}}
            - {text: Execute migration scripts, run: {steps: [add_col, count]}}
            - {text: Check no nulls, run: {check: "SELECT count(*) FROM orders WHERE note IS NOT NULL", expect: "= 0"}}
            - {text: Say hello, run: {command: "echo hello"}}
            - Test all functionality
    """)
    code, out = cli(capsys, "run", str(plan), "--dsn", shop_db, "--phase", "execution")
    assert code == 0, out
    assert "☐ phases.execution/monitor-performance-baseline skipped: baseline needs" in out
    assert "☑ phases.execution/execute-migration-scripts: steps add_col, count" in out
    assert "☑ phases.execution/check-no-nulls: check 0 = 0" in out
    assert "☑ phases.execution/say-hello: command exit 0" in out
    assert "☐ phases.execution/test-all-functionality skipped" in out
    ticks = [r for r in read_journal(journal_path(plan, "t-plan")) if r["kind"] == "ItemTicked"]
    assert len(ticks) == 3 and all(t["evidence"] for t in ticks)
    code, out = cli(capsys, "run", str(plan), "--dsn", shop_db, "--phase", "nope")
    assert code == 2 and "no phase 'nope'" in out


def test_wrong_credentials_get_one_clear_line(shop_db: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The test servers trust every password, so refuse the role instead: the message is
    the server's own, on one line, with the password masked."""
    import psycopg

    plan = write_plan(tmp_path, """
        - id: good
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """)
    with psycopg.connect(shop_db, autocommit=True) as c:
        c.execute("DROP ROLE IF EXISTS migtui_nologin")
        c.execute("CREATE ROLE migtui_nologin NOLOGIN PASSWORD 'x'")
    try:
        for user, says in (("migtui_nologin", 'role "migtui_nologin" is not permitted to log in'),
                           ("migtui_no_such_role", 'role "migtui_no_such_role" does not exist')):
            url = make_url(with_password(shop_db)).set(username=user).render_as_string(
                hide_password=False)
            code, out = cli(capsys, "run", str(plan), "--dsn", url)
            assert code == 1
            assert says in out and "cannot connect to postgresql://" in out
            assert PASSWORD not in out and "Traceback" not in out
    finally:
        with psycopg.connect(shop_db, autocommit=True) as c:
            c.execute("DROP ROLE IF EXISTS migtui_nologin")
