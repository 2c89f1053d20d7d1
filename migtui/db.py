"""Connections: resolve the target's connection string, and build SQLAlchemy engines.

Every connection identifies itself as ``application_name=migtui`` (or a given name), so a
DBA sees migtui in pg_stat_activity and the sampler can tell migtui's own sessions apart.
Connection strings are parsed by ``migtui.dsn`` (psycopg's ``conninfo``), in every form
libpq accepts; the engine is built from the parsed keywords, not from a SQLAlchemy URL.
"""

from __future__ import annotations

import os

import psycopg
from sqlalchemy import Engine, create_engine

from migtui import secrets
from migtui.dsn import DsnError, database_name, parse_dsn
from migtui.plan.model import Plan, Target

__all__ = ["DsnError", "NoDatabaseGiven", "database_name", "make_engine", "resolve_dsn"]


class NoDatabaseGiven(DsnError):
    """No --dsn, no dsn_env variable, no PG* variables: nothing says where to connect."""


def resolve_dsn(plan: Plan | None = None, dsn: str | None = None,
                target: str | None = None) -> str:
    """``--dsn``, else the target's ``dsn_env`` (default DATABASE_URL), else libpq's PG* env.

    The string is checked here (DsnError, exit 2, when malformed), so every command refuses
    a bad one before it touches anything.
    """
    if dsn:
        parse_dsn(dsn)
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
        try:
            parse_dsn(url)
        except DsnError as e:
            raise DsnError(f"${env}: {e}") from None
        return url
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE") or os.environ.get("PGSERVICE"):
        if os.environ.get("PGPASSWORD"):
            secrets.register(os.environ["PGPASSWORD"])
        return "postgresql://"  # libpq fills in the rest from PG* variables
    raise NoDatabaseGiven(f"no database given: pass --dsn, set {env}, or set the libpq variables "
                   f"(PGHOST, PGDATABASE, ...)")


def make_engine(dsn: str, application_name: str = "migtui", pool_size: int = 2,
                connect_timeout: int = 10) -> Engine:
    """A psycopg 3 engine from any accepted connection string (keyword strings too)."""
    conninfo = parse_dsn(dsn).conninfo()
    return create_engine(
        "postgresql+psycopg://",
        creator=lambda: psycopg.connect(conninfo, application_name=application_name,
                                        connect_timeout=connect_timeout),
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
    )
