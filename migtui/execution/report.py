"""The report export: the plan and its journal as the filled-in template (Markdown).

One export for the app and the demo: the lint's findings (sized with the tables' real
sizes when a database is at hand), the derived risks, the zero-downtime flags, and the
plan's checksum; the text is scrubbed of secrets before it is written. The gauges over
the run are drawn beside it (``migtui.plots``), with a text fallback in the Markdown.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from migtui import lint
from migtui.document import export_markdown
from migtui.plan import Plan
from migtui.secrets import scrub
from migtui.state import RunState


def report_text(plan: Plan, state: RunState, *, dsn: str | None = None,
                plan_checksum: str | None = None, gauges_image: str | None = None) -> str:
    """The report, scrubbed. Blocking when ``dsn`` is given (reads table sizes)."""
    sizes = None
    if dsn:
        with contextlib.suppress(Exception):  # sizes only sharpen the risk review
            sizes = lint.TableSizes.read(dsn)
    findings = lint.lint_plan(plan, sizes=sizes)
    text = export_markdown(plan, state, findings=findings,
                           risks=lint.derived_risks(plan, findings),
                           flags=lint.zero_downtime_flags(plan, findings),
                           plan_checksum=plan_checksum, gauges_image=gauges_image)
    return scrub(text)


def default_report_path(plan_path: str | Path) -> Path:
    p = Path(plan_path)
    return p.with_name(f"{p.stem}.report.md")


def write_report(plan: Plan, state: RunState, out: str | Path, *, dsn: str | None = None,
                 plan_checksum: str | None = None) -> Path:
    """The report at ``out``, and the gauges' picture beside it (``<stem>-gauges.png``)
    when the journal holds gauge samples."""
    from migtui.plots import GaugeSeries, gauges_beside

    out = Path(out)
    image = gauges_beside(out, GaugeSeries.from_state(state),
                          title=f"{plan.id}: the gauges over the run")
    out.write_text(report_text(plan, state, dsn=dsn, plan_checksum=plan_checksum,
                               gauges_image=image.name if image else None),
                   encoding="utf-8")
    return out
