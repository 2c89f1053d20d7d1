"""migtui demo --reset: an earlier demo's leftovers are rolled back, the story starts over."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.journal import journal_path
from migtui.plan import load_plan
from migtui.runner import Runner
from tests.runner_helpers import one


def _keyword_form(url: str) -> str:
    from migtui.dsn import conninfo
    return conninfo(url)  # host=... dbname=...: the demo accepts every form


def test_reset_rolls_back_a_demo_left_halfway(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    dsn = _keyword_form(db_url)
    # the first start builds the shop; nothing to reset yet
    assert main(["demo", "--dsn", dsn, "--orders", "3000", "--home", str(home), "--reset"]) == 0
    assert "nothing was left applied" in capsys.readouterr().out
    plan_file = home / "demo-run" / "demo.yaml"
    plan = load_plan(plan_file)
    with Runner(plan, db_url) as r:  # a demo that crashed after its third step
        assert r.apply(["add_status", "index_created_at", "backfill_status"]).status == "done"
        assert [s.state for s in r.status()] == ["applied"] * 3 + ["pending"]
    journal_path(plan_file, "demo").parent.mkdir(parents=True, exist_ok=True)
    journal_path(plan_file, "demo").write_text('{"kind": "RunStarted"}\n')
    code = main(["demo", "--dsn", dsn, "--orders", "3000", "--home", str(home), "--reset"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "demo reset: rolled back backfill_status, index_created_at, add_status" in out
    with Runner(plan, db_url, exclusive=False) as r:
        assert {s.state for s in r.status()} <= {"rolled_back", "pending"}
    assert not journal_path(plan_file, "demo").exists()
    assert one(db_url, "SELECT count(*) FROM information_schema.columns WHERE "
                       "table_name = 'orders' AND column_name = 'status'") == 0


def test_demo_refuses_a_malformed_dsn(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dsn", "postgresql://u@h:notaport/x", "--reset"]) == 2
    err = capsys.readouterr().err
    assert "--dsn:" in err and "Traceback" not in err


def test_demo_help_says_url() -> None:
    src = resources.files("migtui.cli").joinpath("cmd_demo.py").read_text()
    assert 'metavar="URL"' in src
