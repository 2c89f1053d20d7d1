"""The gauges over a run: journaled as GaugeSample, plotted beside the exported report
from a real journal, with a text fallback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from migtui.cli import main
from migtui.events import GaugeSample, StepProgress
from migtui.execution import Run, execute
from migtui.journal import read_journal
from migtui.plan import load_plan
from migtui.plots import GaugeSeries, text_lines
from migtui.plots.series import Marker
from migtui.plots.text import sparkline
from migtui.sampler.gauge_samples import GaugeRecorder
from migtui.sampler.snapshot import Snapshot
from migtui.state import RunState
from tests.metrics.helpers import PLAN
from tests.plots.helpers import (
    png_size,
)


def snap(mono: float, latency: float | None, at: dt.datetime | None = None) -> Snapshot:
    return Snapshot(taken_at=at or dt.datetime.now(dt.UTC), mono=mono, elapsed=1.0,
                    duration=0.01, latency_p95=latency, tps=10.0)


def test_the_recorder_downsamples_and_carries_the_backfill_rate():
    out: list[GaugeSample] = []
    rec = GaugeRecorder(out.append, every=5.0)
    rec.on_event(StepProgress(step_id="fill", done=10, total=100, rate=250.0, eta=1.0))
    for i in range(12):  # one snapshot a second for 12 s
        rec.on_snapshot(snap(100.0 + i, 0.001 * (i + 1)))
    assert [s.values["latency"] for s in out] == [0.001, 0.006, 0.011]
    assert out[0].backfill == {"fill": 250.0} and out[0].values["tps"] == 10.0
    rec.on_event(StepProgress(step_id="fill", done=100, total=100, rate=300.0, eta=0.0))
    rec.on_snapshot(snap(120.0, 0.002))
    from migtui.events import StepFinished
    rec.on_event(StepFinished(step_id="fill", action="apply", elapsed=1.0))
    rec.on_snapshot(snap(130.0, 0.002))
    assert out[-2].backfill == {"fill": 300.0} and out[-1].backfill == {}
    # a failed sample is no sample
    n = len(out)
    rec.on_snapshot(Snapshot(taken_at=dt.datetime.now(dt.UTC), mono=200.0, elapsed=None,
                             duration=0.0, error="connection lost"))
    assert len(out) == n


@pytest.fixture
def tripped_run(shop_db, tmp_path) -> Path:
    """A real run: probes of 20 ms against a 5 ms trigger trip it; it rolls back."""
    path = tmp_path / "scraped.yaml"
    path.write_text(PLAN.format(above="5ms", settle="3"), encoding="utf-8")
    plan = load_plan(path)
    with Run(plan, path, shop_db, operator="alice", auto_rollback=True,
             gauge_every=0.25) as run:
        outcome = execute(run)
    assert outcome.status == "rolled_back", outcome
    return path


def test_export_writes_the_gauges_png_beside_the_report(tripped_run, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    drawn: list = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (drawn.append(fig), close(fig)))
    out = tmp_path / "report.md"
    assert main(["export", str(tripped_run), "-o", str(out)]) == 0
    png = tmp_path / "report-gauges.png"
    width, height = png_size(png)
    assert 600 <= width <= 2000 and 300 <= height <= 2000
    assert 10_000 < png.stat().st_size < 1_000_000
    md = out.read_text()
    monitoring = md.split("## Monitoring & Alerts", 1)[1].split("## Documentation", 1)[0]
    assert "![The gauges over the run](report-gauges.png)" in monitoring

    # what was drawn is what the journal holds: the latency (in ms), the trip's moment
    records = list(read_journal(tripped_run.parent / ".migtui" / "scraped.journal.jsonl"))
    samples = [r for r in records if r["kind"] == "GaugeSample"]
    assert len(samples) >= 3
    journal_ms = [r["values"]["latency"] * 1000 for r in samples if "latency" in r["values"]]
    (fig,) = drawn
    latency_ax = fig.axes[0]
    line = next(ln for ln in latency_ax.lines if ln.get_label() == "probe latency p95")
    ys = [y for y in line.get_ydata() if y == y]  # NaN marks a gap
    assert ys == pytest.approx(journal_ms)
    series = GaugeSeries.from_state(RunState.from_records(records))
    trips = [m for m in series.markers if m.kind == "trip"]
    assert trips and any(ln.get_label() == "trip" for ln in latency_ax.lines)
    trip_x = [ln.get_xdata()[0] for ln in latency_ax.lines if ln.get_label() == "trip"]
    assert trip_x == [trips[0].t]
    assert any(m.kind == "rollback" for m in series.markers)
    # and the text fallback beside it
    assert "```text" in monitoring and "latency p95" in monitoring
    assert "T " in monitoring and "trip: Slow probes" in monitoring


def test_export_to_stdout_keeps_only_the_text(tripped_run, tmp_path, capsys):
    assert main(["export", str(tripped_run)]) == 0
    md = capsys.readouterr().out
    assert "latency p95" in md and "-gauges.png" not in md
    assert not list(tmp_path.glob("*-gauges.png"))


def test_the_text_fallback():
    t0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    recs = [GaugeSample(at=t0 + dt.timedelta(seconds=5 * i),
                        values={"latency": 0.002 if i != 6 else 0.04},
                        backfill={"fill": 100.0 * i} if 2 <= i <= 8 else {}).to_record()
            for i in range(12)]
    recs.append({"kind": "ThresholdChanged", "state": "trip", "metric": "latency",
                 "value": 0.04, "limit": 0.003, "trigger": "Slow",
                 "at": (t0 + dt.timedelta(seconds=31)).isoformat()})
    recs.append({"kind": "BaselineRecorded", "metrics": {"latency": {"median": 0.002,
                                                                    "mad": 0.0001}},
                 "at": t0.isoformat()})
    s = GaugeSeries.from_records(recs)
    assert s.duration == 55 and s.markers == [Marker(31.0, "trip", "Slow")]
    lines = text_lines(s, width=12)
    lat = next(ln for ln in lines if ln.startswith("latency p95"))
    assert "▁▁▁▁▁▁█▁▁▁▁▁" in lat  # the spike in its own bucket, the rest at the floor
    assert "median 2.0ms, peak 40ms (baseline 2.0ms ± 0.1ms)" in lat
    assert any(ln.startswith("backfill fill") and "peak 800 rows/s" in ln for ln in lines)
    assert any("T 0:31 trip: Slow" in ln for ln in lines)
    assert sparkline([], 10.0, 4) == "    "


def test_a_long_gap_starts_a_new_session():
    t0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    old = GaugeSample(at=t0, values={"latency": 0.5}).to_record()
    new = [GaugeSample(at=t0 + dt.timedelta(hours=1, seconds=5 * i),
                       values={"latency": 0.001}).to_record() for i in range(3)]
    s = GaugeSeries.from_records([old, *new])
    assert s.series("latency") == [(0.0, 0.001), (5.0, 0.001), (10.0, 0.001)]
    assert GaugeSeries.from_records([]).empty and text_lines(GaugeSeries()) == []
