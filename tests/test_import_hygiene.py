"""The core does not know the UI: plan, runner, sampler, lint, journal and execution import no Textual."""

from __future__ import annotations

import subprocess
import sys

CORE = ["migtui.plan", "migtui.journal", "migtui.events", "migtui.state", "migtui.control",
        "migtui.db", "migtui.dsn", "migtui.secrets", "migtui.sql", "migtui.document",
        "migtui.runner", "migtui.sampler", "migtui.lint", "migtui.cli", "migtui.execution",
        "migtui.trace", "migtui.importers", "migtui.runnable"]


def test_core_modules_import_without_textual():
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {CORE!r}:\n"
        "    mod = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(getattr(mod, '__path__', []), name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "", f"core modules pulled in: {out.stdout.strip()}"
