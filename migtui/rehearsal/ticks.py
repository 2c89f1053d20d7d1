"""What a rehearsal proves on the plan's checklists: the verification checks it runs on the
applied state, and the staging and preparation items it ticks, each with its evidence."""

from __future__ import annotations

from typing import Any

import psycopg

from migtui.events import Emit, ItemTicked
from migtui.plan import Plan
from migtui.plan.model import RunCheck, RunRehearse, slug
from migtui.rehearsal.report import CheckResult, RehearsalReport
from migtui.runner import Runner, RunnerError
from migtui.secrets import scrub

STAGING_ITEMS = {  # testing.staging item texts (as slugs) -> what proves them
    slug("Migration executed successfully"): "executed",
    slug("Rollback tested"): "rollback",
    slug("Performance acceptable"): "performance",
}
PREPARATION_ITEMS = {
    slug("Test migration on staging"): "clean",
    slug("Verify rollback procedures"): "rollback",
}



def run_checks(plan: Plan, runner: Runner) -> list[CheckResult]:
    """Checklist ``check`` bindings and monitoring integrity checks, on the applied state."""
    todo: list[tuple[str, str, Any]] = []
    for _key, heading, items in plan.checklists():
        for item in items:
            if isinstance(item.run, RunCheck):
                todo.append((f"{heading}: {item.text}", item.run.check, item.run.expect))
    for ic in plan.monitoring.integrity:
        todo.append((f"integrity: {ic.name or ic.sql}", ic.sql, ic.expect))
    out: list[CheckResult] = []
    for name, sql, expect in todo:
        try:
            out.append(CheckResult(name, True, runner.check(sql, expect)))
        except (RunnerError, psycopg.Error) as e:
            out.append(CheckResult(name, False, scrub(str(e))))
    return out


# ---------------------------------------------------------------- checklist ticks


def tick_items(plan: Plan, report: RehearsalReport, emit: Emit, operator: str) -> None:
    """Tick the staging items the rehearsal proved, with the evidence."""
    fwd = report.pass_("apply")
    checks_ok = all(c.ok for c in report.checks)
    executed = fwd is not None and fwd.ok and checks_ok
    rollback_ok = report.ok
    where = f"target {report.target}, database {report.database}, {report.started_at[:16]}"
    proofs: dict[str, str | None] = {
        "executed": (f"rehearsal: {len(fwd.steps)} step(s) applied in "
                     f"{sum(s.elapsed or 0 for s in fwd.steps.values()):.2f}s, "
                     f"{len(report.checks)} check(s) passed ({where})"
                     if executed and fwd else None),
        "rollback": (f"rehearsal: rolled back to an identical fingerprint "
                     f"({report.fingerprint_objects} objects) and "
                     + (f"equal data checksums of {', '.join(report.tables) or 'no table'}"
                        if report.data_proven else "data not proven (traffic wrote to "
                        f"{', '.join(report.tables)})") + f"; re-applied ({where})"
                     if rollback_ok else None),
        "performance": (f"rehearsal under traffic: no rollback trigger tripped ({where})"
                        if report.performance_ok and report.ok else None),
        "clean": (f"rehearsal clean: applied, checked, rolled back to an identical "
                  f"fingerprint, re-applied ({where})" if report.ok else None),
    }
    done: set[str] = set()

    def tick(key: str, evidence: str | None) -> None:
        if evidence and key not in done:
            done.add(key)
            emit(ItemTicked(item=key, done=True, operator=operator, evidence=evidence))

    for ckey, _heading, items in plan.checklists():
        for item in items:
            key = f"{ckey}/{item.key}"
            if isinstance(item.run, RunRehearse):
                tick(key, proofs["clean"])
            elif ckey == "testing.staging" and slug(item.text) in STAGING_ITEMS:
                tick(key, proofs[STAGING_ITEMS[slug(item.text)]])
            elif ckey.startswith("phases.") and slug(item.text) in PREPARATION_ITEMS:
                tick(key, proofs[PREPARATION_ITEMS[slug(item.text)]])
