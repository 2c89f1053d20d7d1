"""A time-based sliding window of measurements, with percentiles."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float] | Iterable[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation; None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Sequence[float] | Iterable[float]) -> float | None:
    return percentile(values, 50)


# the MAD of a normal distribution times this is its standard deviation
MAD_TO_SIGMA = 1.4826


def mad(values: Sequence[float] | Iterable[float]) -> float | None:
    """The median absolute deviation from the median: a spread that one outlier (a
    checkpoint, a GC pause) does not inflate, unlike the standard deviation."""
    xs = list(values)
    med = median(xs)
    if med is None:
        return None
    return median(abs(x - med) for x in xs)


class Window:
    """Values stamped with a monotonic time; only the last ``seconds`` are kept."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: deque[tuple[float, float]] = deque()

    def add(self, at: float, value: float) -> None:
        self._items.append((at, value))
        self._trim(at)

    def _trim(self, now: float) -> None:
        while self._items and self._items[0][0] < now - self.seconds:
            self._items.popleft()

    def values(self) -> list[float]:
        return [v for _t, v in self._items]

    def percentile(self, q: float) -> float | None:
        return percentile(self.values(), q)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
