"""Retry on lock timeout (SQLSTATE 55P03) with exponential backoff and jitter.

The delays follow reshape: 100 ms doubling up to 3.2 s, each with "equal jitter" (half
the delay fixed, half random) so that retrying sessions do not line up again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg import errors as pgerr

from migtui.control import Cancelled, RunControl
from migtui.events import Emit, StepRetried
from migtui.runner.conn import first_line
from migtui.runner.context import Timeouts

T = TypeVar("T")


def delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The wait before retry number ``attempt`` (1-based)."""
    d = min(cap, base * (2 ** (attempt - 1)))
    r = (rng or random).random()
    return d / 2 + r * d / 2


def sleep(seconds: float, control: RunControl) -> None:
    """Sleep, but wake up to stop at once when the run is cancelled."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        control.check()
        time.sleep(min(left, 0.05))
    control.check()


class LockTimeoutExhausted(Exception):
    def __init__(self, error: psycopg.Error, tries: int) -> None:
        super().__init__(first_line(error))
        self.error = error
        self.tries = tries


def with_retries(fn: Callable[[int], T], *, step_id: str, timeouts: Timeouts, emit: Emit,
                 control: RunControl, unblock: Callable[[], str] | None = None
                 ) -> tuple[T, int]:
    """Run ``fn(attempt)``; on 55P03 wait and run it again. Returns (result, retries).

    ``unblock`` runs after each lock timeout (e.g. to cancel a blocking autovacuum) and
    says what it did, for the retry's reason."""
    attempt = 0
    while True:
        control.check()
        try:
            return fn(attempt), attempt
        except pgerr.LockNotAvailable as e:
            if control.cancelled:
                raise Cancelled(control.cancel_reason) from None
            if attempt >= timeouts.retries:
                raise LockTimeoutExhausted(e, attempt + 1) from None
            attempt += 1
            wait = delay(attempt, timeouts.retry_base, timeouts.retry_max)
            did = unblock() if unblock is not None else ""
            emit(StepRetried(step_id=step_id, attempt=attempt, of=timeouts.retries,
                             delay=round(wait, 3),
                             reason=f"lock timeout ({first_line(e)})" + (f"; {did}" if did
                                                                         else "")))
            sleep(wait, control)
