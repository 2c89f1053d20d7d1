"""Helpers shared by the tests (moved out of test_sampler_metrics.py)."""


from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from migtui.events import Event, ThresholdChanged
from migtui.plan.model import Plan
from migtui.sampler import Sampler

DEADLINE = 30.0


def live_plan(*, probes: list[str] | None = None, smoke: list[str] | None = None,
              integrity: list[dict[str, Any]] | None = None,
              triggers: list[dict[str, Any]] | None = None,
              alerts: list[dict[str, Any]] | None = None,
              target: dict[str, Any] | None = None) -> Plan:
    return Plan.model_validate({
        "migtui": 1, "title": "t", "type": "schema_change", "agent": "me",
        "overview": [], "documentation": [],
        "targets": {"t": target or {}},
        "risks": {"rollback_triggers": triggers or []},
        "monitoring": {"probes": probes or [], "smoke": smoke or [],
                       "integrity": integrity or [], "metrics": alerts or []},
    })


def wait_until(pred: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Events:
    def __init__(self) -> None:
        self.items: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, ev: Event) -> None:
        with self._lock:
            self.items.append(ev)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [e for e in self.items if isinstance(e, kind)]

    def changes(self, metric: str) -> list[str]:
        with self._lock:
            return [e.state for e in self.items
                    if isinstance(e, ThresholdChanged) and e.metric == metric]


@contextlib.contextmanager
def running(sampler: Sampler) -> Iterator[Sampler]:
    sampler.start()
    try:
        yield sampler
    finally:
        sampler.stop()


@contextlib.contextmanager
def background(fn: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Run fn(stop) in a thread until the block ends."""
    stop = threading.Event()
    t = threading.Thread(target=fn, args=(stop,), daemon=True)
    t.start()
    try:
        yield stop
    finally:
        stop.set()
        t.join(15)
