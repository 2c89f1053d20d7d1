"""Helpers shared by the tests (moved out of test_scrape_run.py)."""


from __future__ import annotations

import threading
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from migtui.control import RunControl
from migtui.events import Event, EventBus, RunFinished, RunStarted
from migtui.metrics import MetricsExporter
from migtui.plan import load_plan_text
from migtui.runner import Runner
from migtui.watch import Watch, headless_offer

PLAN = """\
migtui: 1
id: scraped
title: Scraped
type: schema_change
agent: tester
targets: {{dev: {{environment: development}}}}
settings: {{sample_interval: 250ms, lock_timeout: 100ms, retries: 20, retry_base: 50ms,
            retry_max: 100ms, batch_target: 50ms}}
steps:
  - id: add_col
    sql: ALTER TABLE orders ADD COLUMN note text;
    rollback: ALTER TABLE orders DROP COLUMN IF EXISTS note;
  - id: fill_note
    backfill: {{table: orders, key: id, set: "note = 'x'", where: "note IS NULL",
               batch_size: 100}}
    rollback: UPDATE orders SET note = NULL
  - id: settle
    sql: SELECT pg_sleep({settle});
    rollback: SELECT 1;
risks:
  rollback_triggers:
    - {{text: Slow probes, metric: latency, above: {above}, for: 500ms, policy: rollback}}
monitoring:
  probes: ["SELECT pg_sleep(0.02)"]
"""


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    out: Samples = {}
    for fam in text_string_to_metric_families(text.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    want = {"member": "", **labels}
    for (n, lab), v in samples.items():
        if n == name and dict(lab) == want:
            return v
    raise KeyError(f"{name}{want} not in the scrape")


def run_plan(text: str, dsn: str, *, before_open: Any = None) -> tuple[list[Event], list[Samples],
                                                                        Samples]:
    """The run the way ``migtui run`` wires it, with the exporter subscribed."""
    plan = load_plan_text(text)
    control = RunControl()
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    exporter = MetricsExporter(plan, control=control)
    bus.subscribe(exporter.on_event)
    _host, port = exporter.serve(0)
    runner = Runner(plan, dsn, emit=bus, control=control, operator="tester")
    watch = Watch(plan, dsn, emit=bus, control=control, target="dev",
                  on_offer=headless_offer(control, bus, True),
                  on_snapshot=lambda s: exporter.observe(s, watch.guard.states))
    scraper = Scraper(port)
    scraper.start()
    try:
        bus.emit(RunStarted(plan_id="scraped", target="dev", database="x", operator="tester"))
        if before_open is not None:
            before_open(bus)
        runner.open()
        watch.start()
        try:
            outcome = runner.apply()
            if control.rollback_requested:
                reason = control.rollback_reason
                control.reset()
                rb = runner.rollback(reason=reason)
                outcome = type(outcome)("rolled_back" if rb.ok else "failed", reason)
        finally:
            watch.stop()
            runner.close()
        bus.emit(RunFinished(plan_id="scraped", outcome=outcome.status))
        final = scrape(port)
    finally:
        scraper.stop.set()
        scraper.join(10)
        exporter.close()
    return seen, scraper.scrapes, final


class Scraper(threading.Thread):
    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.scrapes: list[Samples] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.scrapes.append(scrape(self.port))
            self.stop.wait(0.05)
