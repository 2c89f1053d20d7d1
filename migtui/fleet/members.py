"""A fleet's members, resolved: written-out DSNs, databases discovered on a server
(``pg_database``), tenant schemas of one database (``pg_namespace``); then cut into waves.

A schema member connects with its own ``search_path`` (as Prisma's ``?schema=`` does, via
``migtui.dsn``); its connection string keeps the ``?schema=`` form, so the runner keeps its
history under ``PLAN-ID@SCHEMA`` and takes the run lock of that schema
(``migtui.runner.history.history_plan_id``, ``migtui.runner.advisory``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from urllib.parse import quote

from migtui.dsn import Dsn, DsnError, parse_dsn, tenant_schema
from migtui.fleet.loader import FleetError, LoadedFleet
from migtui.fleet.model import Source, percent
from migtui.plan.errors import Problem
from migtui.plan.loader import Loc


@dataclass(frozen=True)
class Member:
    name: str
    dsn: str  # what the Runner connects with (?schema= kept); holds the password: never show
    server: str  # host:port, for per-server concurrency
    database: str
    schema: str | None = None

    @property
    def lock_group(self) -> str:
        """Members sharing one run lock: a database, or one tenant schema of it (the runner
        keys a ?schema= run's lock by the schema), run one at a time."""
        schema = tenant_schema(self.schema)
        return f"{self.server}/{self.database}" + (f"/{schema}" if schema else "")


def _server(d: Dsn) -> str:
    host = d.params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = d.params.get("port") or os.environ.get("PGPORT") or "5432"
    return f"{host}:{port}"


def _member(d: Dsn, name: str | None = None) -> Member:
    db = d.dbname
    label = name or (f"{db}/{d.schema}" if d.schema else db)
    return Member(label, runner_dsn(d), _server(d), db, d.schema)


def runner_dsn(d: Dsn) -> str:
    """What a member's Runner connects with: a schema target keeps Prisma's ``?schema=``
    form, which is what the runner keys the history and the run lock by."""
    if not d.schema:
        return d.conninfo()
    pw = d.password
    return d.url(password=quote(pw, safe="") if pw is not None else None, schema_param=True)


class _Resolver:
    def __init__(self, loaded: LoadedFleet) -> None:
        self.loaded = loaded
        self.problems: list[Problem] = []

    def add(self, loc: Loc, msg: str) -> None:
        self.problems.append(self.loaded.problem(loc, msg))

    def source(self, src: Source, loc: Loc) -> Dsn | None:
        text = src.dsn
        if src.dsn_env is not None:
            text = os.environ.get(src.dsn_env)
            if not text:
                self.add((*loc, "dsn_env"), f"the environment variable {src.dsn_env!r} is "
                                            f"not set; expected it to hold a connection string")
                return None
        try:
            return parse_dsn(text or "")
        except DsnError as e:
            self.add((*loc, "dsn_env" if src.dsn_env else "dsn"), str(e))
            return None

    def query(self, d: Dsn, loc: Loc, sql: str, pattern: str, exclude: list[str]) -> list[str]:
        import psycopg

        try:
            with psycopg.connect(d.conninfo(), autocommit=True, connect_timeout=10,
                                 application_name="migtui-fleet") as c:
                rows = c.execute(sql, (pattern,)).fetchall()
        except psycopg.Error as e:
            from migtui.runner.conn import first_line

            self.add(loc, f"cannot run the discovery on {d.display()}: {first_line(e)}")
            return []
        names = [str(r[0]) for r in rows if str(r[0]) not in exclude]
        if not names:
            self.add((*loc, "pattern"), f"the discovery on {d.display()} found no member: "
                                        f"nothing matches {pattern!r}; expected at least one")
        return names


def resolve(loaded: LoadedFleet, problems: list[Problem] | None = None) -> list[Member]:
    """Every member, in file order; FleetError (located) when any cannot be resolved, or,
    given ``problems``, the problems appended there (duplicates dropped) to go on with."""
    r = _Resolver(loaded)
    found: list[tuple[Member, Loc]] = []
    ms = loaded.fleet.members
    for i, ex in enumerate(ms.explicit):
        d = r.source(ex, ("members", "list", i))
        if d is not None:
            found.append((_member(d, ex.name), ("members", "list", i)))
    for i, disc in enumerate(ms.discover):
        loc: Loc = ("members", "discover", i)
        d = r.source(disc, loc)
        if d is None:
            continue
        for db in r.query(d, loc, "SELECT datname FROM pg_database WHERE datname LIKE %s "
                                  "AND datallowconn AND NOT datistemplate ORDER BY datname",
                          disc.pattern, disc.exclude):
            found.append((_member(Dsn({**d.params, "dbname": db}, d.schema, d.url_form)), loc))
    for i, sch in enumerate(ms.schemas):
        loc = ("members", "schemas", i)
        d = r.source(sch, loc)
        if d is None:
            continue
        for s in r.query(d, loc, "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s "
                                 "ORDER BY nspname", sch.pattern, sch.exclude):
            found.append((_member(Dsn(dict(d.params), s, d.url_form)), loc))
    seen: dict[str, Loc] = {}
    members: list[Member] = []
    for m, loc in found:
        if m.name in seen:
            r.add(loc, f"duplicate member {m.name!r} (also from {_where(loaded, seen[m.name])}); "
                       f"each member may appear once")
            continue
        seen[m.name] = loc
        members.append(m)
    if problems is not None:
        problems += r.problems
    elif r.problems:
        raise FleetError(r.problems)
    return members


def resolve_waves(loaded: LoadedFleet) -> tuple[list[Member], list[list[Member]]]:
    """Members and waves, every problem of both reported at once (FleetError)."""
    found: list[Problem] = []
    members = resolve(loaded, found)
    try:
        cut = waves(loaded, members) if members else []
    except FleetError as e:
        found += e.problems
    if found:
        found.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise FleetError(found)
    return members, cut


def _where(loaded: LoadedFleet, loc: Loc) -> str:
    p = loaded.problem(loc, "")
    return f"{p.field}, line {p.line}" if p.line else p.field


def waves(loaded: LoadedFleet, members: list[Member]) -> list[list[Member]]:
    """Cut the members into the file's waves. FleetError for an unknown or twice-named
    member, a wave larger than what is left, or members no wave covers."""
    r = _Resolver(loaded)
    by_name = {m.name: m for m in members}
    named: dict[str, int] = {}
    spec = loaded.fleet.waves
    for i, w in enumerate(spec):
        if isinstance(w, list):
            for j, name in enumerate(w):
                if name not in by_name:
                    import difflib

                    close = difflib.get_close_matches(name, list(by_name), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    r.add(("waves", i, j), f"unknown member {name!r}{hint} The fleet has "
                                           f"{len(members)} member(s)")
                elif name in named:
                    r.add(("waves", i, j), f"member {name!r} is already in wave "
                                           f"{named[name] + 1}; each member is in one wave")
                else:
                    named[name] = i
    pool = [m for m in members if m.name not in named]
    out: list[list[Member]] = []
    total = len(members)
    for i, w in enumerate(spec):
        if isinstance(w, list):
            out.append([by_name[n] for n in w if named.get(n) == i])
            continue
        if w == "rest":
            n = len(pool)
        elif isinstance(w, int):
            n = w
        else:
            n = max(1, math.ceil(total * (percent(w) or 0) / 100))
        if n > len(pool):
            r.add(("waves", i), f"wave {i + 1} asks for {n} member(s) ({w!r}), but only "
                                f"{len(pool)} of the fleet's {total} are left for it")
            n = len(pool)
        out.append(pool[:n])
        pool = pool[n:]
    if pool and not r.problems:
        r.add(("waves",), f"the waves cover {total - len(pool)} of the fleet's {total} "
                          f"members; expected them all: end the waves with 'rest'")
    if r.problems:
        raise FleetError(r.problems)
    return [w for w in out if w]
