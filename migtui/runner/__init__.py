"""The execution core: apply, roll back and record a plan's steps. Imports no Textual."""

from migtui.runner.errors import (
    DatabaseUnavailable,
    LockLost,
    NotExecutable,
    RunLocked,
    RunnerError,
    StepError,
)
from migtui.runner.history import HistoryRow, StepStatus
from migtui.runner.runner import Outcome, PlannedStatement, Runner

__all__ = [
    "DatabaseUnavailable", "HistoryRow", "LockLost", "NotExecutable", "Outcome", "PlannedStatement",
    "RunLocked", "Runner", "RunnerError", "StepError", "StepStatus",
]
