"""The resume offer: when the database already has some of the plan's steps, say where the
run stands and offer to run the rest of the next step's phase."""

from __future__ import annotations

from dataclasses import dataclass, field

from migtui.runner import StepStatus
from migtui.tui.model import Section, short


@dataclass
class Offer:
    log: list[tuple[str, str]] = field(default_factory=list)  # (line, style) for the log
    body: str = ""  # the question's text; "" when there is nothing to resume
    phase: Section | None = None  # where the next step is (None: the plan's steps)


def resume_offer(statuses: list[StepStatus], database: str, next_step: str | None,
                 phase: Section | None) -> Offer:
    """What to log and what to ask, from the history just read. ``next_step`` is the first
    step not applied nor skipped, ``phase`` the section it belongs to."""
    offer = Offer(phase=phase)
    applied = [s for s in statuses if s.state == "applied"]
    failed = [s for s in statuses if s.state == "failed"]
    changed = [s for s in statuses if s.changed]
    if changed:
        offer.log.append((f"steps changed since applied: "
                          f"{', '.join(s.step_id for s in changed)}"
                          f" — roll them back or restore their SQL", "bold red"))
    if not applied and not failed:
        return offer
    if next_step is None:
        offer.log.append(("every step is applied", "green"))
        return offer
    last = max((s.last for s in statuses if s.last), key=lambda r: r.id, default=None)
    lines = [f"{len(applied)} of {len(statuses)} steps are applied on {database}."]
    if last is not None:
        lines.append(f"Last: {last.step_id} {last.status} by {last.operator} at "
                     f"{last.started_at:%Y-%m-%d %H:%M}"
                     + (f" — {short(last.error, 120)}" if last.error else ""))
    where = phase.title if phase else "the plan's steps"
    lines.append(f"Next: {next_step} ({where}).")
    lines.append("Resume runs the rest of that phase now.")
    offer.log.append((f"plan in progress: next step {next_step} in {where}", "yellow"))
    offer.body = "\n".join(lines)
    return offer
