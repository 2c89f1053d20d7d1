"""How migtui writes durations, sizes, row counts and shortened text: one place for all.

Each duration format has one purpose, and its output is part of what operators (and the
tests) read, so they stay distinct:

- ``duration``: an elapsed time or an ETA on screen and in the printer (``1.5s``, ``2m05s``,
  ``1h02m``);
- ``duration_setting``: a plan setting, written back the way the plan reads it (``250ms``,
  ``90s``, ``5m``);
- ``duration_short``: a pacing figure, a fraction of a second to seconds (``250 ms``, ``1.5 s``);
- ``duration_estimate``: a rough estimate (``<1 s``, ``~90 s``, ``~5 min``, ``~1.5 h``);
- ``duration_report``: a rehearsal report's measured time (``0.25s``, ``12s``, ``1.5min``);
- ``duration_document``: a length of time in the Markdown report (``5.9s``, ``12s``,
  ``2m 13s``, ``1h 02m``);
- ``duration_gauge``: a gauge's time (latency, lock wait, lag) next to its limit
  (``0.5ms``, ``16ms``, ``1.5s``).

Imports nothing from migtui but ``secrets`` (messages are scrubbed of passwords).
"""

from __future__ import annotations

from typing import Any

from migtui import secrets


def shorten(text: str | None, width: int = 80) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``width`` with …"""
    one = " ".join((text or "").split())
    return one if len(one) <= width else one[: width - 1] + "…"


def shorten_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` with … in the middle: ids that share a prefix keep the end
    that tells them apart (``backfill_cu…_part_2``)."""
    if len(text) <= width:
        return text
    keep = max(0, width - 1)
    tail = keep // 2
    return text[:keep - tail] + "…" + (text[len(text) - tail:] if tail else "")


def quoted(value: Any, width: int = 60) -> str:
    """``repr(value)``, cut to ``width`` with ... (for "found ..." in error messages)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def first_line(error: BaseException | str) -> str:
    """The first line of an error (or text), secrets scrubbed; the type's name if empty."""
    lines = str(error).strip().splitlines()
    if lines:
        return secrets.scrub(lines[0])
    return secrets.scrub(type(error).__name__ if isinstance(error, BaseException) else "")


def duration(s: float) -> str:
    """An elapsed time: ``1.5s`` under a minute, ``2m05s`` under an hour, then ``1h02m``."""
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def duration_setting(seconds: float) -> str:
    """A plan's duration setting as the plan writes it: ``250ms``, ``90s``, ``5m``."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"


def duration_short(v: float) -> str:
    """A short interval: ``250 ms`` under a second, else ``1.5 s``."""
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"


def duration_estimate(s: float) -> str:
    """A rough estimate: ``<1 s``, ``~90 s``, ``~5 min``, ``~1.5 h``."""
    if s < 1:
        return "<1 s"
    if s < 120:
        return f"~{s:.0f} s"
    if s < 7200:
        return f"~{s / 60:.0f} min"
    return f"~{s / 3600:.1f} h"


def duration_report(s: float) -> str:
    """A measured time in a report: ``0.25s``, ``12s``, ``1.5min``, ``2.0h``."""
    if s < 10:
        return f"{s:.2f}s"
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.1f}min"
    return f"{s / 3600:.1f}h"


def duration_document(s: float) -> str:
    """A length of time in the Markdown report: ``5.9s`` under 10 s, ``12s``, ``2m 13s``,
    ``1h 02m`` (a run's length in the Communication Log, a rehearsal's in the Timeline)."""
    whole = int(round(s))
    if whole < 60:
        return f"{s:.1f}s" if s < 10 else f"{whole}s"
    m, sec = divmod(whole, 60)
    return f"{m}m {sec:02d}s" if m < 60 else f"{m // 60}h {m % 60:02d}m"


def duration_gauge(s: float) -> str:
    """A gauge's time: ``0.5ms`` under 10 ms, ``16ms`` under a second, else ``1.5s``."""
    if s < 0.01:
        return f"{s * 1000:.1f}ms"
    return f"{s * 1000:.0f}ms" if s < 1 else f"{s:.1f}s"


def rows(n: int) -> str:
    """A row count in three significant figures: ``950``, ``12.3k``, ``4.5M``, ``1.2G``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def rows_counted(n: int | None) -> str:
    """Rows a step touched: exact under a million (``12,345``), then as ``rows`` (``1.2M``);
    "" when unknown."""
    if n is None:
        return ""
    return f"{n:,}" if abs(n) < 1_000_000 else rows(n)


def size(n: float) -> str:
    """A size in bytes: ``512 B``, ``12 kB``, ``3.4 MB`` ... ``1.2 TB`` (powers of 1024)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit in ("B", "kB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
