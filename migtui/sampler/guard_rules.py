"""The threshold guard's rules: one alert or trigger as a small state machine (sustain,
hysteresis, recovery), and the limit a threshold stands for (a relative one widened by the
baseline's noise and a floor per metric)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from migtui.plan.model import Metric
from migtui.plan.values import Threshold
from migtui.sampler.snapshot import format_value

POLICY_RANK = {"offer": 0, "pause": 1, "rollback": 2}
# A relative limit (at +50% or more; proportionally less for a smaller one) never sits
# closer than this above the baseline's median. Latency: 5 ms when the server timed the
# probes (a healthy indexed probe runs in well under 1 ms, and a 2-core machine under a
# backfill stretches it by a few ms; a plan's degradation worth a rollback, such as an
# index scan turned into a sequential scan, costs tens of ms or more); 20 ms when timed on
# the client, whose scheduling on a loaded machine was seen adding 30 ms (GIL switch
# interval 5 ms per wake-up, and the OS's run queue).
RELATIVE_FLOOR = {Metric.latency: 0.005, Metric.lock_waits: 0.5}
CLIENT_LATENCY_FLOOR = 0.020
# ... nor closer than this many of the baseline's σ (MAD × 1.4826) at +50% or more
NOISE_K = 4.0


@dataclass
class Rule:
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
    basis: str = ""  # what set a relative limit beyond the threshold: see limit_basis

    @property
    def rank(self) -> tuple[int, int]:
        return (1 if self.level == "trip" else 0, POLICY_RANK.get(self.policy, -1))

    def step(self, value: float | None, limit: float | None, mono: float, at: dt.datetime,
             hysteresis: float, recovery: float | None, now: float | None = None) -> None:
        """``value``: the windowed figure the threshold is written against; ``now``, when the
        value is a window statistic (latency's p95 of the last rounds): a figure that is
        beyond the limit only while the window holds at least two rounds beyond it. A breach
        starts, and is sustained, only while both are: one slow round keeps a short window's
        p95 high for the whole window, and must not trip a trigger on its own."""
        self.limit = limit
        if limit is None:  # relative without a baseline
            self.active = False
            self.breach_mono = self.breach_at = self.recover_mono = None
            return
        if value is None:  # not measured this time: hold everything
            return
        below = self.threshold.below
        breached = value < limit if below else value > limit
        if now is not None and not self.active:
            breached = breached and (now < limit if below else now > limit)
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


BASIS_TEXT = {"floor": "the floor",  # short: a gauge's footnote is one line at 120 columns
              "client floor": "the client-timing floor",
              "noise": f"the baseline's noise ({NOISE_K:g}σ)"}


def relative(threshold: str) -> bool:
    """A threshold as written ("+50%", "-20%") is relative to the baseline: its limit is
    computed, and worth showing beside it; an absolute one ("> 5%") is its own limit."""
    return threshold.startswith(("+", "-"))


def basis_text(basis: str, metric: Metric | str | None = None, limit: float | None = None,
               baseline: float | None = None) -> str:
    """Why a relative limit sits above its threshold, in words ("" when it does not), with
    the margin when known: "the client-timing floor: base + 20ms", so a DBA
    expecting +50% of 10 ms to be 15 ms sees why the limit is 30 ms."""
    text = BASIS_TEXT.get(basis, basis)
    if text and metric is not None and limit is not None and baseline is not None:
        text += f": base + {format_value(metric, limit - baseline)}"
    return text


def limit_for(metric: Metric, threshold: Threshold, base: float | None,
              sigma: float | None = None, source: str = "") -> float | None:
    """An absolute threshold as written; a relative one is the largest of the relative
    limit, what the baseline's noise explains (``NOISE_K`` σ) and the metric's floor.
    ``source``: how latency is timed ("server" has the narrower floor)."""
    return limit_basis(metric, threshold, base, sigma, source)[0]


def limit_basis(metric: Metric, threshold: Threshold, base: float | None,
                sigma: float | None = None, source: str = "") -> tuple[float | None, str]:
    """The limit (see ``limit_for``) and what set it, so a screen can say why a gauge
    stays OK far above its baseline: "" as written; "floor" (the metric's minimum margin
    above the baseline; "client floor" when latency is timed on the client); "noise"
    (``NOISE_K`` σ of the baseline)."""
    limit = threshold.limit(base)
    if limit is None or threshold.kind != "relative" or base is None:
        return limit, ""
    # noise and floor grow with the threshold up to +50%, so a +25% alert always
    # sits below a +50% trigger, even on a sub-millisecond baseline
    scale = min(1.0, max(0.0, threshold.value) / 50.0)
    floor, floor_name = RELATIVE_FLOOR.get(metric, 0.0), "floor"
    if metric is Metric.latency and source != "server":
        floor, floor_name = CLIENT_LATENCY_FLOOR, "client floor"
    widened = [(limit, ""), (base + floor * scale, floor_name),
               (base + NOISE_K * scale * (sigma or 0.0), "noise")]
    best = max(widened, key=lambda lw: lw[0])
    return best if best[0] > limit else (limit, "")
