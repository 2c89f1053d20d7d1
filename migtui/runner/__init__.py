"""The execution core: apply, roll back and record a plan's steps. Imports no Textual."""

from migtui.runner.errors import (
    DatabaseUnavailable,
    NotExecutable,
    RunLocked,
    RunnerError,
    StepError,
)
from migtui.runner.history import HistoryRow, StepStatus
from migtui.runner.runner import Outcome, PlannedStatement, Runner

__all__ = [
    "DatabaseUnavailable", "HistoryRow", "NotExecutable", "Outcome", "PlannedStatement",
    "RunLocked", "Runner", "RunnerError", "StepError", "StepStatus",
]
