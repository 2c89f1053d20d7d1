"""Is the database there? The gauges' view of the connection, folded from the sampler's
snapshots. No Textual: the app's header, gauges and trip banner read it.

A snapshot that failed because the connection is gone (``Snapshot.unreachable``) starts
(or continues) a loss: since when, and how many reconnection tries so far (the sampler
backs off between them). The first good snapshot ends it. ``R`` is never offered while the
connection is lost: nothing could roll back, and the screen says what happens when it
returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from migtui.sampler import Snapshot


@dataclass
class Link:
    lost_since: dt.datetime | None = None  # the first failed sample of this loss
    tries: int = 0  # failed samples (reconnection tries) since then
    last_ok: dt.datetime | None = None  # when the last good sample was taken
    error: str = ""

    @property
    def lost(self) -> bool:
        return self.lost_since is not None

    def observe(self, snap: Snapshot) -> bool:
        """Fold one snapshot; True when the connection was lost or came back."""
        if snap.unreachable:
            was = self.lost
            if not was:
                self.lost_since = snap.taken_at
            self.tries += 1
            self.error = snap.error or ""
            return not was
        if snap.error:
            return False  # a failed query, not a lost connection
        was = self.lost
        self.lost_since = None
        self.tries = 0
        self.error = ""
        self.last_ok = snap.taken_at
        return was

    def age(self, now: dt.datetime) -> float | None:
        """Seconds since the last good sample (None before the first)."""
        if self.last_ok is None:
            return None
        return max(0.0, (now - self.last_ok).total_seconds())

    def text(self, hms: Callable[[dt.datetime], str]) -> str:
        """'connection lost since 12:03:04, reconnecting (try 3)'; 'database not reached
        since …' when no sample ever succeeded; "" while connected."""
        if self.lost_since is None:
            return ""
        if self.last_ok is None:  # never connected: nothing was lost
            return (f"database not reached since {hms(self.lost_since)}, trying again "
                    f"(try {self.tries})")
        return f"connection lost since {hms(self.lost_since)}, reconnecting (try {self.tries})"
