"""What the lint reports: a Finding per unsafe statement, and the rule catalogue."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Which = Literal["sql", "rollback"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
_RANK = {"info": 1, "warning": 2, "error": 3}


def rank(severity: str) -> int:
    """error 3, warning 2, info 1; anything else ('never') 99, above every severity."""
    return _RANK.get(severity, 99)


def at_or_above(severity: str, threshold: str) -> bool:
    return rank(severity) >= rank(threshold)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    step_id: str
    which: Which
    line: int  # 1-based line of the statement in the step's sql / rollback; 0: lint_ignore
    statement: str
    message: str
    lock: str = ""  # e.g. "ACCESS EXCLUSIVE"; "" when the rule is not about a lock
    rewrites: bool = False  # rewrites the whole table (and its indexes)
    breaks: str = ""  # which old application code it breaks, or ""
    safe_alternative: str = ""  # SQL (or a step) that does the same safely
    estimate: str | None = None  # e.g. "rewrites ~1.2 GB: ~40 s at 30 MB/s"
    seconds: float | None = None  # the estimate's duration, for sorting and risk levels
    suppressed: str | None = None  # the reason, when an ignore applies
    table: str | None = None  # the table it is about, when there is one
    plan_line: int | None = None  # line in the plan file, when known (see locate.py)

    @property
    def active(self) -> bool:
        """Not suppressed: it counts for exit codes and risk levels."""
        return self.suppressed is None

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity  # when the table's size is unknown
    title: str
    size_aware: bool = False  # small tables lower it to info, large ones raise it to error


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("index-not-concurrent", "error", "CREATE INDEX without CONCURRENTLY", True),
    Rule("drop-index-not-concurrent", "warning", "DROP INDEX without CONCURRENTLY"),
    Rule("reindex-not-concurrent", "error", "REINDEX without CONCURRENTLY", True),
    Rule("concurrently-in-transaction", "error", "CONCURRENTLY inside a transaction block"),
    Rule("foreign-key-not-valid", "error", "FOREIGN KEY added without NOT VALID", True),
    Rule("check-not-valid", "error", "CHECK constraint added without NOT VALID", True),
    Rule("unique-without-using-index", "error",
         "UNIQUE or PRIMARY KEY added without USING INDEX", True),
    Rule("set-not-null", "error", "SET NOT NULL on an existing column", True),
    Rule("change-column-type", "error", "ALTER COLUMN ... TYPE", True),
    Rule("add-column-volatile-default", "error", "ADD COLUMN with a volatile default", True),
    Rule("add-required-column", "error",
         "NOT NULL column without a default added to an existing table", True),
    Rule("add-serial-primary-key", "error",
         "serial or identity column added to an existing table", True),
    Rule("drop-column", "warning", "DROP COLUMN"),
    Rule("drop-table", "warning", "DROP TABLE"),
    Rule("rename-column", "warning", "RENAME COLUMN"),
    Rule("rename-table", "warning", "RENAME a table"),
    Rule("vacuum-full", "error", "VACUUM FULL", True),
    Rule("cluster", "error", "CLUSTER", True),
    Rule("truncate-cascade", "error", "TRUNCATE ... CASCADE"),
    Rule("unbatched-update", "warning", "UPDATE of a whole table in one statement", True),
    Rule("unbatched-delete", "warning", "DELETE of a whole table in one statement", True),
    Rule("missing-rollback", "info", "step marked irreversible"),
    Rule("prefer-bigint", "info", "int key column: prefer bigint"),
    Rule("prefer-timestamptz", "warning", "timestamp without time zone: prefer timestamptz"),
    Rule("prefer-text", "warning", "char(n): prefer text or varchar"),
    Rule("suppression-without-reason", "warning", "an ignore without a reason"),
    Rule("suppression-unknown-rule", "warning", "an ignore naming no known rule"),
)}
