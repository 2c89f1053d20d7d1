"""Headless output: one line per event (or JSON lines); a progress bar only on a TTY.

Shared by ``migtui run``, ``rollback``, ``rehearse`` and ``demo --headless``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TextIO

from migtui.events import Event, StepProgress
from migtui.execution.describe import describe, secs, short, threshold_line
from migtui.secrets import scrub, scrub_obj, scrubbed_str

__all__ = ["Printer", "secs", "short", "threshold_line"]


class Printer:
    """Turns events into lines (or JSON lines). A progress bar only on a TTY."""

    def __init__(self, out: TextIO | None = None, as_json: bool = False) -> None:
        self.out = out or sys.stdout
        self.json = as_json
        self.tty = self.out.isatty() and not as_json
        self._bar = False
        self._closed = False

    def __call__(self, e: Event) -> None:
        if self.json:
            self._write(json.dumps(scrub_obj(e.to_record()), default=scrubbed_str,
                                   ensure_ascii=False))
            return
        if isinstance(e, StepProgress) and self.tty:
            total = e.total or 0
            frac = min(1.0, e.done / total) if total else 0.0
            bar = "█" * int(frac * 30) + "·" * (30 - int(frac * 30))
            line = (f"\r  {e.step_id} {bar} {e.done}/{total or '?'} rows  "
                    f"{e.rate:,.0f}/s  ETA {secs(e.eta)}"
                    + (f"  (limited by {e.limited_by})" if e.limited_by
                       else f"  (throttled: {e.throttled})" if e.throttled else ""))
            if not self._closed:
                self.out.write(scrub(line))
                self.out.flush()
                self._bar = True
            return
        line = self.line(e)
        if line is not None:
            self._write(line)

    def _write(self, line: str) -> None:
        if self._closed:
            return
        try:
            if self._bar:
                self.out.write("\n")
                self._bar = False
            self.out.write(scrub(line) + "\n")
            self.out.flush()
        except BrokenPipeError:  # e.g. piped into head: keep running, stop printing
            self._closed = True
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())

    def line(self, e: Event) -> str | None:
        """The event's text, worded as in the app's log (``execution.describe``)."""
        return describe(e)
