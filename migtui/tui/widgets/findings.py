"""The lint's findings for a step, shown beside its SQL where the decision is made."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.text import Text

from migtui.execution.step_traces import StepTraces
from migtui.lint import Finding

MARK = {"error": ("✗", "bold red"), "warning": ("⚠", "yellow"), "info": ("i", "cyan")}


def worst(findings: Sequence[Finding]) -> str:
    """'error', 'warning', 'info' or '' — for a step's column in the steps table."""
    for sev in ("error", "warning", "info"):
        if any(f.severity == sev and f.active for f in findings):
            return sev
    return ""


def lint_cell(findings: Sequence[Finding]) -> Text:
    active = [f for f in findings if f.active]
    if not active:
        return Text("✓", style="green") if not findings else Text("ignored", style="dim")
    sev = worst(findings)
    mark, style = MARK[sev]
    return Text(f"{mark} {len(active)}", style=style)


def findings_renderable(findings: Sequence[Finding]) -> RenderableType:
    """Each finding: rule and message; the lock and rewrite; what it breaks; the safe way."""
    if not findings:
        return Text("lint: no findings", style="dim green")
    parts: list[RenderableType] = []
    for f in findings:
        mark, style = MARK.get(f.severity, ("?", ""))
        head = Text()
        where = "rollback" if f.which == "rollback" else "line"
        head.append(f"{mark} {f.rule} ", style=style)
        head.append(f"({where} {f.line}) " if f.line else "", style="dim")
        head.append(f.message)
        if f.suppressed:
            head.stylize("dim")
            head.append(f"  — ignored: {f.suppressed}", style="dim italic")
            parts.append(head)
            continue
        parts.append(head)
        facts = []
        if f.lock:
            facts.append(f"lock {f.lock}")
        if f.rewrites:
            facts.append("rewrites the table")
        if f.estimate:
            facts.append(f.estimate)
        if facts:
            parts.append(Text("   " + "; ".join(facts), style="dim"))
        if f.breaks:
            parts.append(Text(f"   breaks: {f.breaks}", style="magenta"))
        if f.safe_alternative:
            parts.append(Text("   safer: " + " ".join(f.safe_alternative.split()), style="green"))
    return Group(*parts)


def traces_renderable(measured: StepTraces | None) -> RenderableType:
    """The locks the newest rehearsal of this plan text measured for the step, beside the
    lint's findings: each statement's strongest lock and how long it held, the production
    projection, and the lint's disagreements marked ✗."""
    if measured is None:
        return Text("measured: no rehearsal of this plan text traced this step (h rehearses)",
                    style="dim")
    when = measured.at[:19].replace("T", " ")
    head = Text(f"measured on {measured.target} ({measured.database}) at {when}:",
                style="bold")
    if not measured.disagreements:
        head.append("  ✓ as the lint predicted", style="green")
    parts: list[RenderableType] = [head]
    for line in measured.lines():
        if line.lstrip().startswith("✗"):
            parts.append(Text(f"   {line.strip()}", style="bold red"))
        else:
            parts.append(Text(f"   {line}", style="dim" if line.startswith("  ") else ""))
    return Group(*parts)
