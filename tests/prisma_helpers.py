"""Helpers shared by the tests (moved out of test_prisma.py)."""


from __future__ import annotations

from pathlib import Path

MIGRATION = (
    '-- CreateTable\nCREATE TABLE "Widget" (\n    "id" SERIAL NOT NULL,   \n'
    '    "name" TEXT NOT NULL,\n\n    CONSTRAINT "Widget_pkey" PRIMARY KEY ("id")\n);\n\n'
    '-- CreateIndex\nCREATE UNIQUE INDEX "Widget_name_key" ON "Widget"("name");')


DOWN = 'DROP TABLE "Widget";\n'


def make_migration(root: Path, name: str = "20240101120000_add_widget", down: bool = True
                   ) -> Path:
    d = root / "prisma" / "migrations" / name
    d.mkdir(parents=True)
    (d / "migration.sql").write_bytes(MIGRATION.encode())  # trailing spaces, no final newline
    if down:
        (d / "down.sql").write_text(DOWN)
    return d
