"""The threshold guard: turns snapshots into ok / warn / trip states, and acts on them.

* Each ``monitoring.metrics`` alert gives **warn**; each ``risks.rollback_triggers``
  trigger gives **trip**.
* **Sustain**: a rule becomes active only after its condition held for its ``for``
  (measured on the snapshots' monotonic clock), so one spike does nothing.
* **Hysteresis**: an active rule clears only after the value stayed below
  ``hysteresis × limit`` (90% by default) for a recovery period (the rule's ``for``), so
  a value hovering at the limit does not flap (gh-ost #418).
* **Relative** thresholds (``+50%``) use the baseline's median; without a baseline they
  are inactive and the state says so.

Every change of a metric's state is emitted as ``ThresholdChanged``. On a trip the
trigger's policy runs: ``offer`` calls ``on_trip``, ``pause`` pauses the run until the
metric recovers, ``rollback`` asks for an automatic rollback. While any metric is in warn
or trip, backfills are throttled (``control.throttle``), and restored when all are ok.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from migtui.control import RunControl
from migtui.events import Emit, ThresholdChanged
from migtui.plan.model import Metric, Plan
from migtui.plan.values import Threshold
from migtui.sampler.baseline import Baseline
from migtui.sampler.snapshot import Snapshot, format_value

log = logging.getLogger(__name__)

POLICY_RANK = {"offer": 0, "pause": 1, "rollback": 2}
# a relative limit never sits closer than this above the baseline: sub-millisecond
# probe jitter must not trip "+50%"
RELATIVE_FLOOR = {Metric.latency: 0.002, Metric.lock_waits: 0.5}
NO_BASELINE = "relative threshold inactive: no baseline"


@dataclass(frozen=True)
class GaugeState:
    metric: str
    state: str  # ok | warn | trip | inactive
    value: float | None = None
    limit: float | None = None
    threshold: str = ""  # as written, e.g. "+50%" or "> 5%"
    baseline: float | None = None  # the metric's baseline median
    since: dt.datetime | None = None  # when the current breach started
    policy: str = ""  # for trips
    trigger: str = ""  # the rule's text
    note: str = ""


@dataclass
class _Rule:
    metric: Metric
    level: str  # warn | trip
    threshold: Threshold
    sustain: float
    policy: str
    text: str
    breach_mono: float | None = None
    breach_at: dt.datetime | None = None
    active: bool = False
    recover_mono: float | None = None
    limit: float | None = None

    @property
    def rank(self) -> tuple[int, int]:
        return (1 if self.level == "trip" else 0, POLICY_RANK.get(self.policy, -1))

    def step(self, value: float | None, limit: float | None, mono: float, at: dt.datetime,
             hysteresis: float, recovery: float | None) -> None:
        self.limit = limit
        if limit is None:  # relative without a baseline
            self.active = False
            self.breach_mono = self.breach_at = self.recover_mono = None
            return
        if value is None:  # not measured this time: hold everything
            return
        below = self.threshold.below
        breached = value < limit if below else value > limit
        if not self.active:
            if not breached:
                self.breach_mono = self.breach_at = None
                return
            if self.breach_mono is None:
                self.breach_mono, self.breach_at = mono, at
            if mono - self.breach_mono >= self.sustain:
                self.active, self.recover_mono = True, None
            return
        # active: clear only below the hysteresis band, and only after the recovery period
        if below:
            clear = value >= limit / hysteresis if limit > 0 else not breached
        else:
            clear = value <= limit * hysteresis if limit > 0 else not breached
        if not clear:
            self.recover_mono = None
            return
        if self.recover_mono is None:
            self.recover_mono = mono
        if mono - self.recover_mono >= (self.sustain if recovery is None else recovery):
            self.active = False
            self.breach_mono = self.breach_at = self.recover_mono = None


class Guard:
    def __init__(self, plan: Plan, emit: Emit | None = None, control: RunControl | None = None,
                 baseline: Baseline | None = None,
                 on_trip: Callable[[ThresholdChanged], None] | None = None, *,
                 hysteresis: float = 0.9, recovery: float | None = None,
                 throttle: float = 0.5, escalate_after: float = 2.0,
                 min_throttle: float = 0.05) -> None:
        """``hysteresis``: fraction of the limit the value must fall below to clear.
        ``recovery``: how long it must stay there (default: each rule's ``for``).
        ``throttle``: backfill factor per metric in warn or trip (0.5, then 0.25, ...)."""
        self.plan = plan
        self.emit = emit
        self.control = control
        self.on_trip = on_trip
        self.hysteresis = hysteresis
        self.recovery = recovery
        self.throttle = throttle
        self.escalate_after = escalate_after
        self.min_throttle = min_throttle
        self._loud_since: float | None = None
        self._baseline = baseline
        self._lock = threading.Lock()
        self._rules: dict[Metric, list[_Rule]] = {}
        for a in plan.monitoring.metrics:
            self._rules.setdefault(a.metric, []).append(_Rule(
                a.metric, "warn", a.alert, a.for_, "", a.action or f"{a.metric.label} {a.alert}"))
        for t in plan.risks.rollback_triggers:
            if t.metric is None or t.above is None:
                continue  # a manual trigger: the operator's judgement, not a gauge
            self._rules.setdefault(t.metric, []).append(_Rule(
                t.metric, "trip", t.above, t.for_, t.policy, t.label))
        self._states: dict[str, GaugeState] = {}
        for m in Metric:
            self._states[m.value] = self._summarize(m, self._rules.get(m, []), None)
        self._paused: set[str] = set()
        self._pause_reason = ""
        self._throttle_reason = ""

    # ------------------------------------------------------------ reading

    @property
    def states(self) -> dict[str, GaugeState]:
        with self._lock:
            return dict(self._states)

    @property
    def baseline(self) -> Baseline | None:
        return self._baseline

    @baseline.setter
    def baseline(self, value: Baseline | None) -> None:
        """Set (or replace) the baseline; relative thresholds become active at once."""
        with self._lock:
            self._baseline = value
            for m, rules in self._rules.items():
                old = self._states[m.value]
                for r in rules:
                    r.limit = self._limit(m, r.threshold, self._median(m))
                if old.state not in ("warn", "trip"):
                    self._states[m.value] = self._summarize(m, rules, old.value)

    def rules(self, metric: Metric | str) -> list[tuple[str, str, float, str]]:
        """(level, threshold, for, policy) of each rule on the metric, for display."""
        return [(r.level, str(r.threshold), r.sustain, r.policy)
                for r in self._rules.get(Metric(metric), [])]

    # ------------------------------------------------------------ evaluating

    def observe(self, snapshot: Snapshot) -> list[ThresholdChanged]:
        """Evaluate one snapshot; emit and act on every change. Returns the changes."""
        changes: list[tuple[GaugeState, GaugeState, ThresholdChanged]] = []
        with self._lock:
            for metric, rules in self._rules.items():
                value = snapshot.metric(metric)
                base = self._median(metric)
                for r in rules:
                    r.step(value, self._limit(metric, r.threshold, base), snapshot.mono,
                           snapshot.taken_at, self.hysteresis, self.recovery)
                old = self._states[metric.value]
                new = self._summarize(metric, rules, value)
                if value is None:  # keep showing the last measured value
                    new = replace(new, value=old.value)
                self._states[metric.value] = new
                if self._changed(old, new):
                    ref = new if new.state in ("warn", "trip") else old
                    ev = ThresholdChanged(
                        metric=metric.value, state=new.state, previous=old.state,
                        value=value, threshold=ref.threshold, limit=ref.limit,
                        baseline=ref.baseline, since=ref.since,
                        policy=ref.policy if ref.state == "trip" else "", trigger=ref.trigger)
                    changes.append((old, new, ev))
            for metric in Metric:  # gauges without thresholds still show their value
                if metric not in self._rules:
                    v = snapshot.metric(metric)
                    self._states[metric.value] = GaugeState(
                        metric.value, "ok", v if v is not None
                        else self._states[metric.value].value, baseline=self._median(metric))
            states = dict(self._states)
        for old, new, ev in changes:
            try:
                if self.emit is not None:
                    self.emit(ev)
            except Exception:  # noqa: BLE001 - a subscriber must not stop the policies
                log.exception("emitting %s failed", ev.kind)
            self._act(old, new, ev)
        self._throttle(states, snapshot.mono)
        return [ev for _o, _n, ev in changes]

    def _median(self, metric: Metric) -> float | None:
        return self._baseline.median(metric) if self._baseline is not None else None

    @staticmethod
    def _limit(metric: Metric, threshold: Threshold, base: float | None) -> float | None:
        limit = threshold.limit(base)
        if limit is not None and threshold.kind == "relative" and base is not None:
            # the floor grows with the threshold (+50% → the full floor), so a +25% alert
            # always sits below a +50% trigger, even on a sub-millisecond baseline
            floor = RELATIVE_FLOOR.get(metric, 0.0) * threshold.value / 50.0
            limit = max(limit, base + floor)
        return limit

    def _summarize(self, metric: Metric, rules: list[_Rule], value: float | None) -> GaugeState:
        base = self._median(metric)
        if not rules:
            return GaugeState(metric.value, "ok", value, baseline=base)
        inactive = [r for r in rules if r.threshold.limit(base) is None]
        note = NO_BASELINE if inactive else ""
        active = [r for r in rules if r.active]
        if active:
            gov = max(active, key=lambda r: r.rank)
            state = gov.level
        elif len(inactive) == len(rules):
            return GaugeState(metric.value, "inactive", value, None, str(rules[0].threshold),
                              base, note=note, trigger=rules[0].text)
        else:
            live = [r for r in rules if r not in inactive]
            breaching = [r for r in live if r.breach_mono is not None]
            gov = min(breaching or live, key=lambda r: r.rank)  # the nearest limit: warn first
            state = "ok"
        return GaugeState(metric.value, state, value, gov.limit, str(gov.threshold), base,
                          gov.breach_at, gov.policy if gov.level == "trip" else "", gov.text,
                          note)

    @staticmethod
    def _changed(old: GaugeState, new: GaugeState) -> bool:
        loud = ("warn", "trip")
        if old.state not in loud and new.state not in loud:
            return False  # ok <-> inactive is not a threshold crossing
        return (old.state, old.policy, old.trigger) != (new.state, new.policy, new.trigger)

    # ------------------------------------------------------------ acting

    def _reason(self, ev: ThresholdChanged) -> str:
        m = Metric(ev.metric)
        text = f"{m.label} {format_value(m, ev.value)} (limit {ev.threshold}"
        if ev.limit is not None and ev.threshold.startswith("+"):
            text += f" = {format_value(m, ev.limit)}"
        return text + f"): {ev.trigger}" if ev.trigger else text + ")"

    def _act(self, old: GaugeState, new: GaugeState, ev: ThresholdChanged) -> None:
        ctl = self.control
        if new.state == "trip" and (old.state != "trip"
                                    or POLICY_RANK[new.policy] > POLICY_RANK.get(old.policy, -1)):
            reason = self._reason(ev)
            if new.policy == "offer" and self.on_trip is not None:
                try:
                    self.on_trip(ev)
                except Exception:  # noqa: BLE001 - the other gauges must go on
                    log.exception("on_trip callback failed")
            elif new.policy == "pause" and ctl is not None:
                self._paused.add(new.metric)
                self._pause_reason = f"paused by gauge: {reason}"
                ctl.pause(self._pause_reason)
            elif new.policy == "rollback" and ctl is not None:
                ctl.request_rollback(reason)
        if old.state == "trip" and old.policy == "pause" and not (
                new.state == "trip" and new.policy == "pause"):
            self._paused.discard(old.metric)
            if (not self._paused and ctl is not None and ctl.paused
                    and ctl.pause_reason == self._pause_reason):
                ctl.resume()

    def _throttle(self, states: dict[str, GaugeState], mono: float) -> None:
        """Backfills slow down while any gauge is not ok: smaller batches, then pauses.

        The factor is ``throttle ** n`` for n gauges not ok, and it tightens one more
        step for every ``escalate_after`` seconds the gauges stay loud (down to
        ``min_throttle``), as gh-ost and pt-online-schema-change keep backing off."""
        ctl = self.control
        if ctl is None:
            return
        loud = [Metric(s.metric).label for s in states.values() if s.state in ("warn", "trip")]
        if loud:
            if self._loud_since is None:
                self._loud_since = mono
            steps = len(loud) + int((mono - self._loud_since) // self.escalate_after)
            factor = max(self.min_throttle, self.throttle ** steps)
            reason = "gauges not ok: " + ", ".join(loud)
            if ctl.throttle_factor != factor or ctl.throttle_reason != reason:
                ctl.throttle(factor, reason)
                self._throttle_reason = reason
        else:
            self._loud_since = None
            if self._throttle_reason:
                if ctl.throttle_reason == self._throttle_reason:
                    ctl.throttle(1.0)
                self._throttle_reason = ""
