"""Measured, not guessed: the locks, rewrites and catalog changes each statement really made.

A traced run (``migtui trace``, the rehearsal's passes) gives the Runner a ``Tracer``; the
runner calls it around every statement, and the tracer reads the catalogs from inside the
statement's own transaction before it commits. ``compare`` holds each trace against the
lint's prediction. No Textual here.
"""

from migtui.trace.compare import judge, project_cost
from migtui.trace.model import LockHeld, StatementTrace
from migtui.trace.tracer import Tracer

__all__ = ["LockHeld", "StatementTrace", "Tracer", "judge", "project_cost"]
