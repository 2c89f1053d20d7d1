"""The rehearsal report as Markdown, with the gauges over the rehearsal drawn beside it.

    path, image = write_markdown(report, "rehearsal.md")   # image: rehearsal-gauges.png | None

The same picture as the exported run report (``migtui.plots``: latency and its baseline
band, trip moments, rollbacks, backfill rate, replica lag), from the samples the
rehearsal's ``GaugeRecorder`` kept; under it the text fallback. No samples (the gauges did
not run): no picture and no link. The text is scrubbed of secrets before it is written.
"""

from __future__ import annotations

from pathlib import Path

from migtui.plots import gauges_beside, text_lines
from migtui.rehearsal.report import RehearsalReport
from migtui.secrets import scrub


def markdown(report: RehearsalReport, image: str | None = None) -> str:
    """The report; ``image``: the picture's file name, linked under "The gauges"."""
    verdict = "clean" if report.ok else "FAILED"
    out = [f"# Rehearsal of {report.plan_id}: {verdict}", "",
           f"{report.summary}", "",
           f"- target: {report.target} (database {report.database})",
           f"- by {report.operator}, started {report.started_at}",
           f"- plan checksum: `{report.plan_checksum}`", "",
           "## Report", "", "```text", report.text(gauges=False), "```"]
    series = report.gauge_series()
    lines = text_lines(series)
    if lines:
        start = series.start.strftime("%Y-%m-%d %H:%M:%S UTC") if series.start else ""
        out += ["", "## The gauges over the rehearsal", "",
                f"Sampled from {start}: the apply, the rollback and the re-apply under "
                f"the plan's rollback triggers.", ""]
        if image:
            out += [f"![The gauges over the rehearsal]({image})", ""]
        out += ["```text", *lines, "```"]
    return scrub("\n".join(out) + "\n")


def write_markdown(report: RehearsalReport, out: str | Path) -> tuple[Path, Path | None]:
    """Write the report to ``out`` and its picture beside it (``<stem>-gauges.png``) when
    the gauges ran; (the report's path, the picture's path or None)."""
    out = Path(out)
    image = gauges_beside(out, report.gauge_series(),
                          title=f"{report.plan_id}: the gauges over the rehearsal "
                                f"on {report.target}")
    out.write_text(markdown(report, image.name if image else None), encoding="utf-8")
    return out, image
