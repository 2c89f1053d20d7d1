"""Metrics, thresholds and triggers: what the guard watches and what it does on a trip.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from migtui.plan.basics import Metric, Strict
from migtui.plan.values import Duration, ExpectationValue, Threshold, ThresholdValue

_DURATION_METRICS = (Metric.latency, Metric.lock_waits, Metric.app_latency,
                     Metric.blocked_by_migtui, Metric.replication_lag)
_PERCENT_METRICS = (Metric.error_rate, Metric.connection_pool, Metric.disk)
_MEGABYTE_METRICS = (Metric.slot_retained, Metric.wal_rate)


def _check_unit(metric: Metric, t: Threshold) -> None:
    """A bare number is ambiguous for latency (ms? %?): ask for the unit."""
    if t.kind == "relative":
        return
    if metric in _DURATION_METRICS and t.unit != "s":
        raise ValueError(f"{metric.value} is a duration: write its limit as 200ms or 2s, or "
                         f"relative to the baseline as +50%; found {t}")
    if metric in _PERCENT_METRICS and t.unit == "s":
        raise ValueError(f"{metric.value} is a percentage: write its limit as 5% or +50%; "
                         f"found {t}")
    if metric in _MEGABYTE_METRICS and t.unit:
        raise ValueError(f"{metric.value} is in megabytes{'/s' if metric is Metric.wal_rate else ''}"
                         f": write its limit as a bare number such as 500, or as +50%; "
                         f"found {t}")


class Trigger(Strict):
    """A rollback trigger. It trips when ``metric`` stays beyond ``above`` for ``for``.

    A trigger without a metric is a manual one: the operator's judgement, shown as a
    checkbox; ticking it offers the rollback.
    """

    text: str | None = Field(None, description="The template's wording of the trigger.")
    metric: Metric | None = Field(None, description="Measured metric; none for a manual trigger.")
    above: ThresholdValue | None = None
    for_: Duration = Field(10.0, alias="for", description="How long the breach must last.")
    policy: Literal["offer", "pause", "rollback"] = "offer"

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        if self.metric is not None and self.above is not None:
            _check_unit(self.metric, self.above)
        if self.metric is None and not self.text:
            raise ValueError("a manual trigger (no 'metric') needs its 'text'")
        if self.metric is not None and self.above is None:
            raise ValueError(f"the {self.metric.value} trigger needs 'above', e.g. +50% or 5%")
        return self

    @property
    def label(self) -> str:
        if self.text:
            return self.text
        assert self.metric is not None
        return f"{self.metric.label} {self.above}"


class MetricAlert(Strict):
    metric: Metric
    alert: ThresholdValue
    for_: Duration = Field(5.0, alias="for")
    baseline: str | None = Field(None, description="Expected baseline, as written by the author.")
    action: str = Field("", description="Recovery action.")

    @model_validator(mode="after")
    def _unit(self) -> MetricAlert:
        _check_unit(self.metric, self.alert)
        return self


class IntegrityCheck(Strict):
    sql: str
    expect: ExpectationValue
    name: str | None = None


class Monitoring(Strict):
    probes: list[str] = Field(
        default_factory=list, description="Representative application queries, timed each sample.")
    smoke: list[str] = Field(
        default_factory=list, description="Queries that must succeed: critical functionality.")
    integrity: list[IntegrityCheck] = Field(
        default_factory=list, description="Checks that must hold: data corruption detection.")
    metrics: list[MetricAlert] = Field(default_factory=list)
