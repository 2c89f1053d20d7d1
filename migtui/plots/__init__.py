"""Plots of the gauges over a run, from the journal's ``GaugeSample`` records.

* ``series``: the journal's samples, baseline, trips and rollbacks as series (pure);
* ``text``: the terminal fallback, sparklines;
* ``gauges``: the picture (matplotlib, Agg backend, imported only when drawing).

``gauges_beside(markdown_path, series)`` writes ``<stem>-gauges.png`` beside a report.
"""

from __future__ import annotations

from pathlib import Path

from migtui.plots.series import GaugeSeries, Marker
from migtui.plots.text import text_lines

__all__ = ["GaugeSeries", "Marker", "gauges_beside", "gauges_path", "text_lines"]


def gauges_path(markdown_path: str | Path, suffix: str = ".png") -> Path:
    p = Path(markdown_path)
    return p.with_name(f"{p.stem}-gauges{suffix}")


def gauges_beside(markdown_path: str | Path, series: GaugeSeries, *, title: str = "",
                  suffix: str = ".png") -> Path | None:
    """Write the picture beside the report; None when there is nothing to plot or
    matplotlib is not installed (the report keeps its text fallback)."""
    if series.empty:
        return None
    from migtui.plots.gauges import write_gauges

    try:
        return write_gauges(series, gauges_path(markdown_path, suffix), title=title)
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
