"""Where every member stands: pure functions from the control tables' rows to a status
table (what ``fleet status`` prints, and what an app view can render) and to JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def _dur(a: Any, b: Any) -> str:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return f"{(b - a).total_seconds():.1f}s"
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
                     _dur(w["started_at"], w["finished_at"]), w.get("message") or ""))
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
                     str(m.get("attempts") or 0), _dur(m.get("started_at"), m.get("finished_at")),
                     (m.get("error") or "").splitlines()[0][:120] if m.get("error") else ""))
    return StatusTable("members", ("member", "wave", "state", "step", "worker host",
                                   "heartbeat", "attempts", "duration", "error"),
                       tuple(rows), f"{len(rows)} member(s)")


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
