"""Helpers for the gauge tests: a Collector on a sampler-like connection, sampled by hand."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from migtui.plan.model import Plan
from migtui.sampler.collect import APPLICATION_NAME, Collector
from migtui.sampler.snapshot import Snapshot


def plan(**monitoring: Any) -> Plan:
    return Plan.model_validate({
        "migtui": 1, "title": "t", "type": "schema_change", "agent": "me",
        "overview": [], "documentation": [], "targets": {"t": {}},
        "risks": {"rollback_triggers": monitoring.pop("triggers", [])},
        "monitoring": {"probes": [], "smoke": [], "integrity": [], "metrics": [], **monitoring},
    })


class Probe:
    """A collector and its connection; ``sample()`` takes the next snapshot."""

    def __init__(self, url: str, the_plan: Plan | None = None, **kw: Any) -> None:
        self.conn = psycopg.connect(url, autocommit=True, application_name=APPLICATION_NAME)
        self.collector = Collector(the_plan or plan(), **kw)
        self.collector.on_connect(self.conn, 5.0)
        self.seq = 0

    def sample(self) -> Snapshot:
        self.seq += 1
        return self.collector.sample(self.conn, self.seq)

    def until(self, pred: Callable[[Snapshot], Any], what: str, timeout: float = 30.0,
              pause: float = 0.1) -> Snapshot:
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            last = self.sample()
            if pred(last):
                return last
            time.sleep(pause)
        raise AssertionError(f"timed out waiting for {what}; last snapshot: {last}")

    def close(self) -> None:
        self.collector.close()
        self.conn.close()


@contextlib.contextmanager
def probe(url: str, the_plan: Plan | None = None, **kw: Any) -> Iterator[Probe]:
    p = Probe(url, the_plan, **kw)
    try:
        yield p
    finally:
        p.close()
