"""Where every member stands: pure functions from the control tables' rows to a status
table (what ``fleet status`` prints, and what an app view can render) and to JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from migtui.fmt import duration, shorten

MEMBER_STATES = ("pending", "running", "applied", "failed", "rollback_pending", "rolling_back",
                 "rolled_back")


@dataclass(frozen=True)
class StatusTable:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    summary: str


def _ts(v: Any) -> str:
    return v.strftime("%H:%M:%S") if isinstance(v, datetime) else ""


def elapsed(a: Any, b: Any) -> str:
    """How long from ``a`` to ``b`` (``fmt.duration``); "" unless both are times."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return duration((b - a).total_seconds())
    return ""


def wave_table(rollout: dict[str, Any], waves: list[dict[str, Any]],
               members: list[dict[str, Any]]) -> StatusTable:
    """One row per wave: its state and how many members are in each state."""
    by_wave: dict[int, Counter[str]] = {}
    for m in members:
        by_wave.setdefault(int(m["wave"]), Counter())[m["state"]] += 1
    rows = []
    for w in waves:
        c = by_wave.get(int(w["n"]), Counter())
        rows.append((str(w["n"]), w["state"], str(w["size"]),
                     *(str(c.get(s, 0)) for s in ("applied", "running", "pending", "failed",
                                                  "rolled_back")),
                     elapsed(w["started_at"], w["finished_at"]), w.get("message") or ""))
    total = Counter(m["state"] for m in members)
    summary = ", ".join(f"{total[s]} {s}" for s in MEMBER_STATES if total.get(s))
    return StatusTable(
        f"rollout {rollout['id']}: {rollout['state']}"
        + (f" — {rollout['message']}" if rollout.get("message") else ""),
        ("wave", "state", "size", "applied", "running", "pending", "failed", "rolled back",
         "duration", "note"), tuple(rows), summary or "no members")


def member_table(members: list[dict[str, Any]], only: set[str] | None = None) -> StatusTable:
    """One row per member (or only those in the given states)."""
    rows = []
    for m in members:
        if only is not None and m["state"] not in only:
            continue
        state = m["state"] + (" (worker silent)" if m.get("stale") and m["state"] in (
            "running", "rolling_back") else "")
        rows.append((m["name"], str(m["wave"]), state, m.get("step") or "",
                     (m.get("worker") or "").split(":")[0], _ts(m.get("heartbeat")),
                     str(m.get("attempts") or 0), elapsed(m.get("started_at"),
                                                          m.get("finished_at")),
                     shorten(m["error"].splitlines()[0], 120) if m.get("error") else ""))
    return StatusTable("members", ("member", "wave", "state", "step", "worker host",
                                   "heartbeat", "attempts", "duration", "error"),
                       tuple(rows), f"{len(rows)} member(s)")


TRIP_WIDTH = 48  # the trip's text in the view's column; R's question shows all of it
VIEW_HEADERS = ("member", "wave", "state", "step", "backfill", "worst gauge", "trip", "tries")


def trip_of(m: dict[str, Any]) -> str:
    """The gauge trip that failed a member (the worker records it as 'tripped: ...')."""
    err = m.get("error") or ""
    return err.removeprefix("tripped: ").split("; ")[0] if err.startswith("tripped: ") else ""


def view_row(m: dict[str, Any], trip_width: int | None = TRIP_WIDTH) -> tuple[str, ...]:
    """One member as the app's fleet view shows it (keyed by its name, updated in place);
    the trip cut to ``trip_width`` (None: whole)."""
    trip = trip_of(m)
    state = m["state"] + (" (silent)" if m.get("stale") and m["state"] in (
        "running", "rolling_back") else " (trip)" if trip else "")
    active = m["state"] in ("running", "rolling_back")
    return (m["name"], str(m["wave"]), state, m.get("step") or "",
            (m.get("progress") or "") if active else "", m.get("gauge") or "",
            trip if trip_width is None else shorten(trip, trip_width),
            str(m.get("attempts") or 0))


def gate_text(waves: list[dict[str, Any]], now: datetime | None,
              rollout_state: str = "running", message: str | None = None) -> str:
    """The gate countdown: the soaking wave and how long until the next one may start."""
    if rollout_state == "failed":
        return f"gate: closed — {message or 'the rollout stopped'} (fleet resume retries it)"
    if rollout_state == "paused":
        return f"gate: held — {message or 'the rollout is paused'} (fleet resume continues it)"
    if rollout_state == "done":
        return "gate: every wave passed"
    for w in waves:
        if w["state"] == "soaking" and isinstance(w.get("gate_until"), datetime):
            left = max(0, int((w["gate_until"] - now).total_seconds())) if now else 0
            nxt = next((x["n"] for x in waves if x["n"] > w["n"]), None)
            then = f"wave {nxt} starts" if nxt is not None else "the rollout is done"
            note = (w.get("message") or "").removeprefix("soaking: ")
            return (f"gate: wave {w['n']} soaking, {then} in {left // 60}m {left % 60:02d}s"
                    + (f" · {note}" if note else ""))
    running = [w["n"] for w in waves if w["state"] == "running"]
    if running:
        return f"gate: wave {running[0]} running; its gate opens when every member is applied"
    return "gate: no wave waiting"


def render(table: StatusTable) -> str:
    """Plain text, aligned columns."""
    widths = [len(h) for h in table.headers]
    for r in table.rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(table.headers, widths, strict=True))
    out = [table.title, line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in table.rows]
    out.append(table.summary)
    return "\n".join(out)


def as_json(rollout: dict[str, Any], waves: list[dict[str, Any]],
            members: list[dict[str, Any]], workers: list[dict[str, Any]]) -> dict[str, Any]:
    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}

    return {"rollout": clean(rollout), "waves": [clean(w) for w in waves],
            "members": [clean(m) for m in members], "workers": [clean(w) for w in workers],
            "counts": dict(Counter(m["state"] for m in members))}
