"""The report's Communication Log and its outcome summary.

The people's entries (the plan's ``communication`` and the journal's communication notes)
keep a heading each. What migtui logged — runs, steps, trips, rollbacks, run notes — is
grouped: one heading per run, its first line the run's outcome (what ran, what tripped,
what was rolled back, how long), then a compact list with the time of each entry. Log
entries outside any run are grouped the same way.

Every entry's body is written verbatim and the importer reads it back verbatim, so an
imported report exports the same: the summary at the top and the session date are
derived from the log's run headlines, wherever they come from (journal or plan).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from migtui.fmt import duration_document
from migtui.plan.model import Plan
from migtui.sampler.snapshot import format_value
from migtui.state import RunState

TRIPPED = "Rollback trigger tripped: "
RUN_HEADLINE = "Run on target "
_TRIPPED_RE = re.compile(re.escape(TRIPPED) + r"(.+?) at ")


def parse_ts(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        d = value
    else:
        try:
            d = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return d.astimezone(dt.UTC) if d.tzinfo is not None else d


def ts(value: Any) -> str:
    d = parse_ts(value)
    if d is None:
        return str(value)
    return d.strftime("%Y-%m-%d %H:%M UTC") if d.tzinfo else d.strftime("%Y-%m-%d %H:%M")


def clock(value: Any) -> str:
    d = parse_ts(value)
    return d.strftime("%H:%M:%S") if d is not None else str(value)


def fmt(metric: Any, value: Any) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    try:
        return format_value(str(metric), float(value))
    except ValueError:
        return f"{value:g}"


def trip_text(t: dict[str, Any]) -> str:
    metric = t.get("metric")
    text = f"{TRIPPED}{t.get('trigger') or metric} at {fmt(metric, t.get('value'))}"
    bits = []
    if t.get("limit") is not None:
        bits.append(f"limit {fmt(metric, t.get('limit'))}")
    if t.get("threshold"):
        bits.append(f"threshold {t.get('threshold')}")
    if t.get("baseline") is not None:
        bits.append(f"baseline {fmt(metric, t.get('baseline'))}")
    return text + (f" ({', '.join(bits)})" if bits else "")


def step_text(rec: dict[str, Any]) -> str:
    kind = rec.get("kind")
    step, action = rec.get("step_id"), rec.get("action", "apply")
    verb = {"apply": "applied", "rollback": "rolled back"}.get(str(action), str(action))
    if kind == "StepFinished":
        bits = [f"in {float(rec.get('elapsed') or 0):.2f}s"]
        if rec.get("rows") is not None:
            bits.append(f"{rec['rows']} rows")
        if rec.get("retries"):
            bits.append(f"{rec['retries']} retries")
        if rec.get("result"):
            bits.append(f"result {rec['result']}")
        return f"Step {step} {verb} " + ", ".join(bits)
    if kind == "StepFailed":
        return f"Step {step} FAILED ({action}): {rec.get('error', '')}"
    return f"Step {step} skipped: {rec.get('reason', '')}"


def tripped_labels(plan: Plan, st: RunState) -> set[str]:
    """The triggers that tripped: from the journal, or from an imported log."""
    labels = {str(t.get("trigger") or t.get("metric")) for t in st.trips}
    for c in plan.communication:
        labels.update(m.group(1) for m in _TRIPPED_RE.finditer(c.text))
    return labels


@dataclass
class _Block:
    at: str
    author: str
    start: dict[str, Any] | None = None  # RunStarted
    end: dict[str, Any] | None = None  # RunFinished
    lines: list[tuple[str, str]] = field(default_factory=list)  # (at, text)
    recs: list[dict[str, Any]] = field(default_factory=list)

    def headline(self) -> str:
        if self.start is None:
            return f"migtui's log: {len(self.lines)} entries outside a run"
        r = self.start
        head = f"{RUN_HEADLINE}{r.get('target')} (database {r.get('database')})" + (
            " — dry run" if r.get("dry_run") else "")
        finished = [x for x in self.recs if x.get("kind") == "StepFinished"]
        applied = list(dict.fromkeys(str(x.get("step_id")) for x in finished
                                     if x.get("action") != "rollback"))
        failed = list(dict.fromkeys(str(x.get("step_id")) for x in self.recs
                                    if x.get("kind") == "StepFailed"))
        rolled = list(dict.fromkeys(str(x.get("step_id")) for x in finished
                                    if x.get("action") == "rollback"))
        left: dict[str, None] = {}  # applied at the end, in order: a rollback removes
        for x in finished:
            if x.get("action") == "rollback":
                left.pop(str(x.get("step_id")), None)
            else:
                left[str(x.get("step_id"))] = None
        if self.end is not None:
            took = _seconds(self.start, self.end)
            outcome = str(self.end.get("outcome")).replace("_", " ")
            if outcome == "done" and rolled:  # an app session's last job was fine; say all
                outcome = "rolled back, then done" if left else "rolled back"
            head += f": {outcome}" + (
                f" after {duration_document(took)}" if took is not None else "")
        else:
            head += ": no end recorded (interrupted, or still running)"
        trips = [f"{x.get('trigger') or x.get('metric')} ({fmt(x.get('metric'), x.get('value'))})"
                 for x in self.recs if x.get("kind") == "ThresholdChanged"]
        facts = [f"applied {', '.join(applied) if applied else 'nothing'}"]
        if failed:
            facts.append(f"failed {', '.join(failed)}")
        facts.append(f"tripped {'; '.join(trips)}" if trips else "no trigger tripped")
        if rolled:
            facts.append(f"rolled back {', '.join(rolled)}")
            if self.end is not None and str(self.end.get("outcome")) == "done":
                facts.append(f"left applied {', '.join(left) if left else 'nothing'}")
        return head + ". " + "; ".join(facts) + "."

    def text(self) -> str:
        items = [f"- {clock(at)} {' '.join(text.split())}" for at, text in self.lines]
        return "\n".join([self.headline(), "", *items]) if items else self.headline()


def _seconds(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    x, y = parse_ts(a.get("at") or a.get("ts")), parse_ts(b.get("at") or b.get("ts"))
    return None if x is None or y is None else max(0.0, (y - x).total_seconds())


def _at(rec: dict[str, Any]) -> str:
    return str(rec.get("at") or rec.get("ts"))


def communication(plan: Plan, st: RunState) -> list[tuple[str, str, str]]:
    """(heading time, author, body) per Communication Log entry, in time order."""
    entries: list[tuple[str, str, str, str]] = []
    for c in plan.communication:
        at = c.at.isoformat() if isinstance(c.at, dt.datetime) else str(c.at)
        entries.append((at, ts(c.at), c.author, c.text))
    for n in st.communication:
        entries.append((str(n.get("at")), ts(n.get("at")), str(n.get("author", "")),
                        str(n.get("text", ""))))
    log: list[tuple[str, int, dict[str, Any]]] = []
    for order, rec in enumerate([*st.notes, *st.runs, *st.results, *st.trips]):
        log.append((_at(rec), order, rec))
    log.sort(key=lambda e: (e[0], e[1]))
    blocks: list[_Block] = []
    cur: _Block | None = None
    for at, _o, rec in log:
        kind = rec.get("kind")
        if kind == "RunStarted":
            cur = _Block(at, str(rec.get("operator", "")), start=rec)
            blocks.append(cur)
            continue
        if cur is None:
            cur = _Block(at, "migtui")
            blocks.append(cur)
        if kind == "RunFinished":
            if cur.start is not None:
                cur.end = rec
            msg = f" — {rec.get('message')}" if rec.get("message") else ""
            cur.lines.append((at, f"Run finished: {rec.get('outcome')}{msg}"))
            cur = None
            continue
        cur.recs.append(rec)
        if kind == "ThresholdChanged":
            text = trip_text(rec)
        elif kind in ("StepFinished", "StepFailed", "StepSkipped"):
            text = step_text(rec)
        else:
            text = f"{rec.get('text', '')} ({rec.get('author', '')})"
        cur.lines.append((at, text))
    for b in blocks:
        entries.append((b.at, ts(b.at), b.author, b.text()))
    entries.sort(key=lambda e: e[0])  # ISO timestamps sort in time order
    return [(e[1], e[2], e[3]) for e in entries]


def summary(entries: list[tuple[str, str, str]]) -> list[str]:
    """The outcome of every run in the log, for the top of the report."""
    runs = [(at, who, body.split("\n", 1)[0]) for at, who, body in entries
            if body.startswith(RUN_HEADLINE)]
    if not runs:
        return []
    out = ["**Outcome** (each run's details are in the Communication Log):", ""]
    out += [f"- {at}, by {who}: {head}" for at, who, head in runs]
    return out


def session_date(plan: Plan, entries: list[tuple[str, str, str]]) -> str:
    """The day of the last run when there was one, else the plan's date."""
    for at, _who, body in reversed(entries):
        if body.startswith(RUN_HEADLINE):
            try:
                return dt.date.fromisoformat(at[:10]).isoformat()
            except ValueError:
                break
    return plan.date.isoformat() if plan.date else "[DATE]"
