"""Connection strings: every form libpq accepts, Prisma's ?schema=, one clear line for bad ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from migtui.cli import main
from migtui.db import make_engine
from migtui.dsn import DsnError, conninfo, database_name, display, parse_dsn
from migtui.plan import load_plan
from migtui.runner import Runner
from tests.prisma_helpers import make_migration
from tests.runner_helpers import one, plan_text, q

REPO = Path(__file__).resolve().parent.parent
PLAN = REPO / "plans" / "add-order-status.yaml"

BAD = {
    "postgresql://u:pw-x1@127.0.0.1:abc/db": "invalid port 'abc'",
    "postgresql://u:pw-x1@[::1/db": 'matching "]" in IPv6 host address',
    "mysql://u:pw-x1@h/db": "expected a postgresql:// URL or a libpq keyword string",
    "host=h dbname=d password=pw-x1 nonsense=1": 'invalid connection option "nonsense"',
    "localhost:5432/shop": "expected a postgresql:// URL or a libpq keyword string",
}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migtui", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


# ---------------------------------------------------------------- parsing and masking


@pytest.mark.parametrize("dsn, params", [
    ("postgresql://u:p%40ss@h:5433/shop?sslmode=require",
     {"user": "u", "password": "p@ss", "host": "h", "port": "5433", "dbname": "shop",
      "sslmode": "require"}),
    ("postgres://u@[::1]/shop", {"user": "u", "host": "::1", "dbname": "shop"}),
    ("postgresql+psycopg://u@h/shop", {"user": "u", "host": "h", "dbname": "shop"}),
    ("host=127.0.0.1 dbname=shop user=postgres",
     {"host": "127.0.0.1", "dbname": "shop", "user": "postgres"}),
    ("shop", {"dbname": "shop"}),  # a bare word is a database name, as in psql
    ("service=reporting", {"service": "reporting"}),
    ("", {}),
    ("postgresql://", {}),
    ("postgresql:///shop?host=/var/run/postgresql",
     {"dbname": "shop", "host": "/var/run/postgresql"}),
    ("postgresql://u@h1:5432,h2:5433/shop", {"user": "u", "host": "h1,h2",
                                             "port": "5432,5433", "dbname": "shop"}),
])
def test_every_form_libpq_accepts(dsn: str, params: dict[str, str]) -> None:
    d = parse_dsn(dsn)
    assert d.params == params and d.schema is None
    # the URL commands get, and the masked form, parse back to the same (password aside)
    params.pop("password", None)
    assert parse_dsn(d.url()).params == params
    assert {k: v for k, v in parse_dsn(d.display()).params.items()
            if k != "password"} == params


@pytest.mark.parametrize("dsn, message", BAD.items())
def test_malformed_strings_raise_one_masked_line(dsn: str, message: str) -> None:
    with pytest.raises(DsnError) as e:
        parse_dsn(dsn)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert "pw-x1" not in str(e.value)
    assert "pw-x1" not in display(dsn)
    assert database_name(dsn) == ""


@pytest.mark.parametrize("dsn", [
    "postgresql://u:s3cr3t-pw@h/db",
    "postgresql://u@h/db?password=s3cr3t-pw",
    "postgresql://u@h/db?sslmode=disable&password=s3cr3t-pw&schema=tenant1",
    "host=h dbname=db password=s3cr3t-pw",
    "host=h dbname=db password = 's3cr3t-pw'",
])
def test_the_masked_form_never_shows_the_password(dsn: str) -> None:
    shown = display(dsn)
    assert "s3cr3t-pw" not in shown and "***" in shown and "h" in shown
    assert "s3cr3t-pw" not in parse_dsn(dsn).url()
    assert parse_dsn(dsn).password == "s3cr3t-pw"


def test_prisma_schema_becomes_the_search_path() -> None:
    d = parse_dsn("postgresql://u@h/db?schema=tenant1&connection_limit=5&sslmode=prefer")
    assert d.schema == "tenant1"
    assert d.params == {"user": "u", "host": "h", "dbname": "db", "sslmode": "prefer"}
    info = psycopg.conninfo.conninfo_to_dict(d.conninfo())
    assert info["options"] == '-c search_path="tenant1"'
    assert "schema=tenant1" in d.display()  # shown as written
    # an existing options value is kept
    d = parse_dsn("postgresql://u@h/db?options=-c%20work_mem%3D64MB&schema=s")
    assert psycopg.conninfo.conninfo_to_dict(d.conninfo())["options"] == \
        '-c work_mem=64MB -c search_path="s"'


# ---------------------------------------------------------------- against a server


def test_connections_from_keyword_strings_and_odd_schema_names(db_url: str) -> None:
    p = parse_dsn(db_url).params
    kw = psycopg.conninfo.make_conninfo("", **p)
    with psycopg.connect(conninfo(kw)) as c:
        assert c.execute("SELECT current_database()").fetchone()[0] == p["dbname"]
    q(db_url, 'CREATE SCHEMA "Odd Schema\\x"')
    url = parse_dsn(db_url).url() + ("&" if "?" in db_url else "?") + \
        "schema=Odd%20Schema%5Cx"
    with psycopg.connect(conninfo(url)) as c:
        assert c.execute("SELECT current_schema()").fetchone()[0] == "Odd Schema\\x"
    # the SQLAlchemy engine (sizes, sampler) is built from keywords, not a SQLAlchemy URL
    engine = make_engine(kw, application_name="migtui-test")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_setting('application_name')")
                                ).scalar() == "migtui-test"
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", [
    ["status", str(PLAN)], ["rollback", str(PLAN), "--to", "add_status"],
    ["run", str(PLAN)], ["export", str(PLAN)], ["rehearse", str(PLAN)],
    ["check", str(PLAN)],
])
def test_every_command_refuses_a_malformed_string_with_one_line(command: list[str]) -> None:
    for dsn, message in BAD.items():
        p = cli(*command, "--dsn", dsn)
        assert p.returncode == 2, (command, dsn, p.stdout, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (command, dsn, p.stderr)
        assert "pw-x1" not in p.stdout + p.stderr


def test_a_malformed_environment_url_names_the_variable() -> None:
    p = cli("status", str(PLAN), env={"DATABASE_URL": "mysql://u:pw-x1@h/db"})
    assert p.returncode == 2 and p.stderr.startswith("migtui: error: $DATABASE_URL: ")
    assert "pw-x1" not in p.stderr


def test_status_works_from_every_form(db_url: str, tmp_path: Path) -> None:
    p = parse_dsn(db_url).params
    dbname = p["dbname"]
    libpq_env = {"PGHOST": p.get("host", ""), "PGPORT": p.get("port", ""),
                 "PGUSER": p.get("user", "")}
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text("[migtui_test]\n" + "".join(f"{k}={v}\n" for k, v in p.items()))
    forms = [
        (db_url, {}),
        (psycopg.conninfo.make_conninfo("", **p), {}),
        (dbname, libpq_env),  # a bare database name, the rest from PG* variables
        ("service=migtui_test", {"PGSERVICEFILE": str(service_file)}),
        (db_url + ("&" if "?" in db_url else "?") + "schema=public", {}),
    ]
    for dsn, env in forms:
        r = cli("status", str(PLAN), "--dsn", dsn, env=env)
        assert r.returncode == 0, (dsn, r.stdout, r.stderr)
        assert "add_status" in r.stdout and "pending" in r.stdout
    # no --dsn, no DATABASE_URL: libpq's variables alone
    env = {**libpq_env, "PGDATABASE": dbname, "DATABASE_URL": ""}
    r = cli("status", str(PLAN), env=env)
    assert r.returncode == 0 and f"on {dbname}" in r.stdout, r.stdout + r.stderr


def test_a_prisma_schema_url_runs_the_plan_in_that_schema(db_url: str, tmp_path: Path) -> None:
    """?schema=tenant1: the plan's tables and _prisma_migrations land in tenant1."""
    q(db_url, "CREATE SCHEMA tenant1")
    mig = make_migration(tmp_path)
    out = tmp_path / "plan.yaml"
    assert main(["import-prisma", str(mig), "-o", str(out)]) == 0
    url = db_url + ("&" if "?" in db_url else "?") + "schema=tenant1"
    r = cli("run", str(out), "--dsn", url, "--yes", "--no-gauges")
    assert r.returncode == 0, r.stdout + r.stderr
    assert one(db_url, "SELECT to_regclass('tenant1.\"Widget\"') IS NOT NULL")
    assert one(db_url, "SELECT to_regclass('public.\"Widget\"') IS NULL")
    assert one(db_url, 'SELECT count(*) FROM tenant1."_prisma_migrations"') == 1
    assert one(db_url, "SELECT to_regclass('public._prisma_migrations') IS NULL")
    # the runner's own history stays in the migtui schema; status reads it back
    r = cli("status", str(out), "--dsn", url)
    assert r.returncode == 0 and "applied" in r.stdout, r.stdout + r.stderr
    with Runner(load_plan(out), url) as runner:
        assert runner.rollback().status == "rolled_back"
    assert one(db_url, 'SELECT count(*) FROM tenant1."_prisma_migrations"') == 0
    assert one(db_url, "SELECT to_regclass('tenant1.\"Widget\"') IS NULL")


