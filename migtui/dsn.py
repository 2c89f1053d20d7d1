"""Connection strings: one parser (psycopg's ``conninfo``), one masked display form.

Accepted forms, as libpq (and psql) accept them:

* a URL, ``postgresql://user:password@host:port/dbname?param=value`` (``postgres://`` too;
  SQLAlchemy's ``postgresql+psycopg://`` loses its driver part);
* a libpq keyword string, ``host=127.0.0.1 dbname=shop user=postgres`` (``service=name``);
* a bare database name, ``shop``, as psql takes it;
* nothing (``""`` or ``postgresql://``): libpq's PG* variables and defaults fill it in.

Prisma's ``?schema=NAME`` URL parameter is accepted: it is taken out of the string libpq
sees and becomes ``options=-c search_path=NAME`` on every connection, so unqualified tables
(and ``_prisma_migrations``) land in that schema, as with Prisma. Prisma's other pool
parameters (``connection_limit`` ...) mean nothing to libpq and are dropped.

A malformed string raises ``DsnError`` (exit 2) with one line, the password masked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from migtui import secrets

PRISMA_ONLY = frozenset({"connection_limit", "pool_timeout", "pgbouncer", "statement_cache_size",
                         "socket_timeout", "sslaccept", "sslidentity"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_KW_PASSWORD = re.compile(r"password\s*=\s*('(?:\\.|[^'\\])*'?|\S+)")
EXPECTED = "expected a postgresql:// URL or a libpq keyword string"


class DsnError(ValueError):
    """No usable connection string. Exit code 2."""


@dataclass(frozen=True)
class Dsn:
    """A parsed connection string: libpq keywords, plus the Prisma schema if one was given."""

    params: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    url_form: bool = True

    @property
    def password(self) -> str | None:
        return self.params.get("password")

    @property
    def dbname(self) -> str:
        return self.params.get("dbname") or os.environ.get("PGDATABASE", "")

    def libpq_params(self, *, password: bool = True) -> dict[str, str]:
        """Keywords for libpq: the schema as ``options``, the password unless told not to."""
        p = dict(self.params)
        if not password:
            p.pop("password", None)
        if self.schema:
            p["options"] = f"{p['options']} {search_path_option(self.schema)}" \
                if p.get("options") else search_path_option(self.schema)
        return p

    def conninfo(self) -> str:
        """The keyword string psycopg connects with (holds the password: never show it)."""
        from psycopg.conninfo import make_conninfo  # lazily: `check` loads no psycopg

        return make_conninfo("", **self.libpq_params())

    def url(self, *, password: str | None = None, schema_param: bool = False) -> str:
        """A ``postgresql://`` URL; ``password`` is what to put in its place (None: none)."""
        p = self.libpq_params(password=False) if not schema_param else dict(self.params)
        p.pop("password", None)
        user, host, port, db = (p.pop(k, None) for k in ("user", "host", "port", "dbname"))
        userinfo = ""
        if user or password is not None:
            userinfo = quote(user or "", safe="")
            userinfo += f":{password}" if password is not None else ""
            userinfo += "@"
        hosts = host.split(",") if host else []
        ports = port.split(",") if port else []
        netloc = ""
        if any(h.startswith(("/", "@")) for h in hosts) or (ports and len(ports) != max(
                len(hosts), 1)):
            if host:
                p = {"host": host, **p}
            if port:
                p = {"port": port, **p}
        else:
            pairs = zip(hosts or [""], ports or [""] * max(len(hosts), 1), strict=True)
            netloc = ",".join((f"[{h}]" if ":" in h else quote(h, safe=""))
                              + (f":{pt}" if pt else "") for h, pt in pairs)
        if schema_param and self.schema:
            p["schema"] = self.schema
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in p.items())
        if not (userinfo or netloc or db or query):
            return "postgresql://"
        return (f"postgresql://{userinfo}{netloc}/{quote(db or '', safe='')}"
                + (f"?{query}" if query else ""))

    def display(self) -> str:
        """Safe to show: the form it was written in, the password masked."""
        if self.url_form:
            return self.url(password=secrets.MASK if self.password else None, schema_param=True)
        shown = dict(self.params)
        if "password" in shown:
            shown["password"] = secrets.MASK
        from psycopg.conninfo import make_conninfo

        return make_conninfo("", **shown) or "(libpq defaults)"


