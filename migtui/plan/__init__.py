"""The plan: the migration plan template as a typed, validated, executable document."""

from migtui.plan.errors import PlanError, Problem
from migtui.plan.loader import load_plan, load_plan_text, plan_checksum
from migtui.plan.model import ChecklistItem, Metric, MigrationType, Phase, Plan, Step, Trigger

__all__ = [
    "ChecklistItem", "Metric", "MigrationType", "Phase", "Plan", "PlanError", "Problem", "Step",
    "Trigger", "load_plan", "load_plan_text", "plan_checksum",
]
