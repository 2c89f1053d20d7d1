"""The threshold guard: turns snapshots into ok / warn / trip states, and acts on them.

* Each ``monitoring.metrics`` alert gives **warn**; each ``risks.rollback_triggers``
  trigger gives **trip**.
* **Sustain**: a rule becomes active only after its condition held for its ``for``
  (measured on the snapshots' monotonic clock), so one spike does nothing.
* **Hysteresis**: an active rule clears only after the value stayed below
  ``hysteresis × limit`` (90% by default) for a recovery period (the rule's ``for``), so
  a value hovering at the limit does not flap (gh-ost #418).
* **Relative** thresholds (``+50%``) use the baseline's distribution: the limit is
  ``max(median × (1 + rel), median + k·σ, median + floor)``, σ being the baseline's MAD
  scaled to a standard deviation and the floor an absolute margin per metric (wider for a
  client-timed latency). A window beyond the relative limit but inside the baseline's own
  noise does not trip. Without a baseline, or with a stale one (too old, another load,
  latency timed differently: ``Baseline.staleness``), they are inactive and the state
  says why. A latency window with too few probe rounds is not judged yet.

Every change of a metric's state is emitted as ``ThresholdChanged``. On a trip the
trigger's policy runs: ``offer`` calls ``on_trip``, ``pause`` pauses the run until the
metric recovers, ``rollback`` asks for an automatic rollback. While any metric is in warn
or trip, backfills are throttled (``control.throttle``), and restored when all are ok.

One rule's state machine and the limit computation live in ``guard_rules``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from migtui.control import RunControl
from migtui.events import Emit, ThresholdChanged
from migtui.plan.model import Metric, Plan
from migtui.sampler.baseline import Baseline
from migtui.sampler.guard_rules import (
    POLICY_RANK,
    Rule,
    basis_text,
    limit_basis,
    limit_for,
    relative,
)
from migtui.sampler.snapshot import Snapshot, format_value

log = logging.getLogger(__name__)

VERIFY_SNAPSHOTS = 5  # snapshots to wait for a measured TPS when checking a baseline
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
    basis: str = ""  # what set ``limit`` beyond the threshold: "", "floor", "client floor", "noise"
    # every rule, warn before trip: (level, threshold as written, for, limit, basis), so a
    # gauge shows the number each one trips at, not only the governing rule's
    limits: tuple[tuple[str, str, float, float | None, str], ...] = ()




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
        self._stale: str | None = None  # why the baseline is not used
        self._verify = VERIFY_SNAPSHOTS if baseline is not None else 0
        self._source = ""  # how the last probe round was timed
        self._lock = threading.Lock()
        self._rules: dict[Metric, list[Rule]] = {}
        for a in plan.monitoring.metrics:
            self._rules.setdefault(a.metric, []).append(Rule(
                a.metric, "warn", a.alert, a.for_, "", a.action or f"{a.metric.label} {a.alert}"))
        for t in plan.risks.rollback_triggers:
            if t.metric is None or t.above is None:
                continue  # a manual trigger: the operator's judgement, not a gauge
            self._rules.setdefault(t.metric, []).append(Rule(
                t.metric, "trip", t.above, t.for_, t.policy, t.label))
        self._states: dict[str, GaugeState] = {}
        for m in Metric:
            self._states[m.value] = self._summarize(m, self._rules.get(m, []), None)
        self._paused: set[str] = set()
        # the probe rounds of the latency window (mono, seconds), to count those over a limit
        self._rounds: deque[tuple[float, float]] = deque()
        self._window = float(plan.settings.latency_window)
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
        """Set (or replace) the baseline; relative thresholds become active at once.

        The next snapshots check that it fits (``Baseline.staleness``): a stale one makes
        the relative thresholds inactive, with the reason as the gauge's note."""
        with self._lock:
            self._baseline = value
            self._stale = None
            self._verify = VERIFY_SNAPSHOTS if value is not None else 0
            self._relimit()

    @property
    def baseline_stale(self) -> str | None:
        """Why the baseline is not used ('baseline stale: taken 25 min ago …'), or None."""
        return self._stale

    def recheck_baseline(self) -> None:
        """Check the baseline's fitness again on the next snapshots (call it when a run
        starts: a baseline captured earlier in a long session may have aged since)."""
        with self._lock:
            if self._baseline is not None:
                self._verify = VERIFY_SNAPSHOTS

    def _relimit(self) -> None:
        for m, rules in self._rules.items():
            old = self._states[m.value]
            for r in rules:
                r.limit, r.basis = limit_basis(m, r.threshold, self._median(m),
                                               self._sigma(m), self._source)
            if old.state not in ("warn", "trip"):
                self._states[m.value] = self._summarize(m, rules, old.value)

    def _check_baseline(self, snap: Snapshot) -> None:
        """While a new baseline is being verified: is it fit for the current conditions?"""
        if self._baseline is None or self._verify <= 0 or snap.error is not None:
            return
        if any(r.active and r.threshold.kind == "relative"
               for rules in self._rules.values() for r in rules):
            return  # never silence a breach in progress; check once it cleared
        reason = self._baseline.staleness(snap.taken_at, snap.tps, snap.latency_source)
        if reason is not None:
            self._stale, self._verify = reason, 0
            log.info("%s", reason)
            self._relimit()
        elif snap.tps is not None:
            self._verify = 0  # judged on age and load: fit
        else:
            self._verify -= 1

    def pace_limit(self, metric: Metric | str) -> float | None:
        """The lowest limit in force on ``metric`` (its alert before its trigger), for the
        backfill's controller; None when no rule has one (none, or relative without a
        baseline)."""
        with self._lock:
            m = Metric(metric)
            limits = [limit_for(m, r.threshold, self._median(m), self._sigma(m), self._source)
                      for r in self._rules.get(m, []) if not r.threshold.below]
        live = [v for v in limits if v is not None]
        return min(live) if live else None

    def rules(self, metric: Metric | str) -> list[tuple[str, str, float, str]]:
        """(level, threshold, for, policy) of each rule on the metric, for display."""
        return [(r.level, str(r.threshold), r.sustain, r.policy)
                for r in self._rules.get(Metric(metric), [])]

    # ------------------------------------------------------------ evaluating

    def observe(self, snapshot: Snapshot) -> list[ThresholdChanged]:
        """Evaluate one snapshot; emit and act on every change. Returns the changes."""
        changes: list[tuple[GaugeState, GaugeState, ThresholdChanged]] = []
        with self._lock:
            if snapshot.latency_source:
                self._source = snapshot.latency_source
            self._check_baseline(snapshot)
            for metric, rules in self._rules.items():
                value = snapshot.metric(metric)
                judged = value
                if (metric is Metric.latency
                        and snapshot.latency_samples < snapshot.latency_min_samples):
                    judged = None  # too few probe rounds in the window: hold
                base, sigma = self._median(metric), self._sigma(metric)
                if metric is Metric.latency and snapshot.latency_last is not None:
                    self._rounds.append((snapshot.mono, snapshot.latency_last))
                    while self._rounds and self._rounds[0][0] < snapshot.mono - self._window:
                        self._rounds.popleft()
                for r in rules:
                    limit, r.basis = limit_basis(metric, r.threshold, base, sigma,
                                                 self._source)
                    # a window's p95 over a few rounds is its slowest round: a breach needs
                    # at least two rounds in the window beyond the limit, so one CPU-starved
                    # round cannot trip a trigger (a p95 over many rounds implies it anyway)
                    now = None
                    if metric is Metric.latency and limit is not None and self._rounds:
                        over = sum(1 for _t, v in self._rounds
                                   if (v < limit if r.threshold.below else v > limit))
                        now = judged if over >= 2 else (limit if r.threshold.below else 0.0)
                    r.step(judged, limit, snapshot.mono, snapshot.taken_at, self.hysteresis,
                           self.recovery, now)
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
                        basis=ref.basis, baseline=ref.baseline, since=ref.since,
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
        if self._baseline is None or self._stale is not None:
            return None
        return self._baseline.median(metric)

    def _sigma(self, metric: Metric) -> float | None:
        if self._baseline is None or self._stale is not None:
            return None
        return self._baseline.sigma(metric)

    _limit = staticmethod(limit_for)  # the tests call Guard._limit

    def _summarize(self, metric: Metric, rules: list[Rule], value: float | None) -> GaugeState:
        base = self._median(metric)
        if not rules:
            return GaugeState(metric.value, "ok", value, baseline=base)
        inactive = [r for r in rules if r.threshold.limit(base) is None]
        note = (self._stale or NO_BASELINE) if inactive else ""
        limits = tuple((r.level, str(r.threshold), r.sustain,
                        r.limit if r not in inactive else None, r.basis if r not in inactive
                        else "") for r in sorted(rules, key=lambda r: r.rank))
        active = [r for r in rules if r.active]
        if active:
            gov = max(active, key=lambda r: r.rank)
            state = gov.level
        elif len(inactive) == len(rules):
            return GaugeState(metric.value, "inactive", value, None, str(rules[0].threshold),
                              base, note=note, trigger=rules[0].text, limits=limits)
        else:
            live = [r for r in rules if r not in inactive]
            breaching = [r for r in live if r.breach_mono is not None]
            gov = min(breaching or live, key=lambda r: r.rank)  # the nearest limit: warn first
            state = "ok"
        return GaugeState(metric.value, state, value, gov.limit, str(gov.threshold), base,
                          gov.breach_at, gov.policy if gov.level == "trip" else "", gov.text,
                          note, gov.basis, limits)

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
        if ev.limit is not None and relative(ev.threshold):
            text += f" = {format_value(m, ev.limit)}"
            if ev.basis:
                text += f", {basis_text(ev.basis, m, ev.limit, ev.baseline)}"
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
