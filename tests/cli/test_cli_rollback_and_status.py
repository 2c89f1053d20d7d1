"""migtui rollback / status / run --dry-run as the operator at 3 a.m. sees them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.control import RunControl
from migtui.dsn import parse_dsn
from migtui.events import StepProgress
from migtui.execution.confirm import database_mismatch
from migtui.runner import Runner
from tests.runner_helpers import make_plan, plan_text, q

FAILING = """
- id: a
  sql: CREATE TABLE t1 (id int);
  rollback: DROP TABLE no_such_table;
"""

OK = """
- id: a
  sql: CREATE TABLE t1 (id int);
  rollback: DROP TABLE t1;
"""

BACKFILL = """
- id: bump
  backfill: {table: items, key: id, set: "n = 1", where: "n = 0", batch_size: 100,
             min_batch: 100, max_batch: 100}
  rollback:
    backfill: {table: items, key: id, set: "n = 0", where: "n = 1", batch_size: 100,
               min_batch: 100, max_batch: 100}
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def write(tmp_path: Path, steps: str, **kw: str) -> Path:
    p = tmp_path / "plan.yaml"
    p.write_text(plan_text(steps, **kw))
    return p


def test_rollback_exits_0_and_its_header_says_rollback(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path, OK)
    assert cli(capsys, "run", str(plan), "--dsn", db_url)[0] == 0
    code, out, _ = cli(capsys, "rollback", str(plan), "--dsn", db_url)
    assert code == 0, out
    first = out.splitlines()[0]
    assert first.startswith("rollback t-plan on target main") and not first.startswith("run")


