"""The gauges over a run as panels for a terminal plot: what the PNG draws, in numbers.

Pure (no plotting library): ``panels(series)`` gives, for each panel the picture has
(``gauges.panels``: latency, backfill, replica lag), its lines in the panel's unit (cut
where a sample lacked them or none came, as the PNG does), its levels (the baseline median, the trip limit)
and its moments (trips, rollbacks). The app's plot widget draws them with plotext; a test
compares them with the series the PNG is drawn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migtui.plots.gauges import MS, broken
from migtui.plots.gauges import panels as picture_panels
from migtui.plots.series import LAG, LATENCY, GaugeSeries, Marker, clock

# the terminal's colours (plotext names), one meaning each, as in the PNG
COLORS = {"latency": "cyan", "app_latency": "green", "baseline": "blue", "limit": "red",
          "trip": "red", "rollback": "magenta", "lag": "orange"}
BACKFILL_COLORS = ("orange+", "green", "cyan", "white")  # plotext names: no "yellow"


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    segments: tuple[tuple[tuple[float, float], ...], ...]  # (t, y) runs, cut at gaps

    @property
    def points(self) -> list[tuple[float, float]]:
        return [p for seg in self.segments for p in seg]


@dataclass(frozen=True)
class Level:
    label: str
    y: float
    color: str


@dataclass(frozen=True)
class Panel:
    key: str  # latency | backfill | lag
    title: str
    unit: str
    lines: tuple[Line, ...]
    levels: tuple[Level, ...] = ()
    moments: tuple[Marker, ...] = ()

    @property
    def top(self) -> float:
        """The highest value shown (lines and levels), for the y axis."""
        ys = [y for ln in self.lines for _t, y in ln.points] + [lv.y for lv in self.levels]
        return max(ys, default=0.0)


def segments(points: list[tuple[float, float]], scale: float = 1.0,
             usual: float | None = None, times: Sequence[float] = ()
             ) -> tuple[tuple[tuple[float, float], ...], ...]:
    """The series cut where the PNG cuts it (``gauges.broken``: across a sample that
    lacks it, or a gap of over three usual steps), in the panel's unit."""
    xs, ys = broken(points, scale, usual, times)
    out: list[tuple[tuple[float, float], ...]] = []
    run: list[tuple[float, float]] = []
    for x, y in zip(xs, ys, strict=True):
        if x != x:  # NaN: the gap
            out.append(tuple(run))
            run = []
        else:
            run.append((x, y))
    if run:
        out.append(tuple(run))
    return tuple(s for s in out if s)


def panels(series: GaugeSeries) -> list[Panel]:
    """The picture's panels, top to bottom (none for an empty series)."""
    out = []
    for key in picture_panels(series):
        if key == "latency":
            out.append(_latency(series))
        elif key == "backfill":
            lines = tuple(Line(f"backfill {step}", BACKFILL_COLORS[i % len(BACKFILL_COLORS)],
                               segments(pts, usual=series.cadence, times=series.times))
                          for i, (step, pts) in enumerate(series.backfill.items()))
            out.append(Panel("backfill", "backfill rate", "rows/s", lines,
                             moments=tuple(series.markers)))
        elif key == "lag":
            out.append(Panel("lag", "replica replay lag", "s",
                             (Line("replica lag", COLORS["lag"],
                                   segments(series.series(LAG), usual=series.cadence,
                                            times=series.times)),),
                             moments=tuple(series.markers)))
    return out


def _latency(s: GaugeSeries) -> Panel:
    lines = []
    for metric in LATENCY:
        pts = s.series(metric)
        if pts:
            name = "probe latency p95" if metric == "latency" else "app latency"
            lines.append(Line(name, COLORS[metric], segments(pts, MS, s.cadence, s.times)))
    levels = []
    if "latency" in s.baseline:
        med, _sigma = s.baseline["latency"]
        levels.append(Level("baseline", med * MS, COLORS["baseline"]))
    if "latency" in s.limits:
        levels.append(Level("trip limit", s.limits["latency"] * MS, COLORS["limit"]))
    return Panel("latency", "latency", "ms", tuple(lines), tuple(levels), tuple(s.markers))


def span(series: GaugeSeries) -> float:
    """The time axis' end: the last sample, or a later trip or rollback (as the PNG's)."""
    return max(series.duration, *(m.t for m in series.markers), 1.0)


def moments_text(series: GaugeSeries) -> list[str]:
    """One line per trip or rollback: 'T 2:01 trip: Slow probes'."""
    return [f"{'T' if m.kind == 'trip' else 'R'} {clock(m.t)} "
            f"{'trip' if m.kind == 'trip' else 'rollback'}: {m.label}" for m in series.markers]
