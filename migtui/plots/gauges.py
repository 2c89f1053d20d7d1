"""The gauges over a run as a picture: latency with its baseline band, backfill rate,
replica lag, and a vertical line at every trip and rollback.

matplotlib is imported here only, and only when a picture is drawn (its Agg backend: no
display). ``write_gauges`` writes a PNG (or an SVG, by the file's suffix).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migtui.plots.series import LAG, LATENCY, GaugeSeries, clock
from migtui.plots.text import buckets

MS = 1000.0
COLORS = {"latency": "#1f77b4", "app_latency": "#2ca02c", "band": "#1f77b4",
          "trip": "#d62728", "rollback": "#9467bd", "limit": "#d62728"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def panels(series: GaugeSeries) -> list[str]:
    """Which panels the picture has, top to bottom."""
    out = []
    if any(series.series(m) for m in LATENCY):
        out.append("latency")
    if series.backfill:
        out.append("backfill")
    if series.series(LAG):
        out.append("lag")
    return out


def write_gauges(series: GaugeSeries, path: str | Path, *, title: str = "") -> Path | None:
    """Draw ``series`` to ``path`` (.png or .svg); None (nothing written) when it is empty."""
    which = panels(series)
    if not which:
        return None
    plt = _pyplot()
    path = Path(path)
    fig, axes = plt.subplots(len(which), 1, sharex=True, squeeze=False,
                             figsize=(9, 1.2 + 2.3 * len(which)))
    try:
        for ax, panel in zip((a[0] for a in axes), which, strict=True):
            {"latency": _latency, "backfill": _backfill, "lag": _lag}[panel](ax, series)
            _markers(ax, series)
            ax.grid(True, alpha=0.3)
            ax.legend(loc="upper left", fontsize=7, framealpha=0.8)
        last = axes[-1][0]
        dur = max(series.duration, *(m.t for m in series.markers), 1.0)
        last.set_xlim(-0.02 * dur, 1.03 * dur)
        last.xaxis.set_major_formatter(_time_formatter(dur))
        start = series.start.strftime("%Y-%m-%d %H:%M:%S UTC") if series.start else ""
        last.set_xlabel(f"time since {start}" if start else "time")
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def broken(pts: list[tuple[float, float]], scale: float = 1.0, usual: float | None = None,
           times: Sequence[float] = ()) -> tuple[list[float], list[float]]:
    """x and y for a line, with a gap (NaN) where it was absent: across a sample that
    lacks it (``times``: every sample's time, ``GaugeSeries.times``), or where no sample
    came for over three times the usual step (``usual``: the sampling cadence,
    ``GaugeSeries.cadence``; by default the line's own median step). A line must not
    pretend to know what happened in between."""
    if usual is None:
        steps = sorted(b[0] - a[0] for a, b in zip(pts, pts[1:], strict=False))
        usual = steps[len(steps) // 2] if steps else 0.0
    xs: list[float] = []
    ys: list[float] = []
    for i, (t, v) in enumerate(pts):
        if i:
            before = pts[i - 1][0]
            skipped = bisect.bisect_right(times, before) < bisect.bisect_left(times, t)
            if skipped or (usual > 0 and t - before > 3 * usual):
                xs.append(float("nan"))
                ys.append(float("nan"))
        xs.append(t)
        ys.append(v * scale)
    return xs, ys


def _time_formatter(duration: float) -> Any:
    from matplotlib.ticker import FuncFormatter

    if duration < 120:
        return FuncFormatter(lambda t, _pos: f"{t:g}s")
    return FuncFormatter(lambda t, _pos: clock(t) if t >= 0 else "")


def _latency(ax: Any, s: GaugeSeries) -> None:
    for metric in LATENCY:
        pts = s.series(metric)
        if not pts:
            continue
        name = "probe latency p95" if metric == "latency" else "app latency (mean/stmt)"
        ax.plot(*broken(pts, MS, s.cadence, s.times), color=COLORS[metric],
                lw=1.3, marker="." if len(pts) < 40 else None, label=name)
    if "latency" in s.baseline:
        med, sigma = s.baseline["latency"]
        ax.axhspan((med - sigma) * MS, (med + sigma) * MS, color=COLORS["band"], alpha=0.15,
                   label="baseline median ± σ")
        ax.axhline(med * MS, color=COLORS["band"], lw=0.8, ls="--")
    if "latency" in s.limits:
        ax.axhline(s.limits["latency"] * MS, color=COLORS["limit"], lw=0.8, ls=":",
                   label="trip limit")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)


def _backfill(ax: Any, s: GaugeSeries) -> None:
    for step, pts in s.backfill.items():  # broken where it did not run (a rollback between)
        ax.plot(*broken(pts, usual=s.cadence, times=s.times), lw=1.3, drawstyle="steps-post",
                marker="o" if len(pts) < 10 else None, ms=3, label=f"backfill {step}")
    ax.set_ylabel("rows / s")
    ax.set_ylim(bottom=0)


def _lag(ax: Any, s: GaugeSeries) -> None:
    pts = s.series(LAG)
    ax.plot(*broken(pts, usual=s.cadence, times=s.times), color="#ff7f0e", lw=1.3,
            label="replica replay lag")
    ax.set_ylabel("lag (s)")
    ax.set_ylim(bottom=0)


def _markers(ax: Any, s: GaugeSeries) -> None:
    seen: set[str] = set()
    for m in s.markers:
        label = None if m.kind in seen else ("trip" if m.kind == "trip" else "rollback")
        seen.add(m.kind)
        ax.axvline(m.t, color=COLORS[m.kind], lw=1.2, ls="-" if m.kind == "trip" else "--",
                   label=label)


def peak_buckets(series: GaugeSeries, metric: str, width: int = 48) -> list[float | None]:
    """The series as the text fallback buckets it (for checks that both agree)."""
    return buckets(series.series(metric), series.duration, width)
