"""Risk review from parsed SQL: unsafe-operation lint, risk levels, zero-downtime hints.

No Textual here: the CLI, the export, the TUI and the rehearsal all call this.
"""

from migtui.lint.engine import lint_plan
from migtui.lint.findings import RULES, SEVERITIES, Finding, Rule, at_or_above
from migtui.lint.locate import locate
from migtui.lint.risk import derived_risks, zero_downtime_flags
from migtui.lint.sizes import TableSize, TableSizes

__all__ = [
    "RULES", "SEVERITIES", "Finding", "Rule", "TableSize", "TableSizes", "at_or_above",
    "derived_risks", "lint_plan", "locate", "zero_downtime_flags",
]
