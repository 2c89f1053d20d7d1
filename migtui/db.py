"""Connections: resolve the target's URL, and build SQLAlchemy engines for psycopg 3.

Every connection identifies itself as ``application_name=migtui`` (or a given name), so a
DBA sees migtui in pg_stat_activity and the sampler can tell migtui's own sessions apart.
"""

from __future__ import annotations

import os

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from migtui import secrets
from migtui.plan.model import Plan, Target


class DsnError(ValueError):
    """No usable database URL. Exit code 2."""


def resolve_dsn(plan: Plan | None = None, dsn: str | None = None,
                target: str | None = None) -> str:
    """``--dsn``, else the target's ``dsn_env`` (default DATABASE_URL), else libpq's PG* env."""
    if dsn:
        secrets.register_url(dsn)
        return dsn
    tgt: Target | None = None
    if plan is not None:
        name = target or plan.target_name
        if name not in plan.targets:
            raise DsnError(f"unknown target {name!r}; the plan defines: "
                           f"{', '.join(plan.targets)}")
        tgt = plan.targets[name]
    env = tgt.dsn_env if tgt else "DATABASE_URL"
    if os.environ.get(env):
        url = os.environ[env]
        secrets.register_url(url)
        return url
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
        if os.environ.get("PGPASSWORD"):
            secrets.register(os.environ["PGPASSWORD"])
        return "postgresql://"  # libpq fills in the rest from PG* variables
    raise DsnError(f"no database given: pass --dsn, set {env}, or set the libpq variables "
                   f"(PGHOST, PGDATABASE, ...)")


def sa_url(dsn: str) -> URL:
    """A SQLAlchemy URL for the psycopg 3 driver from any PostgreSQL URL."""
    try:
        url = make_url(dsn)
    except ArgumentError as e:
        raise DsnError(f"not a database URL: {secrets.scrub(str(e))}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith("postgresql"):
        raise DsnError(f"expected a postgresql:// URL, found a {url.drivername} URL")
    return url


def make_engine(dsn: str, application_name: str = "migtui", pool_size: int = 2,
                connect_timeout: int = 10) -> Engine:
    url = sa_url(dsn)
    if url.password:
        secrets.register(str(url.password))
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        connect_args={"application_name": application_name, "connect_timeout": connect_timeout},
    )


def display_url(dsn: str) -> str:
    return secrets.redact_url(dsn)


def database_name(dsn: str) -> str:
    try:
        return make_url(dsn).database or os.environ.get("PGDATABASE", "")
    except ArgumentError:
        return ""
