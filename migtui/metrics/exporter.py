"""MetricsExporter: the run's events, snapshots and gauge states as Prometheus metrics.

It is a subscriber, never a producer: ``on_event`` takes the run's event stream (subscribe
it to the ``EventBus``), ``on_snapshot`` the sampler's snapshots, ``on_states`` the guard's
gauge states (``Guard.states``). ``serve()`` exposes ``/metrics`` over HTTP with the
``prometheus_client`` library, on 127.0.0.1 unless told otherwise. Imports no Textual.
"""

from __future__ import annotations

import contextlib
import errno
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from migtui import events as ev
from migtui.control import RunControl
from migtui.fmt import shorten
from migtui.metrics.families import GAUGE_UNITS, Families, to_base
from migtui.plan.model import Metric, Plan
from migtui.sampler.snapshot import Snapshot
from migtui.secrets import scrub

DEFAULT_HOST = "127.0.0.1"
NAN = float("nan")
FINAL_STATES = {"done": "done", "failed": "failed", "rolled_back": "rolled_back",
                "cancelled": "cancelled", "rollback_requested": "failed"}


class MetricsPortError(OSError):
    """The metrics port could not be bound (in use, or not allowed)."""


def label(text: str, limit: int = 120) -> str:
    """A label value: scrubbed of secrets, one line, bounded."""
    return shorten(scrub(str(text)), limit)


def _num(value: float | int | None) -> float:
    return NAN if value is None else float(value)


