"""The gauges over a run for a terminal: one sparkline per series, and the markers.

The fallback beside the PNG (and instead of it when matplotlib is missing): a few lines
of fixed-width text, for the Markdown report and the CLI.
"""

from __future__ import annotations

from statistics import median

from migtui.plots.series import LAG, LATENCY, GaugeSeries, clock
from migtui.sampler.snapshot import format_value

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 48


def buckets(points: list[tuple[float, float]], duration: float, width: int = WIDTH
            ) -> list[float | None]:
    """The series in ``width`` equal time buckets: each bucket's largest value (a spike
    must not vanish in an average); None where no sample fell."""
    out: list[float | None] = [None] * width
    span = duration or 1.0
    for t, v in points:
        i = min(width - 1, int(t / span * width))
        cur = out[i]
        out[i] = v if cur is None else max(cur, v)
    return out


def sparkline(points: list[tuple[float, float]], duration: float, width: int = WIDTH,
              top: float | None = None) -> str:
    cells = buckets(points, duration, width)
    hi = top if top is not None else max((c for c in cells if c is not None), default=0.0)
    lo = 0.0
    out = []
    for c in cells:
        if c is None:
            out.append(" ")
        elif hi <= lo:
            out.append(BARS[0])
        else:
            out.append(BARS[min(len(BARS) - 1, int((c - lo) / (hi - lo) * (len(BARS) - 1)
                                                   + 0.5))])
    return "".join(out)


def marker_line(series: GaugeSeries, width: int = WIDTH) -> str:
    """'T' at a trip, 'R' at a rollback, on the sparklines' time axis."""
    cells = [" "] * width
    span = series.duration or 1.0
    for m in series.markers:
        i = min(width - 1, max(0, int(m.t / span * width)))
        cells[i] = "T" if m.kind == "trip" else ("R" if cells[i] == " " else cells[i])
    return "".join(cells)


def _fmt(metric: str, v: float) -> str:
    return format_value(metric, v) if metric != "backfill" else f"{v:,.0f} rows/s"


def text_lines(series: GaugeSeries, width: int = WIDTH) -> list[str]:
    """The fallback: one line per series (name, sparkline, median and peak), the markers."""
    if series.empty:
        return []
    dur = series.duration
    rows: list[tuple[str, str, list[tuple[float, float]]]] = []
    for metric in LATENCY:
        if series.series(metric):
            name = "latency p95" if metric == "latency" else "app latency"
            rows.append((name, metric, series.series(metric)))
    for step, pts in series.backfill.items():
        rows.append((f"backfill {step}", "backfill", pts))
    if series.series(LAG):
        rows.append(("replica lag", LAG, series.series(LAG)))
    name_w = max(len(r[0]) for r in rows) if rows else 10
    out = [f"{'':{name_w}}  0:00{' ' * (width - 4 - len(clock(dur)))}{clock(dur)}"]
    for name, metric, pts in rows:
        vals = [v for _t, v in pts]
        line = (f"{name:{name_w}}  {sparkline(pts, dur, width)}  median "
                f"{_fmt(metric, median(vals))}, peak {_fmt(metric, max(vals))}")
        if metric in series.baseline:
            med, sigma = series.baseline[metric]
            line += f" (baseline {_fmt(metric, med)} ± {_fmt(metric, sigma)})"
        out.append(line)
    if series.markers:
        out.append(f"{'':{name_w}}  {marker_line(series, width)}")
        for m in series.markers:
            what = "trip" if m.kind == "trip" else "rollback"
            out.append(f"{'':{name_w}}  {'T' if m.kind == 'trip' else 'R'} {clock(m.t)} "
                       f"{what}: {m.label}")
    return out
