"""Tenant schemas of one database (Prisma's ``?schema=``): each keeps its own history
(``PLAN-ID@SCHEMA`` in ``migtui.history``) and takes its own run lock, so a run on one
schema neither skips the steps of another nor waits for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.runner import Runner
from migtui.runner.errors import RunLocked
from migtui.runner.history import history_plan_id
from tests.runner_helpers import make_plan, plan_text, q

STEPS = """
- id: add_table
  sql: CREATE TABLE items (id int PRIMARY KEY);
  rollback: DROP TABLE items;
- id: seed
  sql: INSERT INTO items SELECT generate_series(1, 5);
  rollback: DELETE FROM items;
"""


def schema_url(db_url: str, schema: str) -> str:
    return f"{db_url}{'&' if '?' in db_url else '?'}schema={schema}"


def tables_in(db_url: str, schema: str) -> list[str]:
    return [r[0] for r in q(db_url, "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                                    "ORDER BY 1", (schema,))]


@pytest.fixture
def tenants(db_url: str) -> str:
    q(db_url, "CREATE SCHEMA t1; CREATE SCHEMA t2")
    return db_url


def test_history_key() -> None:
    assert history_plan_id("p", None) == "p"
    assert history_plan_id("p", "tenant_3") == "p@tenant_3"


def test_cli_run_on_two_schemas_applies_both(tenants: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text(STEPS))
    t1, t2 = schema_url(tenants, "t1"), schema_url(tenants, "t2")
    assert main(["run", str(plan), "--dsn", t1, "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    # t2's status: nothing applied yet, though t1 has it all
    assert main(["status", str(plan), "--dsn", t2, "--json"]) == 0
    steps = {s["step"]: s["state"] for s in json.loads(capsys.readouterr().out)["steps"]}
    assert steps == {"add_table": "pending", "seed": "pending"}
    assert main(["run", str(plan), "--dsn", t2, "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert tables_in(tenants, "t1") == ["items"] and tables_in(tenants, "t2") == ["items"]
    assert q(tenants, "SELECT count(*) FROM t2.items") == [(5,)]
    keys = q(tenants, "SELECT DISTINCT plan_id FROM migtui.history ORDER BY 1")
    assert keys == [("t-plan@t1",), ("t-plan@t2",)]
    # rolling t1 back leaves t2 applied; each status says its own state
    assert main(["rollback", str(plan), "--dsn", t1, "--yes"]) == 0, capsys.readouterr()
    capsys.readouterr()
    for url, want in ((t1, "rolled_back"), (t2, "applied")):
        assert main(["status", str(plan), "--dsn", url, "--json"]) == 0
        states = {s["state"] for s in json.loads(capsys.readouterr().out)["steps"]}
        assert states == {want}, (url, states)
    assert tables_in(tenants, "t1") == [] and tables_in(tenants, "t2") == ["items"]


def test_a_plain_run_keeps_the_plain_key(tenants: str) -> None:
    plan = make_plan(STEPS)
    with Runner(plan, tenants) as r:
        assert r.apply().status == "done"
    with Runner(plan, schema_url(tenants, "t1")) as r:
        assert [s.state for s in r.status()] == ["pending", "pending"]
        assert r.apply().status == "done"
    assert tables_in(tenants, "public") == ["items"] and tables_in(tenants, "t1") == ["items"]
    assert q(tenants, "SELECT DISTINCT plan_id FROM migtui.history ORDER BY 1") == [
        ("t-plan",), ("t-plan@t1",)]


def test_two_schemas_of_one_database_run_at_once(tenants: str) -> None:
    plan = make_plan(STEPS)
    t1, t2 = schema_url(tenants, "t1"), schema_url(tenants, "t2")
    with Runner(plan, t1, operator="one") as r1, Runner(plan, t2, operator="two") as r2:
        # both hold their schema's lock at once, and a plain run still takes its own
        with Runner(plan, tenants) as plain:
            assert plain.exclusive
        assert r1.apply().status == "done" and r2.apply().status == "done"
    assert tables_in(tenants, "t1") == ["items"] and tables_in(tenants, "t2") == ["items"]


def test_two_runs_on_one_schema_conflict_and_name_the_holder(tenants: str) -> None:
    plan = make_plan(STEPS)
    t1 = schema_url(tenants, "t1")
    # other holders of migtui locks in this database: the holder named must be t1's
    with Runner(plan, tenants), Runner(plan, schema_url(tenants, "t2")), \
            Runner(plan, t1) as first:
        pid = first._ctx.work.pid
        with pytest.raises(RunLocked) as e:
            Runner(plan, t1).open()
        msg = str(e.value)
        assert "schema 't1' of database" in msg and f"pid {pid}," in msg, msg
    with Runner(plan, t1) as again:  # released with the first run
        assert again.apply().status == "done"


def test_a_plain_run_conflicts_with_a_plain_run_only(tenants: str) -> None:
    plan = make_plan(STEPS)
    with Runner(plan, tenants) as first:
        pid = first._ctx.work.pid
        with pytest.raises(RunLocked) as e:
            Runner(plan, tenants).open()
        assert f"pid {pid}," in str(e.value) and "schema" not in str(e.value).split(":")[0]
        with Runner(plan, schema_url(tenants, "t1")):
            pass