class MetricsExporter:
    """One run's metrics. For a fleet, create one per member (``member=name``) on a
    shared registry: every series then carries the member's name."""

    def __init__(self, plan: Plan | None = None, *, member: str = "",
                 registry: CollectorRegistry | None = None,
                 control: RunControl | None = None,
                 families: Families | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.f = families if families is not None else _families_for(self.registry)
        self.member = label(member)
        self.control = control
        self._lock = threading.Lock()
        self._step: tuple[str, str] | None = None
        self._limited: dict[str, str] = {}
        self._rules: list[tuple[str, str, str]] = []  # (gauge, level, trigger text)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        m = self.member
        self.f.run_state.labels(m).state("idle")
        for c in (self.f.steps_applied, self.f.steps_rolled_back, self.f.samples,
                  self.f.sample_errors):
            c.labels(m)  # present at zero from the start
        self.f.throttle.labels(m).set_function(self._throttle_factor)
        self.f.paused.labels(m).set_function(self._paused)
        for metric in GAUGE_UNITS:
            self.f.gauge_value[metric].labels(m).set(NAN)
            self.f.gauge_baseline[metric].labels(m).set(NAN)
        if plan is not None:
            self.set_plan(plan)

    # ------------------------------------------------------------ inputs

    def set_plan(self, plan: Plan) -> None:
        """Declare the plan's alerts and triggers, so each shows at 0 before it fires."""
        rules = [(a.metric.value, "warn", a.action or f"{a.metric.label} {a.alert}")
                 for a in plan.monitoring.metrics]
        rules += [(t.metric.value, "trip", t.label) for t in plan.risks.rollback_triggers
                  if t.metric is not None and t.above is not None]
        with self._lock:
            self._rules = [(g, lvl, label(text)) for g, lvl, text in rules]
            for g, lvl, text in self._rules:
                self.f.trigger_active.labels(self.member, g, lvl, text).set(0)
            for metric in Metric:
                state = "inactive" if any(g == metric.value for g, _l, _t in rules) else "ok"
                self.f.gauge_state.labels(self.member, metric.value).state(state)

    def on_event(self, event: ev.Event) -> None:
        """An ``Emit`` callback: subscribe it to the run's ``EventBus``."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            with self._lock:
                handler(self, event)

    __call__ = on_event

    def on_snapshot(self, snap: Snapshot) -> None:
        m = self.member
        self.f.samples.labels(m).inc()
        self.f.last_sample.labels(m).set(snap.taken_at.timestamp())
        if snap.error:
            self.f.sample_errors.labels(m).inc()
            return
        for metric in GAUGE_UNITS:
            value = snap.metric(metric)
            if value is not None:
                self.f.gauge_value[metric].labels(m).set(_num(to_base(metric, value)))

    def on_states(self, states: Mapping[str, Any]) -> None:
        """The guard's ``GaugeState`` per gauge: state, baseline, the governing trigger."""
        m = self.member
        with self._lock:
            for name, st in states.items():
                try:
                    metric = Metric(name)
                except ValueError:
                    continue
                self.f.gauge_state.labels(m, name).state(st.state)
                if st.baseline is not None:
                    self.f.gauge_baseline[metric].labels(m).set(to_base(metric, st.baseline))
                gov = label(st.trigger)
                for g, lvl, text in self._rules:
                    if g == name:
                        on = st.state == lvl and text == gov
                        self.f.trigger_active.labels(m, g, lvl, text).set(1 if on else 0)

    def observe(self, snap: Snapshot, states: Mapping[str, Any]) -> None:
        """Both at once: for a sampler callback after the guard has observed ``snap``."""
        self.on_snapshot(snap)
        self.on_states(states)

    # ------------------------------------------------------------ the endpoint

    def serve(self, port: int, host: str = DEFAULT_HOST) -> tuple[str, int]:
        """Serve ``/metrics`` on ``host:port`` (port 0: any free port). Returns the address
        bound. A port in use raises ``MetricsPortError`` with one clear line."""
        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as e:
            why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be bound ({e.strerror})"
            raise MetricsPortError(e.errno, f"metrics port {port} on {host} {why}") from None
        self._server, self._thread = server, thread
        return host, int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # ------------------------------------------------------------ scrape-time values

    def _throttle_factor(self) -> float:
        return self.control.throttle_factor if self.control is not None else 1.0

    def _paused(self) -> float:
        return 1.0 if self.control is not None and self.control.paused else 0.0

    # ------------------------------------------------------------ event handlers

    def _run_started(self, e: ev.RunStarted) -> None:
        self.f.run_info.labels(self.member, label(e.plan_id), label(e.target)).set(1)
        self.f.run_state.labels(self.member).state("running")

    def _run_finished(self, e: ev.RunFinished) -> None:
        self._set_step(None)
        self.f.run_state.labels(self.member).state(FINAL_STATES.get(e.outcome, "failed"))

    def _rollback_started(self, _e: ev.RollbackStarted) -> None:
        self.f.run_state.labels(self.member).state("rolling_back")

    def _step_started(self, e: ev.StepStarted) -> None:
        self._set_step((label(e.step_id), e.action))

    def _step_finished(self, e: ev.StepFinished) -> None:
        self._set_step(None)
        if e.action == "rollback":
            self.f.steps_rolled_back.labels(self.member).inc()
        else:
            self.f.steps_applied.labels(self.member).inc()
        if e.rows is not None and label(e.step_id) in self._limited:
            self.f.backfill_done.labels(self.member, label(e.step_id)).set(e.rows)

    def _step_failed(self, e: ev.StepFailed) -> None:
        self._set_step(None)
        self.f.steps_failed.labels(self.member, e.action).inc()

    def _step_retried(self, e: ev.StepRetried) -> None:
        if e.reason.startswith("lock timeout"):
            self.f.lock_retries.labels(self.member, label(e.step_id)).inc()

    def _step_progress(self, e: ev.StepProgress) -> None:
        m, step = self.member, label(e.step_id)
        self.f.backfill_done.labels(m, step).set(e.done)
        self.f.backfill_estimated.labels(m, step).set(_num(e.total))
        self.f.backfill_rate.labels(m, step).set(e.rate)
        self.f.backfill_eta.labels(m, step).set(_num(e.eta))
        self.f.backfill_batch.labels(m, step).set(e.batch_size)
        reason = label(e.throttled) if e.throttled else "none"
        old = self._limited.get(step)
        if old is not None and old != reason:
            self.f.backfill_limited.remove(m, step, old)
        self._limited[step] = reason
        self.f.backfill_limited.labels(m, step, reason).set(1)

    def _baseline_recorded(self, e: ev.BaselineRecorded) -> None:
        for name, stats in e.metrics.items():
            try:
                metric = Metric(name)
            except ValueError:
                continue
            median = stats.get("median")
            if median is not None and math.isfinite(median):
                self.f.gauge_baseline[metric].labels(self.member).set(to_base(metric, median))

    def _threshold_changed(self, e: ev.ThresholdChanged) -> None:
        m = self.member
        self.f.threshold_changes.labels(m, e.metric, e.state).inc()
        self.f.gauge_state.labels(m, e.metric).state(e.state)
        gov = label(e.trigger)
        for g, lvl, text in self._rules:
            if g == e.metric:
                on = e.state == lvl and text == gov
                self.f.trigger_active.labels(m, g, lvl, text).set(1 if on else 0)
        if e.value is not None:
            with contextlib.suppress(ValueError):
                self.f.gauge_value[Metric(e.metric)].labels(m).set(to_base(e.metric, e.value))

    def _set_step(self, step: tuple[str, str] | None) -> None:
        if self._step is not None:
            self.f.current_step.remove(self.member, *self._step)
        self._step = step
        if step is not None:
            self.f.current_step.labels(self.member, *step).set(1)


_FAMILIES_LOCK = threading.Lock()


def _families_for(registry: CollectorRegistry) -> Families:
    """One set of families per registry: fleet members share them (and their member label)."""
    with _FAMILIES_LOCK:
        fam = getattr(registry, "_migtui_families", None)
        if fam is None:
            fam = Families(registry)
            registry._migtui_families = fam  # type: ignore[attr-defined]
        return fam


_HANDLERS: dict[type, Callable[[MetricsExporter, Any], None]] = {
    ev.RunStarted: MetricsExporter._run_started,
    ev.RunFinished: MetricsExporter._run_finished,
    ev.RollbackStarted: MetricsExporter._rollback_started,
    ev.StepStarted: MetricsExporter._step_started,
    ev.StepFinished: MetricsExporter._step_finished,
    ev.StepFailed: MetricsExporter._step_failed,
    ev.StepRetried: MetricsExporter._step_retried,
    ev.StepProgress: MetricsExporter._step_progress,
    ev.BaselineRecorded: MetricsExporter._baseline_recorded,
    ev.ThresholdChanged: MetricsExporter._threshold_changed,
}
