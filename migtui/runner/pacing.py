"""The backfill's controller: how many rows the next batch takes, and how long to wait first.

A pure object (no database, no clock of its own): the backfill loop gives it each batch's
rows and duration, and the gauges' latest ``PaceSignals`` with the time now; it answers
with the next batch size, the sleep before it and what limits the rate right now.

* **Lock budget** (``settings.pacing.lock_budget``, 100 ms): an application writer that
  needs a row the batch has updated waits until the batch commits, so a batch's duration is
  the longest wait it can impose. Batches aim at half the budget (room for a batch that
  runs twice as slow under load) and the size halves at once when one overran it.
* **Duty cycle**, steered by the signals, additive increase, multiplicative decrease
  (AIMD, as TCP and gh-ost's throttler back off): on each new sample, a signal above its
  limit halves the share of time the backfill runs (down to ``min_duty``); when every
  signal is back below ``HYSTERESIS`` × its limit, the share grows by ``INCREASE`` per
  sample; in between it holds, so a value hovering at its limit does not flap. The sleep
  after a batch of ``t`` seconds is ``t × (1/duty − 1)``.
* **Signals**: ``blocked_by_migtui`` (an application backend waiting on migtui longer than
  the lock budget also halves the batch size), ``replication_lag`` and ``app_latency``
  against their alerts, or ``pacing.replica_lag`` (1 s) and ``pacing.app_latency``
  (+25% over the baseline, or over the first reading of the step without one).
* **Fail closed**: a signal read once and then unread for ``stale_after`` (5 s), or no
  sample at all for that long, makes ``hold`` return why; the backfill waits until the
  gauges read again. Without gauges there are no signals: the lock budget alone paces.
"""

from __future__ import annotations

from dataclasses import dataclass

from migtui.control import PaceSignals, Reading
from migtui.fmt import duration_short

HYSTERESIS = 0.9  # a signal clears below 90% of its limit
INCREASE = 0.1  # duty added per sample while every signal is clear
DECREASE = 0.5  # duty (and, for blocked writers, size) factor per sample over a limit
HEADROOM = 0.5  # batches aim at this share of the lock budget
MAX_SLEEP = 5.0  # longest sleep between two batches (s)
FULL_SPEED = "full speed"
LOCK_BUDGET = "lock budget"


@dataclass(frozen=True)
class PacingConfig:
    lock_budget: float = 0.1
    batch_target: float = 0.5  # the plan's batch_target (or the step's target)
    replica_lag: float = 1.0
    app_latency: float = 25.0  # percent over the baseline
    stale_after: float = 5.0
    min_duty: float = 0.05
    min_batch: int = 100
    max_batch: int = 50_000
    # A rollback's backfill is the cure for what raised the application's latency: it keeps
    # the lock budget and yields to blocked writers and replica lag, not to app latency.
    follow_app_latency: bool = True

    @property
    def target(self) -> float:
        """The batch duration aimed at."""
        if self.lock_budget > 0:
            return min(self.batch_target, self.lock_budget * HEADROOM)
        return self.batch_target


@dataclass(frozen=True)
class Decision:
    size: int  # rows of the next batch
    sleep: float  # seconds before it
    limited_by: str  # "lock budget", "replica lag 1.4 s > 1 s", "full speed", ...




