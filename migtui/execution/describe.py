"""Events as text: the one wording shared by the headless printer and the app's log.

``describe(event)`` returns one line (sometimes with indented continuation lines) or None
for events that have no text of their own. Consumers add their own framing: the printer a
progress bar on a TTY, the app a time stamp and a style (``style(event)``).
"""

from __future__ import annotations

from migtui.events import (
    BaselineRecorded,
    Event,
    ItemFailed,
    ItemSkipped,
    ItemTicked,
    NoteAdded,
    RehearsalFinished,
    RehearsalStarted,
    ReportExported,
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
from migtui.fmt import duration, shorten
from migtui.sampler import basis_text, format_value
from migtui.watch import trip_text


def short(text: str | None, width: int = 100) -> str:
    return shorten(text, width)


def secs(s: float | None, none: str = "?") -> str:
    return none if s is None else duration(s)


_BASELINE_SHOWN = ("latency", "error_rate", "connection_pool", "tps")
_STATE_MARK = {"ok": "✓", "warn": "⚠", "trip": "⛔", "inactive": "·"}


def threshold_line(e: ThresholdChanged) -> str:
    mark = _STATE_MARK.get(e.state, "?")
    if e.state == "trip":
        return f"{mark} TRIP {trip_text(e)} — policy {e.policy or 'offer'}"
    if e.state == "warn":
        base = (f", baseline {format_value(e.metric, e.baseline)}"
                if e.baseline is not None else "")
        base += (f", set by {basis_text(e.basis, e.metric, e.limit, e.baseline)}" if e.basis
                 else "")
        if e.previous == "trip":  # stepping down: the figure is back under the limits
            return (f"{mark} {e.metric} trip cleared, the warning holds until its recovery "
                    f"period ends: {format_value(e.metric, e.value)} (warn limit "
                    f"{format_value(e.metric, e.limit)}, {e.threshold}{base})")
        return (f"{mark} {e.metric} warn: {format_value(e.metric, e.value)} over "
                f"{format_value(e.metric, e.limit)} ({e.threshold}{base})")
    return f"{mark} {e.metric} back to {e.state} ({format_value(e.metric, e.value)})"


def limit_text(e: StepProgress) -> str:
    """What limits a backfill's rate now: "full speed", "limited by lock budget", "limited
    by replica lag 1.4 s > 1 s", with the pause before the next batch; a producer without
    pacing gives only its throttle reason ("" when it has none)."""
    if e.limited_by == "full speed":
        text = "full speed"
    elif e.limited_by:
        text = f"limited by {e.limited_by}"
    elif e.throttled:
        return f"throttled: {e.throttled}"
    else:
        return ""
    if e.sleep > 0:
        text += f", pausing {e.sleep:.1f} s between batches"
    return text


def changed_text(e: StepProgress) -> str:
    """The rows changed, " (161,000 changed)", when a backfill skipped some it scanned."""
    return (f" ({e.changed:,} changed)" if e.changed is not None and e.changed != e.done
            else "")


def progress_line(e: StepProgress) -> str:
    total = e.total if e.total is not None else "?"
    thr = f", throttled: {e.throttled}" if e.throttled and e.throttled != e.limited_by else ""
    lim = f", limited by {e.limited_by}" if e.limited_by else ""
    return (f"    {e.step_id}: {e.done}/{total} rows{changed_text(e)}, {e.rate:,.0f} rows/s, "
            f"ETA {secs(e.eta)}, batch {e.batch_size}{lim}{thr}")


def describe(e: Event) -> str | None:  # noqa: C901 - one branch per event type
    """The text of one event, or None when it has none."""
    match e:
        case RunStarted():
            mode = " (dry run)" if e.dry_run else ""
            return (f"{e.action} {e.plan_id} on target {e.target} (database {e.database}) "
                    f"by {e.operator}{mode}")
        case StepStarted():
            n = f", {e.statements} statement(s)" if e.step_kind == "sql" else ""
            return f"▶ {e.action} {e.step_id} ({e.step_kind}{n})"
        case StatementStarted():
            mode = "autocommit" if e.autocommit else "in transaction"
            return f"    {e.index + 1}. [{mode}; lock {e.lock}] {short(e.sql)}"
        case StepProgress():
            return progress_line(e)
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
            return f"  note by {e.author}: {e.text}"
        case ItemTicked():
            if not e.done:
                return f"☐ {e.item} unticked by {e.operator}" + (
                    f": {e.evidence}" if e.evidence else "")
            return f"☑ {e.item}: {e.evidence}" if e.evidence else f"☑ {e.item} by {e.operator}"
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
        case RehearsalStarted():
            load = " (other sessions active: the gauges run)" if e.traffic else ""
            return (f"rehearsal of {e.plan_id} on target {e.target} (database "
                    f"{e.database}) by {e.operator}{load}")
        case RehearsalFinished():
            return f"rehearsal {'clean' if e.ok else 'FAILED'}: {e.summary}"
        case ReportExported():
            return f"report exported to {e.path} by {e.operator}"
        case RunFinished():
            return f"{e.outcome}: {e.message}"
    return None


_STYLE_BY_KIND = {
    "StepStarted": "bold", "StepRetried": "yellow", "StepFinished": "green",
    "StepFailed": "bold red", "StepSkipped": "dim", "StepPaused": "yellow",
    "StepResumed": "yellow", "StepOutput": "dim", "RollbackStarted": "bold magenta",
    "NoteAdded": "italic", "ItemFailed": "red", "ItemSkipped": "dim",
    "BaselineRecorded": "green", "RehearsalStarted": "bold cyan",
}


def style(e: Event) -> str:
    """A Rich style name for the event's line (the app's log); '' for plain."""
    match e:
        case RollbackFinished():
            return "bold green" if e.ok else "bold red"
        case RehearsalFinished():
            return "bold green" if e.ok else "bold red"
        case ThresholdChanged():
            return {"trip": "bold red", "warn": "yellow"}.get(e.state, "green")
        case RunFinished():
            return {"done": "bold green", "rolled_back": "bold magenta"}.get(e.outcome,
                                                                             "bold red")
    return _STYLE_BY_KIND.get(type(e).__name__, "")