def test_schema_public_is_the_plain_runs_lock_and_history(db_url: str,
                                                         tmp_path: Path) -> None:
    """?schema=public (what prisma init writes) works where a plain run does: it must wait
    for a plain run's lock and read its history, never run the same steps beside it."""
    from migtui.runner.errors import RunLocked

    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text("- id: note\n  sql: CREATE TABLE note_t (id int);\n"
                              "  rollback: DROP TABLE note_t;\n"))
    public = db_url + ("&" if "?" in db_url else "?") + "schema=public"
    with Runner(load_plan(plan), db_url) as plain:
        assert plain.apply().status == "done"
        with pytest.raises(RunLocked):  # the plain run holds the database's lock
            Runner(load_plan(plan), public).open()
    with Runner(load_plan(plan), public) as r:  # and sees the plain run's history
        assert {s.step_id: s.state for s in r.status()} == {"note": "applied"}
        assert r.rollback().status == "rolled_back"
    assert one(db_url, "SELECT to_regclass('public.note_t') IS NULL")


def test_a_schema_that_does_not_exist_is_one_clear_line(db_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text("- id: note\n  sql: CREATE TABLE note_t (id int);\n"
                              "  rollback: DROP TABLE note_t;\n"))
    url = db_url + ("&" if "?" in db_url else "?") + "schema=nosuch"
    for cmd in (("status", str(plan), "--dsn", url),
                ("run", str(plan), "--dsn", url, "--yes", "--no-gauges")):
        r = cli(*cmd)
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert "schema 'nosuch' does not exist" in out and "Traceback" not in out, out
    assert one(db_url, "SELECT to_regclass('note_t') IS NULL")


def test_a_command_step_gets_a_url_that_connects(db_url: str, tmp_path: Path) -> None:
    """DATABASE_URL (password-less, the schema as options) is a URL libpq clients accept."""
    q(db_url, "CREATE SCHEMA tenant1")
    script = tmp_path / "probe.py"
    script.write_text("import os, psycopg\n"
                      "with psycopg.connect(os.environ['DATABASE_URL']) as c:\n"
                      "    print('schema=' + c.execute('SELECT current_schema()').fetchone()[0])\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(plan_text(f"- id: probe\n  command: {{run: '{sys.executable} probe.py'}}\n"))
    url = db_url + ("&" if "?" in db_url else "?") + "schema=tenant1"
    r = cli("run", str(plan), "--dsn", url, "--no-gauges")
    assert r.returncode == 0 and "schema=tenant1" in r.stdout, r.stdout + r.stderr
