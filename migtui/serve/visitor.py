"""One visitor's app process, started by textual-serve for each browser that connects.

    python -m migtui.serve.visitor demo          # the demo plan, with the tour
    python -m migtui.serve.visitor PLAN          # the app on a plan

The database is the one the serving process started (or was given), handed over in the
``MIGTUI_SERVE_DSN`` environment variable, never on the command line: no visitor starts a
server or traffic of its own. A demo visitor works on a private copy of the demo plan, so
its journal and exported report are its own.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

DSN_ENV = "MIGTUI_SERVE_DSN"


def demo_copy(into: Path) -> Path:
    dst = into / "demo.yaml"
    with resources.as_file(resources.files("migtui.demo").joinpath("plan.yaml")) as src:
        shutil.copyfile(src, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m migtui.serve.visitor demo|PLAN", file=sys.stderr)
        return 2
    from migtui.tui.app import make_app

    dsn = os.environ.get(DSN_ENV) or None
    if args[0] == "demo":
        with tempfile.TemporaryDirectory(prefix="migtui-visitor-") as tmp:
            app = make_app(demo_copy(Path(tmp)), dsn=dsn, demo=True, tour=True)
            code = app.run()
    else:
        app = make_app(Path(args[0]), dsn=dsn)
        code = app.run()
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
