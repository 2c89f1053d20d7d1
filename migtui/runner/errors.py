"""Errors the runner raises. Each carries one clear, secret-free message."""

from __future__ import annotations

from migtui.secrets import scrub


class RunnerError(Exception):
    """Base class: the message is safe to print as is."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))


class DatabaseUnavailable(RunnerError):
    """The database cannot be reached, or refused the login."""


class RunLocked(RunnerError):
    """Another migtui run holds the database's advisory lock."""


class NotExecutable(RunnerError):
    """The plan cannot be executed as written (e.g. a step mixes transaction modes)."""


class StepError(RunnerError):
    """A step failed. ``statement`` is the statement that failed, if any."""

    def __init__(self, message: str, *, sqlstate: str | None = None,
                 statement: str | None = None, rows: int | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.statement = scrub(statement) if statement else None
        self.rows = rows


class LockLost(RunnerError):
    """The run lock's session died or let the lock go: the run stopped, nothing more applied.

    ``reason`` is why, without the advice (for messages that add their own)."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = scrub(reason) if reason else str(self)
