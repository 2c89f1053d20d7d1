"""The staging rehearsal: apply → verify → roll back → prove nothing changed → apply again.

    from migtui.rehearsal import rehearse, rehearsal_gate
    report = rehearse(plan, plan_path, dsn, emit=bus, control=control)
    status, message = rehearsal_gate(plan, plan_path, plan_checksum(text))
    md, png = write_markdown(report, "rehearsal.md")   # the gauges' picture beside it

Imports no Textual.
"""

from migtui.rehearsal.diff import Difference, compare
from migtui.rehearsal.fingerprint import Fingerprint
from migtui.rehearsal.gate import rehearsal_gate, rehearsals
from migtui.rehearsal.markdown import write_markdown
from migtui.rehearsal.rehearse import JOURNAL_KINDS, RehearsalError, rehearse, traffic_present
from migtui.rehearsal.report import RehearsalReport

__all__ = [
    "JOURNAL_KINDS", "Difference", "Fingerprint", "RehearsalError", "RehearsalReport", "compare",
    "rehearsal_gate", "rehearsals", "rehearse", "traffic_present", "write_markdown",
]
