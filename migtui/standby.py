"""A streaming standby of an embedded server, made with the wheel's own ``pg_basebackup``,
so replication can be tested (and demonstrated) on a fresh machine.

    primary = EmbeddedPostgres("p", settings={"wal_level": "logical"})
    primary.start()
    standby = EmbeddedStandby("s", primary=primary)
    standby.start()            # base backup, standby.signal, primary_conninfo; then streams
    standby.wait_streaming()   # until pg_stat_replication on the primary lists it

Like the primary, it listens on a Unix socket only (its own directory, so the two never
collide) and, as root, runs as the unprivileged server user, owning its data directory.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psycopg

from migtui.embedded import EmbeddedError, EmbeddedPostgres


@dataclass
class EmbeddedStandby(EmbeddedPostgres):
    """A hot standby streaming from ``primary`` (which must be running)."""

    primary: EmbeddedPostgres | None = None
    slot: str | None = None  # a physical slot on the primary to stream through (created)

    @property
    def application_name(self) -> str:
        return f"standby-{self.name}"

    def start(self) -> str:
        if self.primary is None:
            raise EmbeddedError("a standby needs its primary")
        self._prepare()
        if not (self.data / "PG_VERSION").exists():
            self._base_backup()
        return super().start()

    def _base_backup(self) -> None:
        assert self.primary is not None
        primary_sock = self.primary.sock
        self.data.mkdir(mode=0o700, exist_ok=True)
        if self._user is not None:
            os.chown(self.data, self._user.pw_uid, self._user.pw_gid)
        conninfo = (f"host={primary_sock} user=postgres "
                    f"application_name={self.application_name}")
        args = [str(self.bin / "pg_basebackup"), "-D", str(self.data), "-d", conninfo,
                "-X", "stream", "-c", "fast", "--no-sync", "-R"]
        if self.slot:
            args += ["-S", self.slot, "-C"]
        self._run(args, timeout=120)
        # -R wrote standby.signal and primary_conninfo; say the rest explicitly
        auto = self.data / "postgresql.auto.conf"
        with auto.open("a") as f:
            f.write(f"primary_conninfo = '{conninfo}'\nhot_standby = on\n")
            if self.slot:
                f.write(f"primary_slot_name = '{self.slot}'\n")

    def wait_streaming(self, timeout: float = 30.0) -> None:
        """Until the primary lists this standby as streaming."""
        assert self.primary is not None
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.primary.uri(), autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT state FROM pg_stat_replication "
                                   "WHERE application_name = %s",
                                   (self.application_name,)).fetchone()
                if row and row[0] == "streaming":
                    return
                if time.monotonic() > deadline:
                    raise EmbeddedError(f"standby {self.name} is not streaming after "
                                        f"{timeout:g}s (see {self.log})")
                time.sleep(0.1)
