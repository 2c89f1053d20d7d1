"""The main screen's top line: what runs, where, and whether that is production."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rich.text import Text

from migtui.execution.session import Session
from migtui.tui.model import short


@dataclass(frozen=True)
class Activity:
    """What the screen is doing, for the header."""

    job: str | None = None
    rolling_back: bool = False
    rehearsal_stage: str = ""  # "3/9 rollback" while a rehearsal runs
    paused: bool = False
    pause_reason: str = ""
    watching: str = ""  # watch mode: who holds the plan and what it does

    def text(self) -> str:
        if self.watching:
            return "WATCHING"
        if self.rolling_back:
            return "ROLLING BACK"
        if self.rehearsal_stage:
            return f"REHEARSING {self.rehearsal_stage}"
        if self.job is None:
            return "idle"
        if self.paused:
            return f"PAUSED ({self.pause_reason})"
        return f"running: {self.job}"


@functools.lru_cache(maxsize=8)
def where(display_dsn: str) -> str:
    """user@host:port/db whatever form the DSN was given in (a URL, a keyword string), the
    password never shown; a Unix socket as "user@/db (socket)". Kept: the header is redrawn
    every second, the DSN parsed once."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        d = {k: str(v) for k, v in conninfo_to_dict(display_dsn).items() if v is not None}
    except Exception:  # noqa: BLE001 - shown as given (it is already redacted)
        return display_dsn.split("://", 1)[-1]
    for key, value in _libpq_defaults().items():  # PGHOST, PGUSER, PGPORT, as libpq does
        if value and not d.get(key):
            d[key] = value
    user = f"{d['user']}@" if d.get("user") else ""
    host = d.get("host", "")
    db = d.get("dbname", "")
    if len(user) + len(host) + len(db) > 28:  # a long line: the database and host matter
        user = ""
    if not host or host.startswith("/"):
        return f"{user}/{db} (socket)"
    port = f":{d['port']}" if d.get("port") and (
        d["port"] != "5432" or len(host) + len(db) <= 28) else ""
    schema = ""
    if "options" in d and "search_path=" in d["options"]:
        schema = " schema " + d["options"].split("search_path=", 1)[1].split()[0]
    return f"{user}{host}{port}/{db}{schema}"


def _libpq_defaults() -> dict[str, str]:
    """What libpq connects with when the string leaves host, port or user out: the PG*
    environment (a bare "shop" with PGHOST=10.0.0.5 is on 10.0.0.5, not the socket)."""
    try:
        from psycopg import pq

        found = {o.keyword.decode(): o.val.decode() for o in pq.Conninfo.get_defaults()
                 if o.val is not None}
    except Exception:  # noqa: BLE001 - no defaults known: the string as given
        return {}
    return {k: found[k] for k in ("host", "port", "user") if k in found}


def header(session: Session, activity: Activity, rehearsal: str, *, demo: bool = False,
           lost: str = "") -> Text:
    """The top line, most important first, so a narrow terminal cuts only the tail:
    PRODUCTION or DEMO, where (host and database; a database that is not the target's; or
    since when the connection is lost), the run state, the target, the rehearsal, the
    title. At 80 columns a running step on production still shows which database."""
    plan = session.plan
    t = Text(no_wrap=True, overflow="ellipsis")
    state = short(activity.text(), 34)
    t.append(" migtui ", style="bold reverse")
    env = plan.targets[session.target].environment.value if session.target in plan.targets \
        else "?"
    if env == "production":
        t.append(" PRODUCTION ", style="bold reverse red")
    if demo:
        t.append(" DEMO ", style="bold reverse magenta")
    mismatch = session.database_mismatch
    if mismatch:  # it names the target and both databases: said before anything else
        t.append(" ")
        t.append(f" ✗ {mismatch} ", style="bold reverse red")
    elif lost:  # since when, then which database (80 columns cut the latter first)
        t.append(" ")
        t.append(f" {lost} ", style="bold reverse red")
        t.append(f" {where(session.display_dsn)} ", style="bold red")
    elif session.online or session.watching is not None:
        t.append(f" {where(session.display_dsn)} ", style="bold")
    else:
        t.append(" no database ", style="yellow")
    t.append(f" {state} ", style="bold reverse yellow" if state != "idle" else "green")
    if activity.watching:  # whose run this is
        t.append(f" {activity.watching} ", style="bold yellow")
    if not mismatch:
        t.append(f" {session.target}", style="bold" if env != "production" else "")
        if env != "production":
            t.append(f" ({env})", style="dim")
    if rehearsal:
        t.append(" · rehearsal ")
        t.append(rehearsal, style={"ok": "bold green", "failed": "bold red"}.get(
            rehearsal, "yellow"))
    t.append(f" · {plan.title}", style="dim")
    return t
