"""Connections for the runner: psycopg 3, ``application_name=migtui``, clear errors.

The runner talks to PostgreSQL through psycopg directly (not a pool): it needs one session
for the advisory lock, one for the work whose backend pid it can cancel, and exact control
over transactions and autocommit. The connection string is parsed by ``migtui.dsn``.
"""

from __future__ import annotations

import psycopg

from migtui import secrets
from migtui.dsn import DsnError, parse_dsn
from migtui.runner.errors import DatabaseUnavailable

APPLICATION_NAME = "migtui"


def connect(dsn: str, *, application_name: str = APPLICATION_NAME,
            connect_timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection; transactions are opened explicitly with ``transaction()``."""
    try:
        info = parse_dsn(dsn).conninfo()
    except DsnError as e:
        raise DatabaseUnavailable(str(e)) from None
    try:
        return psycopg.connect(info, autocommit=True,
                               application_name=application_name,
                               connect_timeout=connect_timeout)
    except psycopg.Error as e:
        raise DatabaseUnavailable(
            f"cannot connect to {secrets.redact_url(dsn)}: {first_line(e)}") from None


def first_line(e: BaseException) -> str:
    """The database's own message, without libpq's noise, secrets scrubbed."""
    diag = getattr(e, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(e) or type(e).__name__
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    msg = lines[0] if lines else type(e).__name__
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    if detail:
        msg += f" ({detail.strip()})"
    return secrets.scrub(msg)
