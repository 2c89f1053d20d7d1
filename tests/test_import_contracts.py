"""The boundary between the core and the apps, as import-linter contracts in pyproject.toml.

`lint-imports` (run by .ci/run) checks them; these tests run it too, and keep the contract's
list of core modules complete: every top-level module of migtui that is not an app is in it.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import migtui

REPO = Path(__file__).resolve().parent.parent
APPS = {"migtui.cli", "migtui.tui", "migtui.demo", "migtui.serve", "migtui.__main__"}  # may import the UI


def contracts() -> dict[str, dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "migtui" and config["include_external_packages"] is True
    return {c["name"]: c for c in config["contracts"]}


def core_contract() -> dict:
    return next(c for c in contracts().values() if "textual" in c["forbidden_modules"]
                and c["source_modules"] != ["migtui"])


def test_every_core_module_is_under_the_contract() -> None:
    top = {f"migtui.{m.name}" for m in pkgutil.iter_modules(migtui.__path__)}
    contract = core_contract()
    assert {"migtui.tui", "textual", "rich"} <= set(contract["forbidden_modules"])
    missing = sorted(top - APPS - set(contract["source_modules"]))
    assert not missing, f"add to the import-linter contract in pyproject.toml: {missing}"


def test_the_package_itself_imports_no_app() -> None:
    (contract,) = [c for c in contracts().values() if c["source_modules"] == ["migtui"]]
    assert contract["as_packages"] is False
    assert {"migtui.cli", "migtui.tui", "textual", "rich"} <= set(contract["forbidden_modules"])


def test_lint_imports_keeps_every_contract() -> None:
    code = "import sys; from importlinter.cli import lint_imports_command; " \
           "sys.exit(lint_imports_command())"
    out = subprocess.run([sys.executable, "-c", code, "--no-cache"], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(contracts())} kept, 0 broken" in out.stdout
