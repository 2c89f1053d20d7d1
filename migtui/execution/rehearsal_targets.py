"""Where a rehearsal may run from the app: the plan's staging targets, never production."""

from __future__ import annotations

import os
from dataclasses import dataclass

from migtui.db import DsnError, resolve_dsn
from migtui.plan.model import Environment, Plan
from migtui.secrets import redact_url, register_url


@dataclass(frozen=True)
class RehearsalChoice:
    """Where a rehearsal may run: never on production."""

    label: str  # what the operator reads
    target: str  # the target name recorded with the rehearsal ("--dsn" for the app's own)
    dsn: str


def production_urls(plan: Plan) -> set[str]:
    return {os.environ[t.dsn_env] for t in plan.targets.values()
            if t.environment == Environment.production and os.environ.get(t.dsn_env)}


def rehearsal_choices(plan: Plan, dsn: str | None, target: str,
                      production: bool) -> list[RehearsalChoice]:
    """The plan's staging targets first; the app's own database (``dsn``, on ``target``)
    only when that target is not production. Never a production URL."""
    out: list[RehearsalChoice] = []
    prod = production_urls(plan)
    for name, tgt in plan.targets.items():
        if tgt.environment != Environment.staging:
            continue
        try:
            url = resolve_dsn(plan, None, name)
        except DsnError:
            continue
        if url not in prod and url != "postgresql://":
            register_url(url)
            out.append(RehearsalChoice(
                f"target {name} ({tgt.environment.value}): {redact_url(url)}", name, url))
    if dsn and not production and dsn not in prod and not any(c.dsn == dsn for c in out):
        out.append(RehearsalChoice(f"this database, target {target}: {redact_url(dsn)}",
                                   target, dsn))
    return out


def no_rehearsal_target(plan: Plan) -> str:
    envs = ", ".join(f"${t.dsn_env}" for t in plan.targets.values()
                     if t.environment == Environment.staging)
    return ("no staging database to rehearse on: set " + (envs or "a staging target's "
            "dsn_env") + ", or open the app on a non-production database")
