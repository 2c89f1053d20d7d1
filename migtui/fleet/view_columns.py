"""The fleet view's tables, fitted to the terminal's width: pure functions from the control
tables' rows to headers and rows that fit without scrolling sideways.

Wide (``WIDE`` columns and more): every column, full headers; the trip, then the worst
gauge, the member's name and its step give way, each down to a minimum. Narrow (an 80-column
terminal): the waves' member counts merge into one column, the trip and the worst gauge
share one (the trip when there is one), the backfill shows its share done, tries are left
out, and the state says no "(trip)" (the trip is beside it); ``fleet status`` and R's
question show everything. Names are shortened in the middle, so the end that tells
tenants apart stays; other text is cut at the end with "…".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from migtui.fleet.status import StatusTable, view_row, wave_table

WIDE = 120  # columns from which every column is shown
SCROLLBAR = 2  # a table's vertical scrollbar, reserved
PAD = 2  # a DataTable cell's padding, left and right


@dataclass(frozen=True)
class Layout:
    headers: tuple[str, ...]
    steps: tuple[tuple[str, int], ...] = ()  # in order: a column gives way down to a size
    middle: tuple[str, ...] = ("member",)  # shortened in the middle (names)


def cut(text: str, width: int, middle: bool = False) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    if middle:
        head = (width - 1) // 2
        return text[:head] + "…" + text[len(text) - (width - 1 - head):]
    return text[:width - 1] + "…"


def fit(layout: Layout, rows: list[tuple[str, ...]], width: int) -> list[tuple[str, ...]]:
    """Rows whose columns (with their padding) fit in ``width``: columns give way step by
    step, each down to the step's size (never below its header)."""
    heads = layout.headers
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]
    over = sum(widths) + PAD * len(heads) - width
    for header, least in layout.steps:
        if over <= 0:
            break
        i = heads.index(header)
        give = min(over, max(0, widths[i] - max(least, len(header))))
        widths[i] -= give
        over -= give
    return [tuple(cut(v, widths[i], heads[i] in layout.middle) for i, v in enumerate(r))
            for r in rows]


MEMBER_WIDE = Layout(("member", "wave", "state", "step", "backfill", "worst gauge", "trip",
                      "tries"),
                     (("trip", 24), ("member", 20), ("worst gauge", 17), ("step", 10),
                      ("trip", 12), ("member", 12), ("worst gauge", 10), ("step", 6)))
MEMBER_NARROW = Layout(("member", "w", "state", "step", "backfill", "gauge / trip"),
                       (("member", 16), ("gauge / trip", 17), ("step", 8), ("member", 12),
                        ("gauge / trip", 10), ("step", 5), ("state", 8), ("member", 8)))


def _share(progress: str) -> str:
    """'1,200/5,000 (24%)' -> '24%'; '1,200 rows' -> '1,200'."""
    if progress.endswith("%)") and "(" in progress:
        return progress[progress.rindex("(") + 1:-1]
    return progress.removesuffix(" rows")


def member_rows(members: list[dict[str, Any]], width: int | None = None) -> StatusTable:
    """Every member with its state, current step, backfill progress, worst gauge and trip,
    fitted to ``width`` (None: every column, nothing shortened)."""
    full = [view_row(m, trip_width=None) for m in members]
    if width is None:
        rows, headers = full, MEMBER_WIDE.headers
    elif width >= WIDE:
        headers, rows = MEMBER_WIDE.headers, fit(MEMBER_WIDE, full, width - SCROLLBAR)
    else:
        # the trip shows in its own column: the state needs no "(trip)"
        narrow = [(r[0], r[1], r[2].removesuffix(" (trip)"), r[3], _share(r[4]), r[6] or r[5])
                  for r in full]
        headers, rows = MEMBER_NARROW.headers, fit(MEMBER_NARROW, narrow, width - SCROLLBAR)
    return StatusTable("members", headers, tuple(rows), f"{len(rows)} member(s)")


WAVE_NARROW = Layout(("wave", "state", "size", "members", "time", "note"),
                     (("note", 12), ("members", 20), ("note", 6), ("members", 12)))


def wave_rows(rollout: dict[str, Any], waves: list[dict[str, Any]],
              members: list[dict[str, Any]], width: int | None = None) -> StatusTable:
    """The ``fleet status`` wave table, fitted to ``width``: narrow, the member counts in
    one column ('3 applied · 1 running · 1 failed')."""
    t = wave_table(rollout, waves, members)
    if width is None:
        return t
    if width >= WIDE:
        wide = Layout(t.headers, (("note", 12),), ())
        return StatusTable(t.title, t.headers, tuple(fit(wide, list(t.rows), width - SCROLLBAR)),
                           t.summary)
    by_wave: dict[int, Counter[str]] = {}
    for m in members:
        by_wave.setdefault(int(m["wave"]), Counter())[m["state"]] += 1
    narrow = []
    for w, r in zip(waves, t.rows, strict=True):
        c = by_wave.get(int(w["n"]), Counter())
        counts = " · ".join(f"{c[s]} {s.replace('_', ' ')}" for s in (
            "applied", "running", "pending", "failed", "rolling_back", "rollback_pending",
            "rolled_back") if c.get(s))
        narrow.append((r[0], r[1], r[2], counts, r[-2], r[-1]))
    return StatusTable(t.title, WAVE_NARROW.headers,
                       tuple(fit(WAVE_NARROW, narrow, width - SCROLLBAR)), t.summary)
