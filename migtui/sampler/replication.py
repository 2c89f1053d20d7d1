"""Replication gauges: standbys' lag, WAL retained by slots, and the WAL rate, in one query.

* ``pg_stat_replication``: per standby, ``replay_lag`` and the bytes its replay is behind
  (``pg_wal_lsn_diff``). On an idle primary the lag columns go NULL: that is lag 0 for a
  streaming standby, not an error. A standby seen earlier that is no longer listed is
  reported as ``gone`` (its lag unknown), never as lag 0.
* ``pg_replication_slots``: the bytes of WAL each slot (physical or logical) holds back
  from its ``restart_lsn``. A CDC consumer that falls behind a backfill shows here.
* The WAL position (``pg_current_wal_lsn``, or the replay position on a standby) gives
  bytes of WAL per second over the rate window.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import psycopg

from migtui.sampler.snapshot import SlotRetention, Standby

TAG = "/* migtui-sampler */"

QUERY = f"""WITH w AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                  ELSE pg_current_wal_lsn() END AS lsn)
SELECT {TAG} pg_wal_lsn_diff(w.lsn, '0/0')::float8,
  (SELECT coalesce(json_agg(json_build_array(
          coalesce(r.application_name, ''), host(r.client_addr), r.pid, r.state,
          extract(epoch FROM r.replay_lag), pg_wal_lsn_diff(w.lsn, r.replay_lsn))), '[]')
     FROM pg_stat_replication r),
  (SELECT coalesce(json_agg(json_build_array(
          s.slot_name, s.slot_type, s.active, pg_wal_lsn_diff(w.lsn, s.restart_lsn))), '[]')
     FROM pg_replication_slots s)
FROM w"""


class ReplicationReader:
    """Keeps the standbys seen so far (to tell "gone" from "idle") and the WAL positions."""

    def __init__(self, rate_window: float = 5.0) -> None:
        self.rate_window = rate_window
        self._wal: deque[tuple[float, float]] = deque()
        self._seen: set[str] = set()
        self.note = ""  # why part of it cannot be read, said once per connection

    def connect(self, privileged: bool) -> None:
        self._wal.clear()
        self.note = "" if privileged else (
            "replication lag: pg_read_all_stats needed to read the standbys' rows of "
            "pg_stat_replication")

    def read(self, conn: psycopg.Connection[Any], mono: float) -> dict[str, Any]:
        row = conn.execute(QUERY).fetchone()
        if row is None or row[0] is None:
            return {}
        position, standbys, slots = float(row[0]), row[1] or [], row[2] or []
        out: dict[str, Any] = {}
        out.update(self._wal_rate(mono, position))
        out.update(self._standbys(standbys))
        out.update(self._slots(slots))
        return out

    def _wal_rate(self, mono: float, position: float) -> dict[str, Any]:
        if self._wal and position < self._wal[-1][1]:  # a different server (failover)
            self._wal.clear()
        self._wal.append((mono, position))
        while len(self._wal) > 2 and self._wal[1][0] <= mono - self.rate_window:
            self._wal.popleft()
        t0, p0 = self._wal[0]
        if mono <= t0:
            return {}
        return {"wal_bytes_per_sec": max(0.0, position - p0) / (mono - t0)}

    def _standbys(self, rows: list[list[Any]]) -> dict[str, Any]:
        names = [f"{app or 'standby'}@{addr or 'local'}" for app, addr, *_ in rows]
        now: list[Standby] = []
        for (_app, _addr, pid, state, lag, behind), name in zip(rows, names, strict=True):
            if names.count(name) > 1:
                name = f"{name}#{pid}"
            if state is None:  # another user's row, unprivileged: nothing to read
                now.append(Standby(name, "unknown"))
                continue
            # NULL lag on a streaming standby: the primary is idle and it has caught up
            seconds = float(lag) if lag is not None else (0.0 if state == "streaming" else None)
            now.append(Standby(name, str(state), seconds,
                               None if behind is None else max(0, int(behind))))
        current = {s.name for s in now}
        gone = [Standby(n, "gone") for n in sorted(self._seen - current)]
        self._seen |= current
        lags = [s.replay_lag for s in now if s.replay_lag is not None]
        behind_all = [s.bytes_behind for s in now if s.bytes_behind is not None]
        return {"standbys": tuple(now + gone),
                "replication_lag": max(lags) if lags else None,
                "replication_bytes": max(behind_all) if behind_all else None}

    @staticmethod
    def _slots(rows: list[list[Any]]) -> dict[str, Any]:
        slots = tuple(SlotRetention(str(name), str(kind), bool(active),
                                    None if kept is None else max(0, int(kept)))
                      for name, kind, active, kept in rows)
        kept_all = [s.retained for s in slots if s.retained is not None]
        return {"slots": slots, "slot_retained_bytes": max(kept_all) if kept_all else None}

    def notes(self, snap: dict[str, Any]) -> list[str]:
        notes = [self.note] if self.note else []
        gone = [s.name for s in snap.get("standbys", ()) if s.state == "gone"]
        if gone:
            notes.append("standby gone: " + ", ".join(gone))
        return notes
