"""Start-up stays cheap: a command imports only what it needs, and never Textual headless.

The CLI lists every command by name from ``migtui.cli.COMMANDS`` and imports a command's
module only when that command runs (see ``migtui/cli/__init__.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migtui.cli import COMMANDS, build_parser
from tests.runner_helpers import plan_text

REPO = Path(__file__).resolve().parents[2]
UI = {"textual", "rich"}
HEAVY = {"sqlalchemy", "psycopg", "pydantic", "pglast", "yaml", "psutil"}

# Runs migtui.cli.main in a fresh interpreter, then prints its exit code and the top-level
# packages it loaded (on stderr's last line, as JSON, after anything the command printed).
WRAPPER = (
    "import json, sys\n"
    "from migtui.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "sys.stdout.flush()\n"
    "print(json.dumps({'code': code, 'modules': sorted({m.split('.')[0] for m in sys.modules})}),"
    " file=sys.stderr)\n"
)


def loaded(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    out = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True,
                         text=True, cwd=REPO, env=env, timeout=120)
    report = json.loads(out.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), out.stdout + out.stderr


def test_every_listed_help_line_is_the_commands_own() -> None:
    for c in COMMANDS:
        parser = build_parser(c.name)  # imports the command's module: its own sub-parser
        sub = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
        own = next(a.help for a in sub._choices_actions if a.dest == c.name)
        assert " ".join(own.split()) == c.help, c.name
        assert sub.choices[c.name]._actions, c.name  # the full parser, not the placeholder


def test_the_listing_imports_no_command_module() -> None:
    code = ("import sys\nfrom migtui.cli import build_parser\nbuild_parser()\n"
            "print(sorted(m for m in sys.modules if m.startswith('migtui.cli.cmd_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_version_loads_no_library() -> None:
    code, modules, text = loaded("--version")
    assert code == 0 and "migtui 0.1.0" in text
    assert not modules & (UI | HEAVY), sorted(modules & (UI | HEAVY))


def test_help_loads_no_library_and_lists_every_command() -> None:
    code, modules, text = loaded("--help")
    assert code == 0
    assert all(c.name in text for c in COMMANDS)
    assert not modules & (UI | HEAVY)


def test_check_loads_neither_textual_nor_the_database_stack() -> None:
    code, modules, text = loaded("check", "plans/add-order-status.yaml")
    assert code in (0, 1), text  # lint findings may fail it; the plan is valid
    assert {"pydantic", "pglast"} <= modules  # what check needs
    assert not modules & (UI | {"sqlalchemy", "psycopg"}), sorted(modules & UI)


def test_a_command_module_is_imported_only_for_its_command() -> None:
    code, modules, text = loaded("schema")
    assert code == 0 and '"properties"' in text, text
    assert not modules & (UI | {"sqlalchemy", "psycopg"}), sorted(modules & (UI | HEAVY))


def test_a_mistyped_plan_path_still_opens_nothing_and_says_so() -> None:
    code, modules, text = loaded("no-such-plan.yaml")
    assert code == 2 and "no-such-plan.yaml: no such plan file" in text
    assert not modules & UI


@pytest.mark.slow
def test_run_and_status_on_a_real_database_load_no_textual(shop_db: str, tmp_path: Path) -> None:
    import os

    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text("""
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
    """))
    env = {**os.environ, "MIGTUI_TEST_TARGET_URL": shop_db}
    code, modules, text = loaded("run", str(plan), env=env)
    assert code == 0, text
    assert "add_col applied" in text
    assert not modules & UI, sorted(modules & UI)
    code, modules, text = loaded("status", str(plan), env=env)
    assert code == 0 and "1 applied" in text, text
    assert not modules & UI, sorted(modules & UI)
