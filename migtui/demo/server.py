"""The demo's database: an embedded PostgreSQL with the shop, kept between runs, and a
streaming standby of it (when asked, and the server is the embedded one), so replica lag
shows next to latency and the backfill visibly yields to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from migtui.demo.data import create_shop
from migtui.embedded import EmbeddedError, EmbeddedPostgres, default_home
from migtui.standby import EmbeddedStandby

DEMO_DB = "shop"
SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "max_connections": "50",
    "superuser_reserved_connections": "3",
    "log_min_messages": "warning",
}


@dataclass
class DemoDatabase:
    """Starts the embedded server (unless a DSN is given) and makes sure the shop exists."""

    dsn: str | None = None
    home: Path = field(default_factory=default_home)
    orders: int = 1_000_000
    customers: int = 20_000
    server: EmbeddedPostgres | None = None
    standby: bool = False  # start a streaming standby (embedded server only)
    replica: EmbeddedStandby | None = None

    def start(self, progress: object = print) -> str:
        say = progress if callable(progress) else (lambda *_: None)
        if self.dsn is None:
            self.server = EmbeddedPostgres(name="demo", home=self.home, settings=SETTINGS)
            say("starting the embedded PostgreSQL …")
            admin = self.server.start()
            with psycopg.connect(admin, autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (DEMO_DB,)).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DB)))
            url = self.server.uri(DEMO_DB)
        else:
            url = self.dsn
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            have = conn.execute("SELECT to_regclass('public.orders') IS NOT NULL").fetchone()
        if not (have and have[0]):
            say(f"creating the shop database ({self.orders:,} orders; kept for next time) …")
        counts = create_shop(url, customers=self.customers, orders=self.orders)
        say(f"shop ready: {counts['customers']:,} customers, {counts['orders']:,} orders, "
            f"{counts['order_items']:,} order items")
        if self.standby and self.server is not None:
            self._start_standby(say)
        return url

    def _start_standby(self, say: object) -> None:
        """A standby kept between runs; rebuilt once when it cannot stream (a new primary).
        On a machine that cannot run one, the demo goes on without it and says why."""
        tell = say if callable(say) else (lambda *_: None)
        tell("starting a streaming standby (--no-standby skips it) …")
        for attempt in (1, 2):
            self.replica = EmbeddedStandby(name="demo-standby", home=self.home,
                                           primary=self.server)
            try:
                self.replica.start()
                self.replica.wait_streaming(60)
                tell("standby streaming: the Replication Lag gauge watches it")
                return
            except EmbeddedError as e:
                self.replica.destroy()
                self.replica = None
                if attempt == 2:
                    tell(f"no standby, the demo goes on without it: {e}")

    def stop(self) -> None:
        if self.replica is not None:
            self.replica.stop()
        if self.server is not None:
            self.server.stop()
