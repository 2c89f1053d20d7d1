"""Headless output: one line per event (or JSON lines); a progress bar only on a TTY.

Shared by ``migtui run``, ``rollback``, ``rehearse`` and ``demo --headless``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TextIO

from migtui.events import (
    BaselineRecorded,
    Event,
    ItemFailed,
    ItemSkipped,
    ItemTicked,
    NoteAdded,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StatementStarted,
    StepFailed,
    StepFinished,
    StepOutput,
    StepPaused,
    StepProgress,
    StepResumed,
    StepRetried,
    StepSkipped,
    StepStarted,
    ThresholdChanged,
)
from migtui.sampler import format_value
from migtui.secrets import scrub, scrub_obj, scrubbed_str
from migtui.watch import trip_text


def short(text: str | None, width: int = 100) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= width else one[: width - 1] + "…"


def secs(s: float | None) -> str:
    if s is None:
        return "?"
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


_BASELINE_SHOWN = ("latency", "error_rate", "connection_pool", "tps")
_STATE_MARK = {"ok": "✓", "warn": "⚠", "trip": "⛔", "inactive": "·"}


def threshold_line(e: ThresholdChanged) -> str:
    mark = _STATE_MARK.get(e.state, "?")
    if e.state == "trip":
        return f"{mark} TRIP {trip_text(e)} — policy {e.policy or 'offer'}"
    if e.state == "warn":
        base = (f", baseline {format_value(e.metric, e.baseline)}"
                if e.baseline is not None else "")
        return (f"{mark} {e.metric} warn: {format_value(e.metric, e.value)} over "
                f"{format_value(e.metric, e.limit)} ({e.threshold}{base})")
    return f"{mark} {e.metric} back to {e.state} ({format_value(e.metric, e.value)})"


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
                    + (f"  (throttled: {e.throttled})" if e.throttled else ""))
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

    def line(self, e: Event) -> str | None:  # noqa: C901 - one branch per event type
        match e:
            case RunStarted():
                mode = " (dry run)" if e.dry_run else ""
                return (f"run {e.plan_id} on target {e.target} (database {e.database}) "
                        f"by {e.operator}{mode}")
            case StepStarted():
                n = f", {e.statements} statement(s)" if e.step_kind == "sql" else ""
                return f"▶ {e.action} {e.step_id} ({e.step_kind}{n})"
            case StatementStarted():
                mode = "autocommit" if e.autocommit else "in transaction"
                return f"    {e.index + 1}. [{mode}; lock {e.lock}] {short(e.sql)}"
            case StepProgress():
                total = e.total if e.total is not None else "?"
                thr = f", throttled: {e.throttled}" if e.throttled else ""
                return (f"    {e.step_id}: {e.done}/{total} rows, {e.rate:,.0f} rows/s, "
                        f"ETA {secs(e.eta)}, batch {e.batch_size}{thr}")
            case StepRetried():
                return (f"    ↻ {e.step_id}: retry {e.attempt}/{e.of} in {e.delay:.2f}s — "
                        f"{e.reason}")
            case StepFinished():
                verb = "applied" if e.action == "apply" else "rolled back"
                rows = f", {e.rows} rows" if e.rows else ""
                res = f" — {e.result}" if e.result else ""
                retr = f", {e.retries} retries" if e.retries else ""
                return f"✓ {e.step_id} {verb} in {secs(e.elapsed)}{rows}{retr}{res}"
            case StepFailed():
                st = f"\n    statement: {short(e.statement, 200)}" if e.statement else ""
                code = f" [SQLSTATE {e.sqlstate}]" if e.sqlstate else ""
                return f"✗ {e.step_id} {e.action} failed: {e.error}{code}{st}"
            case StepSkipped():
                return f"- {e.step_id} skipped: {e.reason}"
            case StepPaused():
                return f"⏸ {e.step_id} paused: {e.reason}"
            case StepResumed():
                return f"▶ {e.step_id} resumed"
            case StepOutput():
                lines = [ln for ln in e.text.splitlines() if ln.strip()][-10:]
                body = "".join(f"\n    | {ln}" for ln in lines)
                return f"    output of {e.step_id} (exit {e.exit_code}):{body or ' (none)'}"
            case RollbackStarted():
                return f"↺ rollback of {', '.join(e.steps) or 'nothing'} — {e.reason}"
            case RollbackFinished():
                return f"↺ rollback {'finished' if e.ok else 'stopped'}: {e.message}"
            case NoteAdded():
                return f"  note: {e.text}"
            case ItemTicked():
                return f"☑ {e.item}: {e.evidence}"
            case ItemSkipped():
                return f"☐ {e.item} skipped: {e.reason}"
            case ItemFailed():
                return f"☒ {e.item} failed: {e.error}"
            case BaselineRecorded():
                parts = [f"{m} {format_value(m, v.get('median'))}"
                         for m, v in e.metrics.items() if m in _BASELINE_SHOWN]
                return f"◆ baseline ({e.seconds:g}s, medians): {', '.join(parts)}"
            case ThresholdChanged():
                return threshold_line(e)
            case RunFinished():
                return f"{e.outcome}: {e.message}"
        return None
