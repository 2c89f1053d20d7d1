"""Connections for the runner: psycopg 3, ``application_name=migtui``, clear errors.

The runner talks to PostgreSQL through psycopg directly (not a pool): it needs one session
that holds the run lock and does the work (its backend pid is the one to cancel), and exact
control over transactions and autocommit. The connection string is parsed by ``migtui.dsn``.

Every session turns off ``idle_session_timeout`` and ``idle_in_transaction_session_timeout``
for itself (a database or role default must not kill the session that holds the run lock
while it waits between steps), and asks for TCP keepalives so that a peer that vanished is
noticed in about a minute rather than in the kernel's two hours. Keepalive values given in
the connection string win.
"""

from __future__ import annotations

import psycopg
from psycopg import conninfo

from migtui import secrets
from migtui.dsn import DsnError, parse_dsn
from migtui.runner.errors import DatabaseUnavailable

APPLICATION_NAME = "migtui"


def connect(dsn: str, *, application_name: str = APPLICATION_NAME,
            connect_timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection; transactions are opened explicitly with ``transaction()``."""
    try:
        parsed = parse_dsn(dsn)
        info = parsed.conninfo()
    except DsnError as e:
        raise DatabaseUnavailable(str(e)) from None
    try:
        given = conninfo.conninfo_to_dict(info)
        keep = {k: v for k, v in KEEPALIVES.items() if k not in given}
        conn = psycopg.connect(info, autocommit=True, application_name=application_name,
                               connect_timeout=connect_timeout, **keep)
    except psycopg.Error as e:
        raise DatabaseUnavailable(
            f"cannot connect to {secrets.redact_url(dsn)}: {first_line(e)}") from None
    try:
        no_idle_timeouts(conn)
        missing = parsed.schema and not conn.execute(
            "SELECT to_regnamespace(%s) IS NOT NULL", (parsed.schema,)).fetchone()[0]
    except psycopg.Error as e:
        conn.close()
        raise DatabaseUnavailable(
            f"cannot set up a session on {secrets.redact_url(dsn)}: {first_line(e)}") from None
    if missing:
        conn.close()
        raise DatabaseUnavailable(
            f"schema {parsed.schema!r} does not exist in database "
            f"{parsed.dbname or '?'!r} (?schema= in the URL); expected an existing "
            f"schema: create it first (CREATE SCHEMA), or fix the URL")
    return conn


# libpq keepalives: probe after 30 s of silence, every 10 s, give up after 3 misses
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


def no_idle_timeouts(conn: psycopg.Connection) -> None:
    """Turn off the idle timeouts for this session (idle_session_timeout is PostgreSQL 14+)."""
    if conn.info.server_version >= 140000:
        conn.execute("SELECT set_config('idle_in_transaction_session_timeout', '0', false), "
                     "set_config('idle_session_timeout', '0', false)")
    else:
        conn.execute("SELECT set_config('idle_in_transaction_session_timeout', '0', false)")


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
