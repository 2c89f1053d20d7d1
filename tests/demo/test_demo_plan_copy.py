"""The demo's working copy of its plan: with --dsn, its target expects that database."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.cli.cmd_demo import demo_plan_path
from migtui.execution.confirm import database_mismatch
from migtui.plan import load_plan


@pytest.mark.parametrize("database", ["mt_drive", 'odd "name": with, {braces}'])
def test_a_given_database_is_the_copys_target(tmp_path: Path, database: str) -> None:
    plan = load_plan(demo_plan_path(tmp_path, database))
    assert plan.targets["demo"].database == database
    assert database_mismatch(plan, "demo", database) is None
    assert database_mismatch(plan, "demo", "shop") is not None  # the check still works


def test_without_a_database_the_copy_is_the_packaged_plan(tmp_path: Path) -> None:
    plan = load_plan(demo_plan_path(tmp_path))
    assert plan.targets["demo"].database == "shop"
    assert load_plan(demo_plan_path(tmp_path, "shop")).targets["demo"].database == "shop"
