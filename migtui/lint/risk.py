"""Risk levels per table and zero-downtime flags, derived from the findings."""

from __future__ import annotations

from migtui.lint.context import bare
from migtui.lint.findings import Finding
from migtui.plan.model import Plan, RiskLevel

CRITICAL_SECONDS = 60.0  # an error that holds a blocking lock this long is critical
_BLOCKING = ("ACCESS EXCLUSIVE", "SHARE")
_ORDER = [RiskLevel.low, RiskLevel.medium, RiskLevel.high, RiskLevel.critical]

BREAKING_RULES = {"drop-column", "drop-table", "rename-column", "rename-table"}
LOCK_RULES = {"index-not-concurrent", "drop-index-not-concurrent", "reindex-not-concurrent",
              "foreign-key-not-valid", "check-not-valid", "unique-without-using-index",
              "set-not-null", "change-column-type", "add-column-volatile-default",
              "add-serial-primary-key", "vacuum-full", "cluster", "unbatched-update",
              "unbatched-delete"}
INDEX_RULES = {"index-not-concurrent", "drop-index-not-concurrent", "reindex-not-concurrent",
               "unique-without-using-index", "concurrently-in-transaction"}

OLD_CODE_ITEM = "Old code works with new schema"
LOCK_ITEM = "Lock duration minimized"
INDEX_ITEM = "Index creation strategies"


def level_of(f: Finding) -> RiskLevel:
    if f.severity == "error":
        long = f.seconds is not None and f.seconds >= CRITICAL_SECONDS
        if long and f.lock.startswith(_BLOCKING):
            return RiskLevel.critical
        return RiskLevel.high
    if f.severity == "warning":
        return RiskLevel.medium
    return RiskLevel.low


def _derive(findings: list[Finding]) -> tuple[RiskLevel, str]:
    if not findings:
        return RiskLevel.low, "no lint findings"
    level = max((level_of(f) for f in findings), key=_ORDER.index)
    worst = [f for f in findings if level_of(f) == level]
    seen: list[str] = []
    for f in worst:
        label = f"{f.rule} in {f.step_id}" + (" (rollback)" if f.which == "rollback" else "")
        if f.estimate:
            label += f": {f.estimate}"
        if label not in seen:
            seen.append(label)
    return level, "; ".join(seen)


def derived_risks(plan: Plan, findings: list[Finding]) -> dict[str, tuple[RiskLevel, str]]:
    """table -> (risk level, why). The tables of schema_changes.tables_to_modify come first,
    keyed as written; an author's ``risk`` wins, with ``risk_reason`` (and the lint's view
    in the reason when it differs). Other tables that have findings follow."""
    active = [f for f in findings if f.active and f.table]
    by_table: dict[str, list[Finding]] = {}
    for f in active:
        by_table.setdefault(bare(f.table), []).append(f)
    out: dict[str, tuple[RiskLevel, str]] = {}
    for tc in plan.schema_changes.tables_to_modify:
        level, why = _derive(by_table.pop(bare(tc.table), []))
        if tc.risk is not None:
            given = tc.risk_reason or "no reason given"
            note = f" (lint: {level.value}: {why})" if tc.risk != level else ""
            out[tc.table] = (tc.risk, f"set by the author: {given}{note}")
        else:
            out[tc.table] = (level, why)
    for table, fs in by_table.items():
        out.setdefault(table, _derive(fs))
    return out


def zero_downtime_flags(plan: Plan, findings: list[Finding]) -> list[str]:
    """Zero-downtime checklist items the findings contradict, as
    'ITEM: step_id: rule: message'. ITEM is the template's wording, e.g.
    'Old code works with new schema'."""
    out: list[str] = []
    for f in findings:
        if not f.active:
            continue
        if f.rule in BREAKING_RULES and f.which == "sql":
            out.append(f"{OLD_CODE_ITEM}: {f.step_id}: {f.rule}: {f.message}")
        if f.rule in INDEX_RULES and f.severity != "info":
            out.append(f"{INDEX_ITEM}: {f.step_id}: {f.rule}: {f.message}")
        elif f.rule in LOCK_RULES and f.severity != "info":
            where = " (rollback)" if f.which == "rollback" else ""
            est = f" [{f.estimate}]" if f.estimate else ""
            out.append(f"{LOCK_ITEM}: {f.step_id}{where}: {f.rule}: {f.message}{est}")
    return out
