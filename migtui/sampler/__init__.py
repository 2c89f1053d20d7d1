"""Live gauges: a UI-agnostic sampler, the performance baseline and the threshold guard.

    sampler = Sampler(plan, dsn, on_snapshot=guard.observe)
    guard = Guard(plan, emit=bus, control=run_control, baseline=None, on_trip=offer)

Nothing here imports Textual: the TUI and the headless run consume the same objects.
"""

from migtui.sampler.baseline import Baseline
from migtui.sampler.guard import GaugeState, Guard
from migtui.sampler.guard_rules import basis_text, relative
from migtui.sampler.sampler import Sampler, SamplerError
from migtui.sampler.snapshot import (
    CheckFailure,
    LockWait,
    PoolStat,
    Session,
    Snapshot,
    format_value,
)

__all__ = [
    "Baseline", "CheckFailure", "GaugeState", "Guard", "LockWait", "PoolStat", "Sampler",
    "SamplerError", "Session", "Snapshot", "basis_text", "format_value", "relative",
]