class Pacer:
    def __init__(self, cfg: PacingConfig, size: int) -> None:
        self.cfg = cfg
        self.size = self._bound(size)
        self.duty = 1.0
        self.limiter = ""  # the signal that cut the duty last
        self._seq: int | None = None
        self._app_ref: float | None = None  # first app_latency of the step, without baseline

    def _bound(self, size: float) -> int:
        return max(self.cfg.min_batch, min(self.cfg.max_batch, int(size)))

    # ------------------------------------------------------------ fail closed

    def hold(self, signals: PaceSignals | None, now: float) -> str:
        """Why the backfill must wait for the gauges now ("" when it may go on)."""
        if signals is None:
            return ""
        limit = self.cfg.stale_after
        age = now - signals.mono
        if age > limit:
            why = f": {signals.error}" if signals.error else ""
            return f"gauges not read for {age:.0f} s (limit {limit:g} s){why}"
        for name, r in self._readings(signals):
            if r.last_read is not None and now - r.last_read > limit:
                why = r.note or signals.error or ""
                return (f"{name} not read for {now - r.last_read:.0f} s (limit {limit:g} s)"
                        + (f": {why}" if why else ""))
        return ""

    def _readings(self, s: PaceSignals) -> list[tuple[str, Reading]]:
        out = [("blocked_by_migtui", s.blocked), ("replica lag", s.replica_lag)]
        if self.cfg.follow_app_latency:
            out.insert(1, ("app latency", s.app_latency))
        return out

    # ------------------------------------------------------------ after each batch

    def after_batch(self, rows: int, seconds: float, signals: PaceSignals | None,
                    throttle: float = 1.0, throttle_reason: str = "") -> Decision:
        """``rows`` asked of the batch that took ``seconds``; ``throttle``: the operator's or
        the guard's factor (``RunControl.throttle``)."""
        cfg = self.cfg
        ratio = min(2.0, max(DECREASE, cfg.target / max(seconds, 1e-3)))
        self.size = self._bound(max(rows, 1) * ratio)
        if signals is not None and signals.seq != self._seq:
            self._seq = signals.seq
            self._steer(signals)
        duty = min(self.duty, max(cfg.min_duty, throttle) if throttle < 1 else 1.0)
        size = self.size
        if throttle < 1:
            size = self._bound(size * throttle)
        sleep = min(MAX_SLEEP, seconds * (1 / duty - 1)) if duty < 1 else 0.0
        if self.duty < 1 and self.limiter:
            why = self.limiter
        elif throttle < 1:
            why = throttle_reason or f"throttled to {throttle:.0%}"
        elif cfg.lock_budget > 0 and self.size < cfg.max_batch:
            why = LOCK_BUDGET
        else:
            why = FULL_SPEED
        return Decision(size, round(sleep, 3), why)

    def _steer(self, s: PaceSignals) -> None:
        over: list[str] = []
        clear = True
        lock_limit = self.cfg.lock_budget or 1.0
        b = s.blocked.value
        if b is not None and b > 0:
            clear = False
            if b > lock_limit:
                over.append(f"writers blocked {duration_short(b)} > {duration_short(lock_limit)}")
                self.size = self._bound(self.size * DECREASE)
        signals = [self._lag(s.replica_lag)]
        if self.cfg.follow_app_latency:
            signals.append(self._app(s.app_latency))
        for text, value, limit in signals:
            if value is None or limit is None:
                continue
            if value > limit:
                over.append(text)
            elif value > limit * HYSTERESIS:
                clear = False
        if over:
            self.duty = max(self.cfg.min_duty, self.duty * DECREASE)
            self.limiter = ", ".join(over)
        elif clear:
            self.duty = min(1.0, self.duty + INCREASE)
            if self.duty >= 1.0:
                self.limiter = ""

    def _lag(self, r: Reading) -> tuple[str, float | None, float | None]:
        limit = r.limit if r.limit is not None else self.cfg.replica_lag
        v = r.value
        return (f"replica lag {duration_short(v or 0)} > {duration_short(limit)}", v, limit)

    def _app(self, r: Reading) -> tuple[str, float | None, float | None]:
        v = r.value
        if v is None:
            return ("", None, None)
        ref = r.baseline
        if ref is None:
            if self._app_ref is None:
                self._app_ref = v
            ref = self._app_ref
        limit = r.limit if r.limit is not None else ref * (1 + self.cfg.app_latency / 100)
        rise = f"+{(v / ref - 1) * 100:.0f}%" if ref > 0 else duration_short(v)
        return (f"app latency {rise}", v, limit)
