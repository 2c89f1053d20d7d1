"""RunControl: how the outside (operator, gauges) steers a running step, thread-safely.

The runner checks it between statements and between backfill batches. The TUI, the
headless CLI and the threshold guard all steer through the same object:

* ``pause(reason)`` / ``resume()``: running steps and backfills wait at the next safe point;
* ``throttle(factor, reason)``: backfills shrink their batches (factor < 1) and may sleep;
* ``cancel(reason)``: stop at the next safe point; the runner also cancels the statement
  in flight with ``pg_cancel_backend``;
* ``request_rollback(reason)``: the guard's ``rollback`` policy asks for an automatic
  rollback; the runner stops forward work and the caller rolls back. While a rollback
  runs (``rolling_back``) it is already what was asked for: the request changes nothing,
  so a trigger tripping during a rollback never cancels the rollback itself.

The gauges also publish what a backfill paces itself on (``publish_signals``, by the
Watch after each sample): the backfill's controller (``migtui.runner.pacing``) reads the
latest ``PaceSignals`` with ``signals()``. A run without gauges has none, and paces on its
lock budget alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reading:
    """One throttling signal as the gauges last saw it.

    ``last_read``: ``time.monotonic()`` of the last sample that read it (``None``: never
    read, so it is no signal: no standby, no pg_stat_statements). ``value`` is ``None``
    when this sample could not read it (or the application made no calls). ``limit`` is
    the plan's alert limit on it, when there is one; ``baseline`` its baseline median."""

    value: float | None = None
    last_read: float | None = None
    limit: float | None = None
    baseline: float | None = None
    note: str = ""  # why it was not read


@dataclass(frozen=True)
class PaceSignals:
    """What the backfill's controller paces on, from one sample (see ``Watch``)."""

    mono: float  # time.monotonic() when the sample was taken
    seq: int = 0
    error: str | None = None  # the sample failed
    blocked: Reading = field(default_factory=Reading)  # longest wait behind migtui (s)
    app_latency: Reading = field(default_factory=Reading)  # app's mean per call (s)
    replica_lag: Reading = field(default_factory=Reading)  # worst standby replay lag (s)


class Cancelled(Exception):
    """Raised inside the runner when the operator cancels the step in flight."""


HOOK_WAIT = 30.0  # seconds reset() waits for a cancel in flight (a connect can hang)


class RunControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self.pause_reason = ""
        self.throttle_factor = 1.0
        self.throttle_reason = ""
        self.cancel_reason = ""
        self.rollback_reason = ""
        self._cancelled = threading.Event()
        self._rollback = threading.Event()
        self._on_cancel: list[Callable[[], None]] = []
        self._hooks_idle = threading.Condition(self._lock)
        self._hooks_running = 0  # cancel hooks in flight (a pg_cancel_backend on its way)
        self._signals: PaceSignals | None = None
        self.rolling_back = False  # set by the Runner while it rolls back

    # ---------------------------------------------------------------- steering

    def pause(self, reason: str) -> None:
        with self._lock:
            self.pause_reason = reason
            self._running.clear()

    def resume(self) -> None:
        with self._lock:
            self.pause_reason = ""
            self._running.set()

    def throttle(self, factor: float, reason: str = "") -> None:
        with self._lock:
            self.throttle_factor = max(0.0, min(1.0, factor))
            self.throttle_reason = reason if factor < 1.0 else ""

    def cancel(self, reason: str = "cancelled by operator") -> None:
        with self._lock:
            if not self._cancelled.is_set():  # the first reason is the one to record
                self.cancel_reason = reason
            self._cancelled.set()
            self._running.set()  # wake a paused runner so it can stop
            hooks = list(self._on_cancel)
            self._hooks_running += 1
        try:
            for hook in hooks:
                hook()
        finally:
            with self._lock:
                self._hooks_running -= 1
                self._hooks_idle.notify_all()

    def request_rollback(self, reason: str) -> None:
        with self._lock:
            if self.rolling_back:
                return
            self.rollback_reason = reason
            self._rollback.set()
        self.cancel(f"rollback requested: {reason}")

    def settle(self) -> None:
        """Wait for cancel hooks still in flight (bounded), before the connection they
        target is used again: a late ``pg_cancel_backend`` lands on an idle session (where
        PostgreSQL ignores it) instead of on the next statement."""
        with self._lock:
            self._hooks_idle.wait_for(lambda: self._hooks_running == 0, timeout=HOOK_WAIT)

    def reset(self) -> None:
        """Clear cancel and rollback requests before new work starts.

        It first waits for cancel hooks still in flight: a ``pg_cancel_backend`` sent for
        the work just stopped must not land on the statement of the work that follows
        (a rollback requested by a trip would otherwise be cancelled by its own trip).
        """
        self.settle()
        with self._lock:
            self._cancelled.clear()
            self._rollback.clear()
            self.cancel_reason = ""
            self.rollback_reason = ""

    def publish_signals(self, signals: PaceSignals | None) -> None:
        """The gauges' latest throttling signals (``None``: the gauges stopped)."""
        with self._lock:
            self._signals = signals

    # ---------------------------------------------------------------- runner side

    def signals(self) -> PaceSignals | None:
        """The latest throttling signals, or None when no gauges feed this run."""
        with self._lock:
            return self._signals

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def rollback_requested(self) -> bool:
        return self._rollback.is_set()

    def wait_if_paused(self, timeout: float | None = None) -> bool:
        """Block while paused. True when running (or cancelled), False on timeout."""
        return self._running.wait(timeout)

    def check(self) -> None:
        """Raise Cancelled at a safe point if the operator cancelled."""
        if self._cancelled.is_set():
            raise Cancelled(self.cancel_reason or "cancelled")

    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Register a hook run by cancel() (e.g. pg_cancel_backend). Returns its remover."""
        with self._lock:
            self._on_cancel.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._on_cancel:
                    self._on_cancel.remove(hook)

        return remove
