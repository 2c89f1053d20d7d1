"""The foundation commands: check, schema, new, help, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.plan import load_plan
from tests.conftest import PLANS


def test_check_example_plans_exit_0(capsys):
    plans = sorted(PLANS.glob("*.yaml"))
    assert len(plans) >= 3
    assert main(["check", *map(str, plans)]) == 0
    assert capsys.readouterr().out.count(": ok") == len(plans)


def test_check_broken_plan_exit_2_with_location(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("migtui: 1\ntitle: x\ntype: schema_change\nagent: a\nsteps: [{id: s}]\n")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5:" in err and "exactly one of sql" in err
    assert "Traceback" not in err


def test_schema_is_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "migtui plan"
    assert "steps" in schema["properties"] and schema["additionalProperties"] is False


@pytest.mark.parametrize("mtype", ["schema_change", "data_migration", "index_addition"])
def test_new_scaffolds_a_valid_plan_with_every_section(tmp_path, mtype):
    path = tmp_path / f"new-{mtype}.yaml"
    assert main(["new", str(path), "--type", mtype, "--table", "orders"]) == 0
    plan = load_plan(path)
    assert plan.type.value == mtype
    assert len(plan.phases) == 3 and plan.documentation and plan.timeline
    assert main(["new", str(path)]) == 2  # refuses to overwrite


def test_every_command_has_help():
    from migtui.cli import build_parser

    parser = build_parser()
    for name in parser._subparsers._group_actions[0].choices:  # type: ignore[union-attr]
        out = subprocess.run([sys.executable, "-m", "migtui", name, "--help"],
                             capture_output=True, text=True)
        assert out.returncode == 0, name
        assert "usage: migtui" in out.stdout


def test_missing_plan_file_is_a_usage_error(capsys):
    assert main(["check", "/nonexistent.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["export", str(PLANS / "add-order-status.yaml")],
    ["rehearse", str(PLANS / "add-order-status.yaml"), "--dsn", "postgresql://u@127.0.0.1:1/x"],
    ["import-markdown", str(PLANS.parent / "docs" / "migration-plan-template.md")],
    ["import-prisma", str(PLANS)],
    ["fleet", "export", str(PLANS / "fleet.yaml"), str(PLANS / "add-order-status.yaml")],
])
def test_an_output_file_that_cannot_be_written_is_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    missing = tmp_path / "no-such-folder" / "out.md"
    assert main([*command, "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"migtui: error: {missing}: the folder {missing.parent} does not exist"]
    assert main([*command, "-o", str(tmp_path)]) == 2  # a folder, not a file
    assert "is a directory" in capsys.readouterr().err
    assert not missing.parent.exists()