def test_a_failed_rollback_says_its_error_once_before_the_summary(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = write(tmp_path, FAILING)
    assert cli(capsys, "run", str(plan), "--dsn", db_url)[0] == 0
    code, out, _ = cli(capsys, "rollback", str(plan), "--dsn", db_url)
    assert code == 1
    lines = out.splitlines()
    stopped = [ln for ln in lines if ln.startswith("↺ rollback stopped")]
    assert stopped == ["↺ rollback stopped: step a failed. Nothing was rolled back."]
    # the error: once live (✗ ...) and once in the final line, no more
    err = 'table "no_such_table" does not exist'
    assert sum(err in ln for ln in lines) == 2
    assert lines[-2].startswith("failed: step a rollback failed")


def test_dry_run_needs_no_database_url(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MIGTUI_TEST_TARGET_URL", "PGHOST", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    plan = write(tmp_path, OK)
    code, out, err = cli(capsys, "run", str(plan), "--dry-run")
    assert code == 0, err
    assert "nothing is connected" in out and "CREATE TABLE t1" in out
    assert cli(capsys, "run", str(plan))[0] == 2  # a real run still needs one
    code, _, err = cli(capsys, "run", str(plan), "--dry-run", "--dsn", "host=x port=nope")
    assert code == 2 and "port" in err  # a malformed URL is still refused


PROD = """\
migtui: 1
id: p
title: t
type: schema_change
agent: me
targets:
  production: {{dsn_env: MIGTUI_TEST_TARGET_URL, environment: production, database: {db}}}
overview: []
documentation: []
steps:
  - id: a
    sql: CREATE TABLE t1 (id int);
    rollback: DROP TABLE t1;
"""


def test_a_database_mismatch_is_said_at_once(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "prod.yaml"
    plan.write_text(PROD.format(db="shop"))
    actual = parse_dsn(db_url).dbname  # an embedded server's URL carries ?host=
    code, out, _ = cli(capsys, "status", str(plan), "--dsn", db_url)
    assert code == 0
    assert (f"WARNING: target 'production' expects database 'shop', but the URL points at "
            f"{actual!r}: a production run on it is refused") in out
    code, out, _ = cli(capsys, "status", str(plan), "--dsn", db_url, "--json")
    assert "expects database 'shop'" in json.loads(out)["database_mismatch"]
    code, out, err = cli(capsys, "run", str(plan), "--dsn", db_url, "--dry-run")
    assert code == 0 and "warning: target 'production' expects database 'shop'" in err
    # the same plan naming the right database says nothing
    plan.write_text(PROD.format(db=actual))
    code, out, _ = cli(capsys, "status", str(plan), "--dsn", db_url)
    assert "WARNING" not in out


def test_database_mismatch_text() -> None:
    plan = make_plan(OK)
    assert database_mismatch(plan, "main", "x") is None  # the target names no database
    from migtui.plan import load_plan_text
    prod = load_plan_text(PROD.format(db="shop"))
    assert database_mismatch(prod, "production", "shop") is None
    assert database_mismatch(prod, "production", "") is None
    assert database_mismatch(prod, "production", "ux_shop") == (
        "target 'production' expects database 'shop', but the URL points at 'ux_shop': "
        "a production run on it is refused")


def test_status_shows_a_rollback_stopped_part_way(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    q(db_url, "CREATE TABLE items (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)")
    q(db_url, "INSERT INTO items (id) SELECT g FROM generate_series(1, 500) g")
    plan = write(tmp_path, BACKFILL)
    control = RunControl()

    def emit(e: object) -> None:
        if isinstance(e, StepProgress) and e.done == 200:
            control.cancel("stop")

    p = make_plan(BACKFILL)
    with Runner(p, db_url) as r:
        assert r.apply().status == "done"
    with Runner(p, db_url, emit=emit, control=control) as r:
        assert r.rollback().status == "cancelled"
    code, out, _ = cli(capsys, "status", str(plan), "--dsn", db_url)
    assert code == 0
    assert ("applied" in out and "ROLLBACK STOPPED PART-WAY (200 rows undone): migtui "
            "rollback resumes it after key 200") in out
    code, out, _ = cli(capsys, "status", str(plan), "--dsn", db_url, "--json")
    (row,) = json.loads(out)["steps"]
    assert row["state"] == "applied" and row["rollback_resumes_after_key"] == "200"
    code, out, _ = cli(capsys, "run", str(plan), "--dsn", db_url)
    assert code == 1 and "stopped part-way" in out
    code, out, _ = cli(capsys, "rollback", str(plan), "--dsn", db_url)
    assert code == 0
    assert q(db_url, "SELECT count(*) FROM items WHERE n <> 0") == [(0,)]


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--help"]) == 0
    out = capsys.readouterr().out
    assert "print events" not in out and "JSON document" in out
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Without --phase" in out and "every phase's checklist" in out


def test_export_and_check_with_a_server_that_is_not_there_say_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``export --dsn`` with a wrong port printed a SQLAlchemy traceback; ``check`` did not."""
    plan = write(tmp_path, OK)
    nowhere = "postgresql://postgres:sekret@127.0.0.1:1/shop"
    for args in (("export", str(plan), "--dsn", nowhere), ("check", str(plan), "--dsn", nowhere)):
        code, out, err = cli(capsys, *args)
        assert code == 2, (args, out, err)
        assert err.startswith("migtui: error: cannot read table sizes from "
                              "postgresql://postgres:***@127.0.0.1:1/shop: "), err
        assert "Traceback" not in err and "sekret" not in err + out
        assert len(err.strip().splitlines()) == 1


def test_a_headless_rollback_unticks_the_items_whose_steps_it_undid(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``run --phase`` ticked 'Execute' and ``migtui rollback`` left it ticked: the app's
    ``a`` then said the phase was done, with nothing applied."""
    from migtui.journal import journal_path, read_journal
    from migtui.state import RunState

    plan = write(tmp_path, OK + "- id: b\n  sql: CREATE TABLE t2 (id int);\n"
                               "  rollback: DROP TABLE t2;\n",
                 phases="""
                 - name: Execution
                   items:
                     - {text: Execute, run: {steps: [a]}}
                     - {text: Second, run: {steps: [b]}}
                 """)
    assert cli(capsys, "run", str(plan), "--dsn", db_url, "--phase", "Execution")[0] == 0

    def ticked() -> dict[str, bool]:
        state = RunState.from_records(read_journal(journal_path(plan, "t-plan")))
        return {k: t.done for k, t in state.ticks.items()}

    assert ticked() == {"phases.execution/execute": True, "phases.execution/second": True}
    assert cli(capsys, "rollback", str(plan), "--dsn", db_url, "--to", "b")[0] == 0
    assert ticked() == {"phases.execution/execute": True, "phases.execution/second": False}
    assert cli(capsys, "rollback", str(plan), "--dsn", db_url)[0] == 0
    assert ticked() == {"phases.execution/execute": False, "phases.execution/second": False}
