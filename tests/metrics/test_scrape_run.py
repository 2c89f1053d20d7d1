"""/metrics scraped during a real run, parsed with prometheus_client's own parser, and
checked against the run's events."""

from __future__ import annotations

import math

import psycopg

from migtui.events import Event, EventBus, StepProgress
from tests.metrics.helpers import (
    PLAN,
    run_plan,
    value,
)


def test_a_run_scraped_matches_its_events(shop_db):
    # another session holds a lock on orders: the first step retries on lock timeout
    blocker = psycopg.connect(shop_db)
    blocker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")

    def release_on_retry(bus: EventBus) -> None:
        def on(ev: Event) -> None:
            if ev.kind == "StepRetried" and not blocker.closed:
                blocker.rollback()
                blocker.close()
        bus.subscribe(on)

    try:
        events, during, final = run_plan(PLAN.format(above="5s", settle="0.6"), shop_db,
                                         before_open=release_on_retry)
    finally:
        if not blocker.closed:
            blocker.close()
    kinds = [e.kind for e in events]
    assert kinds[-1] == "RunFinished" and events[-1].outcome == "done", kinds

    applied = sum(1 for e in events if e.kind == "StepFinished" and e.action == "apply")
    retries = [e for e in events if e.kind == "StepRetried"]
    progress = [e for e in events if isinstance(e, StepProgress)]
    assert applied == 3 and retries and progress
    assert value(final, "migtui_steps_applied_total") == applied
    assert value(final, "migtui_steps_rolled_back_total") == 0
    assert value(final, "migtui_lock_timeout_retries_total", step="add_col") == len(retries)
    last = progress[-1]
    assert value(final, "migtui_backfill_done_rows", step="fill_note") == last.done == 5000
    assert value(final, "migtui_backfill_rate_rows_per_second", step="fill_note") == last.rate
    assert value(final, "migtui_backfill_batch_size_rows", step="fill_note") == last.batch_size
    assert value(final, "migtui_backfill_limited", step="fill_note", reason="none") == 1
    assert value(final, "migtui_run_state", migtui_run_state="done") == 1
    assert value(final, "migtui_run_info", plan="scraped", target="dev") == 1
    assert value(final, "migtui_gauge_state", gauge="latency", migtui_gauge_state="ok") == 1
    assert value(final, "migtui_samples_total") >= 1
    p95 = value(final, "migtui_probe_latency_p95_seconds")
    assert 0.02 <= p95 < 5  # the probe sleeps 20 ms: measured, in seconds

    # during the run: scrapes saw it running, and every backfill count they saw was one
    # the run reported
    running = [s for s in during
               if value(s, "migtui_run_state", migtui_run_state="running") == 1]
    assert running
    done_values = {float(e.done) for e in progress}
    seen_done = {v for s in running for (n, lab), v in s.items()
                 if n == "migtui_backfill_done_rows"}
    assert seen_done and seen_done <= done_values | {5000.0}
    steps_seen = {dict(lab)["step"] for s in running for (n, lab), v in s.items()
                  if n == "migtui_current_step" and v == 1}
    assert "settle" in steps_seen  # scraped while it ran


def test_a_trip_shows_in_the_scrape(shop_db):
    events, during, final = run_plan(PLAN.format(above="5ms", settle="8"), shop_db)
    trips = [e for e in events if e.kind == "ThresholdChanged" and e.state == "trip"]
    assert trips, [e.kind for e in events]
    assert events[-1].outcome == "rolled_back"
    rolled = sum(1 for e in events if e.kind == "StepFinished" and e.action == "rollback")
    assert rolled >= 1
    assert value(final, "migtui_threshold_changes_total", gauge="latency", state="trip") \
        == len(trips)
    assert value(final, "migtui_steps_rolled_back_total") == rolled
    assert value(final, "migtui_run_state", migtui_run_state="rolled_back") == 1
    # while tripped, the trigger governed its gauge
    tripped = [s for s in during
               if value(s, "migtui_gauge_state", gauge="latency", migtui_gauge_state="trip")]
    assert tripped
    assert any(value(s, "migtui_trigger_active", gauge="latency", level="trip",
                     trigger="Slow probes") == 1 for s in tripped)
    # the latency at the trip, in seconds, is what the event said
    base = [s for s in during if not math.isnan(value(s, "migtui_probe_latency_p95_seconds"))]
    assert base and any(value(s, "migtui_probe_latency_p95_seconds") > 0.005 for s in base)
    assert trips[0].value > trips[0].limit
