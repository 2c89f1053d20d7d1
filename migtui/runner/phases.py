"""Finding a phase of a plan by what the operator typed.

Running a phase's checklist is ``migtui.execution.phases.run_phase`` (the one item runner
for every action type lives in ``migtui.execution.items``).
"""

from __future__ import annotations

from migtui.plan.model import Phase, Plan


def find_phase(plan: Plan, name: str) -> Phase:
    """A phase by id/key, name (any case) or 1-based number. KeyError with the choices."""
    for i, ph in enumerate(plan.phases, 1):
        if name in (ph.key, ph.id, str(i)) or name.lower() == ph.name.lower():
            return ph
    choices = ", ".join(f"{ph.key} ({ph.name})" for ph in plan.phases) or "none"
    raise KeyError(f"no phase {name!r}; the plan has: {choices}")
