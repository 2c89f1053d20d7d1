"""Checklists and their actions, and the phases that group them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from migtui.plan.basics import Strict, slug
from migtui.plan.values import Duration, ExpectationValue

# ---------------------------------------------------------------- checklists & actions


class RunSteps(Strict):
    steps: list[str] = Field(min_length=1, description="Step ids to execute, in order.")


class RunBaseline(Strict):
    baseline: Duration = Field(description="How long to sample before recording the baseline.")


class RunCheck(Strict):
    check: str = Field(description="Verification query returning one value.")
    expect: ExpectationValue = Field(description="What it must return, e.g. '= 0'.")


class RunCommand(Strict):
    command: str = Field(description="Shell command; its exit code must be 0.")
    timeout: Duration | None = None


class RunWatch(Strict):
    watch: Duration = Field(description="Watch the gauges this long; fails if a trigger trips.")


class RunRehearse(Strict):
    rehearse: Literal[True] = Field(description="Rehearse apply→rollback→apply on staging.")


def _action_kind(v: Any) -> str | None:
    keys = ("steps", "baseline", "check", "command", "rehearse", "watch")
    if isinstance(v, dict):
        found = [k for k in keys if k in v]
        return found[0] if len(found) == 1 else None
    for k, cls in zip(keys, (RunSteps, RunBaseline, RunCheck, RunCommand, RunRehearse,
                             RunWatch), strict=True):
        if isinstance(v, cls):
            return k
    return None


Action = Annotated[
    Annotated[RunSteps, Tag("steps")] | Annotated[RunBaseline, Tag("baseline")]
    | Annotated[RunCheck, Tag("check")] | Annotated[RunCommand, Tag("command")]
    | Annotated[RunRehearse, Tag("rehearse")] | Annotated[RunWatch, Tag("watch")],
    Discriminator(
        _action_kind,
        custom_error_type="action_kind",
        custom_error_message=(
            "expected exactly one action: steps: [ids], baseline: 30s, "
            "check: SQL with expect, command: shell command, watch: 2m, or rehearse: true"),
    ),
]


class ChecklistItem(Strict):
    """A checkbox of the template. Manual unless ``run`` binds it to an action."""

    text: str = Field(min_length=1)
    id: str | None = Field(None, description="Stable id for the journal; default: from text.")
    done: bool = Field(False, description="Ticked by the author when the plan was written.")
    run: Action | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        return self.id or slug(self.text)


def checklist_items(v: Any) -> Any:
    """A checklist may be written as plain strings."""
    if isinstance(v, list):
        return [{"text": x} if isinstance(x, str) else x for x in v]
    return v


Checklist = Annotated[list[ChecklistItem], Field(default_factory=list)]


class Phase(Strict):
    name: str
    id: str | None = None
    items: Checklist

    norm_items = field_validator("items", mode="before")(lambda cls, v: checklist_items(v))

    @property
    def key(self) -> str:
        return self.id or slug(self.name)
