"""Prisma's own CLI agrees: after migtui applied the corpus, ``prisma migrate status`` is clean.

Needs the Prisma CLI from the npm registry: ``.ci/run`` installs ``prisma`` and
``@prisma/adapter-pg`` into a folder and sets ``MIGTUI_PRISMA_CLI`` to it. Prisma's native
engines are downloaded from Prisma's own servers, which this project's machines cannot reach;
with a driver adapter the CLI's WebAssembly schema engine does the work, so the native
engine paths are pointed at a placeholder file that is never loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.plan import load_plan
from migtui.runner import Runner

CORPUS = Path(__file__).parent / "prisma_history"
CLI_DIR = os.environ.get("MIGTUI_PRISMA_CLI", "")

CONFIG = """\
import { defineConfig } from 'prisma/config'
import { PrismaPg } from '@prisma/adapter-pg'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  engine: 'js',
  experimental: { adapter: true },
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL }),
})
"""


def _prisma(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    placeholder = project / "no-native-engine"
    placeholder.touch()
    env = {**os.environ, "DATABASE_URL": url, "NODE_PATH": str(Path(CLI_DIR) / "node_modules"),
           "PRISMA_QUERY_ENGINE_LIBRARY": str(placeholder),
           "PRISMA_SCHEMA_ENGINE_BINARY": str(placeholder), "PRISMA_HIDE_UPDATE_MESSAGE": "1"}
    return subprocess.run([str(Path(CLI_DIR) / "node_modules" / ".bin" / "prisma"), *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(not (Path(CLI_DIR) / "node_modules" / ".bin" / "prisma").exists(),
                    reason="no Prisma CLI: set MIGTUI_PRISMA_CLI to a folder with prisma and "
                           "@prisma/adapter-pg installed (.ci/run does)")
def test_prisma_migrate_status_is_clean_after_migtui_applied_the_history(
        tmp_path: Path, db_url: str) -> None:
    project = tmp_path / "app"
    shutil.copytree(CORPUS, project / "prisma" / "migrations")
    (project / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n')
    (project / "prisma.config.ts").write_text(CONFIG)
    (project / "node_modules").symlink_to(Path(CLI_DIR) / "node_modules")

    before = _prisma(project, db_url, "migrate", "status")
    assert "have not yet been applied" in before.stdout, before.stdout + before.stderr

    out = tmp_path / "history.yaml"
    assert main(["import-prisma", str(project / "prisma" / "migrations"), "-o", str(out)]) == 0
    with Runner(load_plan(out), db_url) as r:
        outcome = r.apply()
    assert outcome.status == "done", outcome.message

    after = _prisma(project, db_url, "migrate", "status")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Database schema is up to date!" in after.stdout