DEFAULT_SCHEMA = "public"


def tenant_schema(schema: str | None) -> str | None:
    """The schema a run is keyed by (its run lock, its history): None for the database's
    own, and for ``public``: ``?schema=public`` (what ``prisma init`` writes) is where a
    plain run works too, so the two must share one lock and one history."""
    return None if not schema or schema == DEFAULT_SCHEMA else schema


def search_path_option(schema: str) -> str:
    """``-c search_path="schema"`` escaped for libpq's ``options`` (spaces, backslashes)."""
    value = 'search_path="' + schema.replace('"', '""') + '"'
    return "-c " + value.replace("\\", "\\\\").replace(" ", "\\ ")


def parse_dsn(text: str) -> Dsn:
    """Parse any accepted form (see the module docstring). Registers the password."""
    register_dsn(text)
    s = text.strip()
    m = _SCHEME.match(s)
    if m:
        scheme = m.group(1)
        if scheme.lower().split("+")[0] not in ("postgresql", "postgres"):
            raise DsnError(f"{EXPECTED}, found a {scheme}:// URL")
        url, schema = _strip_prisma("postgresql://" + s[m.end():])
        dsn = Dsn(_to_dict(url), schema, url_form=True)
    elif s and "=" not in s:
        if any(c.isspace() or c in ":/@?" for c in s):
            raise DsnError(f"{EXPECTED} (or a database name), found {secrets.scrub(s)!r}")
        dsn = Dsn({"dbname": s}, url_form=False)  # psql: a bare word is the database name
    else:
        dsn = Dsn(_to_dict(s), url_form=not s)
    _check_ports(dsn.params.get("port"))
    secrets.register(dsn.password)
    return dsn


def _to_dict(s: str) -> dict[str, str]:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(s).items() if v is not None}
    except psycopg.Error as e:
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        msg = msg.split(' in URI: "')[0].split(' in connection info string')[0]
        raise DsnError(f"invalid connection string: {secrets.scrub(msg)}") from None


def _strip_prisma(url: str) -> tuple[str, str | None]:
    """The URL without Prisma's own query parameters, and the ``schema`` one's value."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    query, _, _fragment = query.partition("#")
    kept, schema = [], None
    for item in query.split("&"):
        key = unquote(item.partition("=")[0])
        if key == "schema":
            schema = unquote(item.partition("=")[2]) or None
        elif key not in PRISMA_ONLY:
            kept.append(item)
    return base + ("?" + "&".join(kept) if kept else ""), schema


def _check_ports(port: str | None) -> None:
    for p in (port or "").split(","):
        if p and not (p.isdigit() and 0 < int(p) < 65536):
            raise DsnError(f"invalid port {p!r} in the connection string: "
                           f"expected a number from 1 to 65535")


def register_dsn(text: str) -> None:
    """Register the password as written in ``text``, before any parsing (malformed too)."""
    s = text.strip()
    m = _SCHEME.match(s)
    if m:
        rest = s[m.end():]
        netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
        userinfo, at, _ = netloc.rpartition("@")
        if at and ":" in userinfo:
            written = userinfo.partition(":")[2]
            secrets.register_raw(written)
            secrets.register(unquote(written))
        for item in rest.partition("?")[2].split("&"):
            k, _eq, v = item.partition("=")
            if unquote(k) == "password" and v:
                secrets.register_raw(v)
                secrets.register(unquote(v))
    else:
        for written in _KW_PASSWORD.findall(s):
            secrets.register_raw(written)
            secrets.register(_unquote_kw(written))


def _unquote_kw(v: str) -> str:
    if v.startswith("'"):
        v = v[1:-1] if v.endswith("'") and len(v) > 1 else v[1:]
        return re.sub(r"\\(.)", r"\1", v)
    return v


def display(text: str) -> str:
    """The connection string, password masked; a malformed one is scrubbed as written."""
    try:
        return parse_dsn(text).display()
    except DsnError:
        return secrets.scrub(text)


def database_name(text: str) -> str:
    try:
        return parse_dsn(text).dbname
    except DsnError:
        return ""


def conninfo(text: str) -> str:
    """What psycopg connects with, from any accepted form. Raises DsnError."""
    return parse_dsn(text).conninfo()
