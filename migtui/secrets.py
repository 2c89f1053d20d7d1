"""Keep DSN passwords out of every screen, journal, log, export and screenshot."""

from __future__ import annotations

import threading
from urllib.parse import parse_qsl

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register(secret: str | None) -> None:
    if secret and len(secret) >= 1:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """Replace every registered secret in ``text``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def redact_url(url: str) -> str:
    """The URL with its password masked, safe to show. Registers the password."""
    from sqlalchemy.engine import make_url  # lazily: `check` and `--version` need no SQLAlchemy
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        return scrub(url)
    if u.password:
        register(str(u.password))
    q = dict(u.query)
    for k in list(q):
        if k.lower() == "password":
            register(str(q[k]))
            q[k] = MASK
    u = u.set(query=q)
    return u.render_as_string(hide_password=True).replace("%2A%2A%2A", MASK)


def register_url(url: str) -> None:
    """Register the password found in a URL or in a libpq keyword string."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
        register(str(u.password) if u.password else None)
        for k, v in u.query.items():
            if k.lower() == "password":
                register(v if isinstance(v, str) else ",".join(v))
    except ArgumentError:
        for k, v in parse_qsl(url.replace(" ", "&")):
            if k.lower() == "password":
                register(v)
