"""The rehearsal's gauges over the run, on real PostgreSQL: recorded as a run records them,
carried on the report, drawn beside its Markdown; no samples, no picture and no link."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.cli import main
from migtui.rehearsal import write_markdown
from tests.plots.helpers import png_size
from tests.rehearsal.test_rehearsal import plan_file, run_rehearsal

# a relative trigger (so a baseline is captured), a backfill slow enough to be sampled, then
# a smoke query that fails while the index exists (a trip, "offer": the rehearsal goes on;
# after the backfill, which would otherwise yield to the tripped gauges)
STEPS = """
    - id: add_note
      sql: ALTER TABLE orders ADD COLUMN note text;
      rollback: ALTER TABLE orders DROP COLUMN note;
    - id: fill_note
      backfill: {table: orders, key: id, set: "note = 'x' || pg_sleep(0.0002)::text",
                 where: "note IS NULL", batch_size: 100}
      rollback: UPDATE orders SET note = NULL;
    - id: add_idx
      sql: CREATE INDEX orders_created_idx ON orders (created_at);
      rollback: DROP INDEX orders_created_idx;
    - id: hold
      sql: SELECT pg_sleep(1.5);
      rollback: SELECT 1;
    """
WATCHED = """\
    risks:
      rollback_triggers:
        - {text: Performance degradation >50%, metric: latency, above: +50%, for: 10s}
        - {text: Critical functionality broken, metric: smoke, above: 0, for: 0s}
    monitoring:
      probes: ["SELECT count(*) FROM orders WHERE id < 100"]
      smoke:
        - "SELECT 1 / (CASE WHEN to_regclass('orders_created_idx') IS NULL THEN 1 ELSE 0 END)"
    """


def drawn_figures(monkeypatch: pytest.MonkeyPatch) -> list:
    import matplotlib.pyplot as plt

    drawn: list = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (drawn.append(fig), close(fig)))
    return drawn


def test_the_rehearsal_records_its_gauges_and_draws_them_beside_its_markdown(
        shop_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = plan_file(tmp_path, STEPS, settings="sample_interval: 250ms", extra=WATCHED)
    report, events = run_rehearsal(path, shop_db, gauges=True, baseline_seconds=1.0,
                                   gauge_every=0.25)
    assert report.ok, report.text()
    assert report.gauges and report.trips

    # recorded the way a run records them: GaugeSample events, forwarded and kept
    samples = [r for r in report.gauge_records if r["kind"] == "GaugeSample"]
    emitted = [e.to_record() for e in events if e.kind == "GaugeSample"]
    assert len(samples) >= 5 and samples == emitted
    assert "GaugeSample" in {r["kind"] for r in report.to_dict()["gauge_records"]}

    series = report.gauge_series()
    assert [v for _t, v in series.series("latency")] == [
        r["values"]["latency"] for r in samples if "latency" in r["values"]]
    assert "latency" in series.baseline  # the relative trigger's baseline: the band
    assert any(m.kind == "trip" and m.label == "Critical functionality broken"
               for m in series.markers)
    assert sum(m.kind == "rollback" for m in series.markers) == 2  # rollback, and again
    assert series.backfill.get("fill_note") and all(
        rate > 0 for _t, rate in series.backfill["fill_note"])

    # the terminal's text carries the sparklines; the Markdown links the picture
    assert "latency p95" in report.text() and "backfill fill_note" in report.text()
    drawn = drawn_figures(monkeypatch)
    md, image = write_markdown(report, tmp_path / "rehearsal.md")
    assert image == tmp_path / "rehearsal-gauges.png"
    width, height = png_size(image)
    assert 600 <= width <= 2000 and 300 <= height <= 2000
    text = md.read_text()
    assert "![The gauges over the rehearsal](rehearsal-gauges.png)" in text
    assert text.count("latency p95") == 1  # under the picture, not twice
    (fig,) = drawn
    lat, fill = fig.axes[0], fig.axes[1]
    line = next(ln for ln in lat.lines if ln.get_label() == "probe latency p95")
    assert [y for y in line.get_ydata() if y == y] == pytest.approx(
        [v * 1000 for _t, v in series.series("latency")])
    trips = [ln.get_xdata()[0] for ln in lat.lines if ln.get_label() == "trip"]
    assert trips == [next(m.t for m in series.markers if m.kind == "trip")]
    fill_line = fill.lines[0]
    assert fill_line.get_label() == "backfill fill_note"
    # the apply's backfill and the re-apply's: two stretches, not one line over the rollback
    assert sum(1 for y in fill_line.get_ydata() if y != y) >= 1


def test_without_gauges_no_picture_and_no_link(shop_db: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = plan_file(tmp_path, """
        - id: add_col
          sql: ALTER TABLE orders ADD COLUMN note text;
          rollback: ALTER TABLE orders DROP COLUMN note;
        """)
    monkeypatch.setenv("MIGTUI_TEST_STAGING_URL", shop_db)
    out = tmp_path / "quiet.md"
    assert main(["rehearse", str(path), "--gauges", "off", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    text = out.read_text()
    assert "# Rehearsal of reh: clean" in text and "gauges: not run" in text
    assert "![" not in text and "-gauges.png" not in text
    assert "The gauges over the rehearsal" not in text
    assert not list(tmp_path.glob("*-gauges.png"))


def test_the_cli_writes_the_picture_when_the_gauges_ran(shop_db: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = plan_file(tmp_path, STEPS, settings="sample_interval: 250ms", extra=WATCHED)
    monkeypatch.setenv("MIGTUI_TEST_STAGING_URL", shop_db)
    out = tmp_path / "watched.md"
    assert main(["rehearse", str(path), "--gauges", "on", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    png = tmp_path / "watched-gauges.png"
    assert f"wrote {out} and {png}" in captured.err
    png_size(png)
    assert "![The gauges over the rehearsal](watched-gauges.png)" in out.read_text()
    assert "latency p95" in captured.out  # the text fallback in the terminal's report
