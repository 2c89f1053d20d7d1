"""The lint's prediction held against the trace, and what a measured lock would cost elsewhere.

The prediction for a statement is ``migtui.sql.lock_mode`` (the table lock the parse tree
implies) and whether a lint finding on that statement says it rewrites the table. A trace
that disagrees gets a sentence of its own ("predicted SHARE UPDATE EXCLUSIVE, took ACCESS
EXCLUSIVE on public.orders"), so lint gaps surface from real runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migtui import fmt
from migtui.lint import Finding
from migtui.sql import Statement, relation_names
from migtui.trace.model import MODES, StatementTrace, strength, strongest

if TYPE_CHECKING:
    from migtui.trace.catalog import Snapshot

TABLE_KINDS = ("table", "partitioned table", "materialized view")
# the kinds whose lock the prediction is about: a view's lock blocks its readers as a table's
LOCK_KINDS = (*TABLE_KINDS, "view")


def predicted_rewrite(findings: list[Finding], step_id: str, which: str, line: int) -> bool:
    return any(f.rewrites and f.step_id == step_id and f.which == which and f.line == line
               for f in findings)


def judge(tr: StatementTrace, st: Statement, findings: list[Finding],
          before: Snapshot, created: frozenset[str] | set[str] = frozenset()) -> None:
    """Fill in the prediction and the disagreements of ``tr``.

    A statement that takes no new lock, or a weaker one, agrees when its transaction already
    held the predicted lock (or a stronger one) on a relation it names: PostgreSQL does not
    take a lock twice. A rewrite of a relation an earlier statement of the traced run created
    (``created``, by name) costs nothing: the lint skips tables the plan creates.
    """
    tr.predicted_lock = st.lock
    tr.predicted_rewrite = predicted_rewrite(findings, tr.step_id, tr.which, tr.line)
    tables = [lk for lk in tr.locks if lk.kind in LOCK_KINDS]
    if tr.predicted_lock in MODES or tr.predicted_lock == "none":
        took = strongest([lk.mode for lk in tables])
        held = strongest([took] + [lk.mode for lk in tr.held_before if lk.kind in LOCK_KINDS])
        want = strength(tr.predicted_lock)
        weaker = strength(took) < want
        if (strength(took) > want or (weaker and strength(held) < want and not tr.sampled)):
            on = ", ".join(sorted({lk.relation for lk in tables if lk.mode == took}))
            tr.disagreements.append(
                f"predicted {tr.predicted_lock}, took {took}" + (f" on {on}" if on else ""))
    tables_rewritten = [r for r in tr.rewritten
                        if r.split(" ", 1)[0] in ("table", "materialized")]
    rewrote = [r for r in tables_rewritten if r.rsplit(" ", 1)[-1] not in created]
    if rewrote and not tr.predicted_rewrite:
        tr.disagreements.append(f"predicted no rewrite, rewrote {', '.join(rewrote)}")
    elif tr.predicted_rewrite and not tables_rewritten:
        named = relation_names(st.node)
        existed = {r.name.split(".", 1)[-1] for r in before.relations.values()}
        if any(n.split(".")[-1] in existed for n in named):  # an empty table still rewrites
            tr.disagreements.append("predicted a rewrite, the table kept its data file")


def project_cost(tr: StatementTrace, traced_rows: int | None, target_rows: int | None,
                 where: str = "staging") -> str | None:
    """'ACCESS EXCLUSIVE on public.orders for 3.2 s on staging (40k rows); production has 12M
    rows: expect about 16 min' — when the statement's time grows with the table."""
    top = tr.strongest
    if top is None or tr.held_seconds is None or strength(top.mode) < strength("SHARE"):
        return None
    text = f"{top.mode} on {top.relation} for {_seconds(tr.held_seconds)} on {where}"
    if traced_rows is None or traced_rows < 0:
        return text
    text += f" ({fmt.rows(traced_rows)} rows)"
    if target_rows is None or target_rows < 0:
        return text
    if traced_rows == 0:
        return text + f"; production has {fmt.rows(target_rows)} rows: the time there is unknown"
    scaled = tr.held_seconds * target_rows / traced_rows
    return text + f"; production has {fmt.rows(target_rows)} rows: expect about {_seconds(scaled)}"


def _seconds(s: float) -> str:
    return f"{s:.2g} s" if s < 10 else fmt.duration_setting(s)
