"""Watching another run: its journal read as it grows, and who holds the run.

When another migtui process holds the run lock (a headless run, or the app left behind
in a lost SSH session), the app opens in watch mode. ``JournalFollower`` returns the
journal's new complete records on each ``poll`` (a line still being written waits for
the next poll); ``Holder`` folds them into what the other run is doing: who started it,
when, and the step it is on and for how long, or how long no step has run. No Textual.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migtui.fmt import duration


class JournalFollower:
    def __init__(self, path: str | Path, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset  # bytes of complete lines read so far

    def poll(self) -> list[dict[str, Any]]:
        """The records appended since the last poll (complete lines only). A journal
        that shrank (it was replaced) is read again from its start."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out: list[dict[str, Any]] = []
        for line in data[:end].splitlines():
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a torn line from a crash: skipped, as read_journal does
            if isinstance(rec, dict):
                out.append(rec)
        return out


@dataclass
class Holder:
    """The other run, as its journal tells it."""

    operator: str = ""
    started: str = ""  # RunStarted's time (ISO)
    step: str = ""  # the step it is running ("" between steps)
    action: str = ""
    last_step: str = ""  # the step it finished last
    running: bool = False  # a RunStarted without its RunFinished
    pid: int = 0  # its migtui process, and the machine it runs on (from RunStarted)
    host: str = ""
    since: dt.datetime | None = None  # when the current step started, or the last ended

    def apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        at = _when(rec.get("at"))
        if kind == "RunStarted":
            self.operator = str(rec.get("operator", ""))
            self.started = str(rec.get("at", ""))
            self.pid, self.host = int(rec.get("pid") or 0), str(rec.get("host") or "")
            self.running = True
            self.step = self.action = ""
            self.since = at
        elif kind == "RunFinished":
            self.running = False
            self.step = ""
            self.since = None
        elif kind == "StepStarted":
            self.step = str(rec.get("step_id", ""))
            self.action = str(rec.get("action", ""))
            self.since = at
        elif kind in ("StepFinished", "StepFailed") and rec.get("step_id") == self.step:
            self.last_step = self.step
            self.step = ""
            self.since = at

    def doing(self, now: dt.datetime | None = None) -> str:
        """'running step add_note (apply) for 1m05s', or 'no step running for 3m12s (last:
        add_note)': an app left open after a step holds the lock as a run between steps
        does, so it is not called "between steps". Without ``now``, no durations."""
        took = ""
        if now is not None and self.since is not None:
            took = f" for {duration(max(0.0, (now - self.since).total_seconds()))}"
        if self.step:
            return f"running step {self.step} ({self.action or 'apply'}){took}"
        last = f" (last: {self.last_step})" if self.last_step else ""
        return f"no step running{took}{last}"

    def describe(self, now: dt.datetime | None = None) -> str:
        if not self.running:
            return "no run in the journal is open"
        who = f"run by {self.operator}" if self.operator else "a run"
        since = f" since {self.started[:19].replace('T', ' ')}" if self.started else ""
        return f"{who}{since}, {self.doing(now)}"


def _when(at: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(at)) if at else None
    except ValueError:
        return None
