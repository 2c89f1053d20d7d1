"""A lock timeout caused by autovacuum: the runner cancels the worker and the step goes on."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest

from migtui.embedded import EmbeddedPostgres
from migtui.events import EventBus, StepRetried
from migtui.plan import load_plan_text
from migtui.runner import Runner
from migtui.sql import relation_names, split

PLAN = """\
migtui: 1
title: t
type: schema_change
agent: a
settings: {lock_timeout: 300ms, retries: 20, retry_base: 50ms, retry_max: 200ms}
steps:
  - id: add_col
    sql: ALTER TABLE busy ADD COLUMN note text;
    rollback: ALTER TABLE busy DROP COLUMN note;
"""


def test_relation_names_come_from_the_parse_tree():
    (st,) = split("DROP INDEX CONCURRENTLY IF EXISTS public.orders_status_idx")
    assert relation_names(st.node) == ["public.orders_status_idx"]
    (st,) = split("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id)")
    assert relation_names(st.node) == ["orders", "customers"]


@pytest.mark.embedded_only
def test_a_blocking_autovacuum_is_cancelled_and_the_step_applies(tmp_path_factory):
    home = (Path(f"/var/tmp/migtui-test-av-{os.getpid()}") if os.geteuid() == 0
            else tmp_path_factory.mktemp("av"))
    server = EmbeddedPostgres(name="av", home=home, settings={
        "autovacuum_naptime": "1", "autovacuum_vacuum_cost_delay": "100ms",
        "autovacuum_vacuum_cost_limit": "1", "log_autovacuum_min_duration": "0"})
    url = server.start()
    try:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("CREATE TABLE busy (id int PRIMARY KEY, v int) "
                      "WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0)")
            c.execute("INSERT INTO busy SELECT g, 0 FROM generate_series(1, 100000) g")
            c.execute("UPDATE busy SET v = 1")
            deadline = time.monotonic() + 60
            while not c.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                                "'autovacuum worker' AND query ILIKE '%busy%'").fetchone()[0]:
                assert time.monotonic() < deadline, "autovacuum never started on busy"
                time.sleep(0.2)
        bus = EventBus()
        retries: list[StepRetried] = []
        bus.subscribe(lambda e: retries.append(e) if isinstance(e, StepRetried) else None)
        with Runner(load_plan_text(PLAN, "av.yaml"), url, emit=bus) as r:
            out = r.apply()
        assert out.ok, out.message
        assert any("cancelled autovacuum of busy" in e.reason for e in retries)
    finally:
        server.destroy()
        if os.geteuid() == 0:
            import shutil

            shutil.rmtree(home, ignore_errors=True)
