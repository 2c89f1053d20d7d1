"""Shared by the execution tests of the trip: a trip event at a given second, and a plan of
three steps that each create a table (``tables`` says which exist)."""

from __future__ import annotations

import datetime as dt

from migtui.events import ThresholdChanged
from tests.runner_helpers import q

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def at(s: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def tc(state: str, s: int, metric: str = "latency", previous: str = "warn") -> ThresholdChanged:
    return ThresholdChanged(metric=metric, state=state, previous=previous, value=0.084,
                            threshold="+50%", limit=0.03, baseline=0.02, since=at(s),
                            policy="offer" if state == "trip" else "",
                            trigger="Performance degradation >50%" if state == "trip" else "",
                            at=at(s))



STEPS = """
- id: one
  sql: CREATE TABLE t_one (id int);
  rollback: DROP TABLE IF EXISTS t_one;
- id: two
  sql: CREATE TABLE t_two (id int);
  rollback: DROP TABLE IF EXISTS t_two;
- id: three
  sql: CREATE TABLE t_three (id int);
  rollback: DROP TABLE IF EXISTS t_three;
"""


def tables(url: str) -> set[str]:
    return {r[0] for r in q(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 't_%'")}
