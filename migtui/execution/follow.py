"""Watching another run: its journal read as it grows, and who holds the run.

When another migtui process holds the run lock (a headless run, or the app left behind
in a lost SSH session), the app opens in watch mode. ``JournalFollower`` returns the
journal's new complete records on each ``poll`` (a line still being written waits for
the next poll); ``Holder`` folds them into what the other run is doing: who started it,
when, and the step it is on, or that it is between steps. No Textual.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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

    def apply(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "RunStarted":
            self.operator = str(rec.get("operator", ""))
            self.started = str(rec.get("at", ""))
            self.pid, self.host = int(rec.get("pid") or 0), str(rec.get("host") or "")
            self.running = True
            self.step = self.action = ""
        elif kind == "RunFinished":
            self.running = False
            self.step = ""
        elif kind == "StepStarted":
            self.step = str(rec.get("step_id", ""))
            self.action = str(rec.get("action", ""))
        elif kind in ("StepFinished", "StepFailed") and rec.get("step_id") == self.step:
            self.last_step = self.step
            self.step = ""

    def doing(self) -> str:
        """'running step add_note (apply)', or 'between steps (last: add_note)'."""
        if self.step:
            return f"running step {self.step} ({self.action or 'apply'})"
        if self.last_step:
            return f"between steps (last: {self.last_step})"
        return "between steps"

    def describe(self) -> str:
        if not self.running:
            return "no run in the journal is open"
        who = f"run by {self.operator}" if self.operator else "a run"
        since = f" since {self.started[:19].replace('T', ' ')}" if self.started else ""
        return f"{who}{since}, {self.doing()}"
