"""Keep DSN passwords out of every screen, journal, log, export and screenshot.

A secret is registered once and scrubbed in every form it can take on the way out: raw,
URL-encoded (``quote``, ``quote_plus``, hex digits in any case), JSON-escaped, and
escaped for a libpq keyword string or a password file. Serialisers scrub the strings
inside an object *before* ``json.dumps`` (``scrub_obj``), so escaping cannot hide one.
Parsing and masking connection strings lives in ``migtui.dsn``.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []
_patterns: dict[str, re.Pattern[str]] = {}  # percent-encoded forms, hex digits in any case
MASK = "***"

_HEX = re.compile(r"%([0-9A-Fa-f])([0-9A-Fa-f])")
# A secret this short is masked only where it stands alone (not inside a word): a one-letter
# password 'p' must not turn "expected a postgresql:// URL" into "ex***ected a ***ostgresql".
SHORT = 4


def encodings(secret: str) -> set[str]:
    """Every form in which ``secret`` may show up in text migtui or a child writes."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             json.dumps(secret, ensure_ascii=False)[1:-1],
             json.dumps(secret, ensure_ascii=True)[1:-1],
             secret.replace("\\", "\\\\").replace("'", "\\'"),  # libpq keyword string
             secret.replace("\\", "\\\\").replace(":", "\\:")}  # .pgpass line
    return {f for f in forms if f}


def _percent_pattern(form: str) -> re.Pattern[str]:
    """``form`` with every ``%XX`` matching upper, lower or mixed-case hex digits."""
    parts, last = [], 0
    for m in _HEX.finditer(form):
        parts.append(re.escape(form[last:m.start()]))
        parts.append("%" + "".join(f"[{d.upper()}{d.lower()}]" for d in m.groups()))
        last = m.end()
    parts.append(re.escape(form[last:]))
    return re.compile("".join(parts))


def _alone(form: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])")


def _add(forms: set[str]) -> None:
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _ordered[:] = sorted((f for f in _secrets if len(f) >= SHORT), key=len, reverse=True)
        for f in forms:
            if f in _patterns:
                continue
            if len(f) < SHORT:
                _patterns[f] = _alone(f)
            elif _HEX.search(f):
                _patterns[f] = _percent_pattern(f)


def register(secret: str | None) -> None:
    if secret:
        _add(encodings(secret))


def register_raw(text: str | None) -> None:
    """Register ``text`` exactly as written (e.g. a password percent-encoded by hand)."""
    if text:
        _add({text})


def scrub(text: str) -> str:
    """Replace every registered secret (in any of its encodings) in ``text``."""
    with _lock:
        secrets = list(_ordered)
        patterns = [p for f, p in _patterns.items() if len(f) < SHORT or "%" in text]
    for s in secrets:
        if s in text:
            text = text.replace(s, MASK)
    for p in patterns:
        text = p.sub(MASK, text)
    return text


def scrub_obj(obj: Any) -> Any:
    """A copy of ``obj`` (dicts, lists, tuples, strings) with every string scrubbed.

    Call it before ``json.dumps``: scrubbing the JSON text afterwards misses a secret whose
    quotes or backslashes the encoder escaped. Other values pass through unchanged; pass
    ``default=scrubbed_str`` to ``json.dumps`` for the ones it turns into strings.
    """
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {scrub_obj(k) if isinstance(k, str) else k: scrub_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub_obj(v) for v in obj]
    return obj


def scrubbed_str(obj: Any) -> str:
    """``json.dumps(default=...)``: the value as a string, scrubbed."""
    return scrub(str(obj))


def redact_url(url: str) -> str:
    """The connection string with its password masked, safe to show. Registers the password."""
    from migtui.dsn import display

    return display(url)


def register_url(url: str) -> None:
    """Register the password of a URL or libpq keyword string (malformed ones too)."""
    from migtui.dsn import register_dsn

    register_dsn(url)
