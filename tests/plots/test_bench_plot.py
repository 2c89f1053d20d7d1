"""The benchmarks' plot helper (tests/benchmarks/common.py): a PNG beside RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.plots.helpers import png_size

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_plot_series_writes_a_png_beside_results(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "RESULTS.md")
    out = common.plot_series("bench_x", "x", [
        ("p99 (ms)", {"migtui": [1.0, 2.0, None, 3.0], "psql": [1.0, 40.0, 80.0, 2.0]}),
        ("tps", {"migtui": [100, 90, 95, 100]})])
    assert out == tmp_path / "bench_x.png"
    width, height = png_size(out)
    assert width > 500 and height > 300
    sys.modules.pop("common", None)
