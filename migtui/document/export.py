"""Render a plan and its journal as the migration-plan template, filled in.

Headings, their order and the tables' columns are the template's, one for one. Ticks,
evidence, baselines, step results, trips, rollbacks and notes come from the journal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from migtui.document import meta
from migtui.document.run_log import communication, session_date, summary, tripped_labels
from migtui.fmt import duration_document
from migtui.plan import outline
from migtui.plan.model import Backfill, ChecklistItem, Metric, Plan, Step
from migtui.secrets import scrub
from migtui.state import RunState

_METRIC_ORDER = [Metric.latency, Metric.error_rate, Metric.connection_pool, Metric.disk]


def _cell(v: Any) -> str:
    text = "" if v is None else str(v)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    rows = [list(r) for r in rows] or [[""] * len(headers)]
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("-" * (len(h) + 2) for h in headers) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out


def _item_line(item: ChecklistItem, done: bool, evidence: str) -> str:
    text = item.text
    extra = "; ".join(x for x in (item.note or "", evidence) if x)
    if extra:
        text += f" — {extra}"
    data: dict[str, Any] = {}
    if item.id:
        data["id"] = item.id
    if item.run is not None:
        data["run"] = item.run.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    line = f"- [{'x' if done else ' '}] {text}"
    return line + (" " + meta.html(data) if data else "")


def _checklist(key: str, items: list[ChecklistItem], state: RunState) -> list[str]:
    out = []
    for item in items:
        tick = state.ticks.get(f"{key}/{item.key}")
        done = tick.done if tick else item.done
        evidence = ""
        if tick and tick.done:
            evidence = f"ticked by {tick.operator} at {_ts(tick.at)}"
            if tick.evidence:
                evidence += f" ({tick.evidence})"
        out.append(_item_line(item, done, evidence))
    return out


def _ts(value: Any) -> str:
    if isinstance(value, dt.datetime):
        d = value
    else:
        try:
            d = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC)
    return d.strftime("%Y-%m-%d %H:%M UTC") if d.tzinfo else d.strftime("%Y-%m-%d %H:%M")


def _fmt_metric(metric: Metric, value: float | None) -> str:
    if value is None:
        return ""
    if metric in (Metric.latency, Metric.lock_waits):
        return f"{value * 1000:.1f} ms"
    if metric in (Metric.error_rate, Metric.connection_pool, Metric.disk):
        return f"{value:.1f}%"
    if metric == Metric.tps:
        return f"{value:.0f} tps"
    return f"{value:g}"


def _backfill_sql(b: Backfill) -> str:
    where = f" WHERE {b.where}" if b.where else ""
    return (f"-- backfilled by migtui in keyset batches on {b.table}.{b.key}\n"
            f"UPDATE {b.table} SET {b.set}{where};")


def _rollback_sql(step: Step) -> str | None:
    rb = step.rollback_backfill
    return _backfill_sql(rb) if rb is not None else step.rollback_sql


def _step_sql(step: Step) -> tuple[str, str | None]:
    """What goes into the migration file and the rollback script for a step."""
    if step.sql is not None:
        return step.sql.strip(), _rollback_sql(step)
    if step.backfill is not None:
        return _backfill_sql(step.backfill), _rollback_sql(step)
    if step.check is not None:
        expect = f" -- expect {step.check.expect}" if step.check.expect else ""
        return f"{step.check.sql.strip()};{expect}", None
    if step.command is not None:
        return f"-- shell: {step.command.run}", None
    return f"-- manual: {step.manual}", None


def _step_meta(step: Step) -> dict[str, Any]:
    data = step.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    data.pop("sql", None)
    if step.rollback_backfill is None:  # a backfill rollback keeps its form in the meta
        data.pop("rollback", None)
    return data


def _migration_file(plan: Plan) -> list[str]:
    if not plan.steps:
        return ["-- Add migration SQL here"]
    out: list[str] = []
    for step in plan.steps:
        forward, _ = _step_sql(step)
        head = f"-- step {step.id}" + (f": {step.description}" if step.description else "")
        out += [head, meta.sql(_step_meta(step)), forward.rstrip(";") + ";"
                if step.sql is not None or step.backfill is not None else forward, ""]
    return out[:-1]


def _rollback_file(plan: Plan) -> list[str]:
    out: list[str] = []
    for step in reversed(plan.steps):
        rollback = _rollback_sql(step)
        if rollback:
            out += [f"-- undo {step.id}", meta.sql({"step": step.id}),
                    rollback.strip().rstrip(";") + ";", ""]
        elif step.irreversible:
            out += [f"-- {step.id} is irreversible: {step.irreversible}", ""]
    return out[:-1] if out else ["-- Add rollback SQL here"]


def export_markdown(plan: Plan, state: RunState | None = None,
                    findings: Sequence[Any] = (), risks: dict[str, Any] | None = None,
                    flags: Sequence[str] = (), plan_checksum: str | None = None,
                    gauges_image: str | None = None) -> str:
    """The filled-in template. ``findings``, ``risks`` and ``flags`` come from the lint;
    ``plan_checksum`` picks the rehearsals of this exact plan text for the Timeline;
    ``gauges_image``: the gauges' picture beside the report, linked from Monitoring."""
    st = state or RunState()
    risks = risks or {}
    L: list[str] = [f"# {outline.TITLE}", ""]
    head: dict[str, Any] = {"migtui": 1, "id": plan.id, "title": plan.title}
    for key in ("targets", "default_target", "settings", "monitoring"):
        head[key] = getattr(plan, key)
    L.append(meta.html(_jsonable(head)))
    L.append("")
    log = communication(plan, st)
    L += [f"## {outline.SESSION}: {session_date(plan, log)}",
          f"### {outline.MIGRATION_TYPE}: {plan.type.label}",
          f"### {outline.AGENT}: {plan.agent}", ""]
    outcome = summary(log)
    L += [*outcome, "", "---", ""] if outcome else ["---", ""]

    L += [_h2(outline.OVERVIEW), *_checklist("overview", plan.overview, st), "", "---", ""]

    sc = plan.schema_changes
    tables, new, fields = outline.SCHEMA.subs
    L += [_h2(outline.SCHEMA), "", _h3(tables)]
    rows = []
    for t in sc.tables_to_modify:
        level, why = _risk_cell(t, risks)
        rows.append([t.table, t.change, t.description, f"{level}{why}"])
    L += _table(tables.columns, rows)
    L += ["", _h3(new)]
    L += _table(new.columns,
                [[t.table, t.purpose, t.relationships, t.indexes] for t in sc.new_tables])
    L += ["", _h3(fields)]
    L += _table(fields.columns,
                [[f.table, f.field, f.action.capitalize(), f.type, f.default] for f in sc.fields])
    L += ["", "---", "", _h2(outline.STRATEGY), ""]
    for i, ph in enumerate(plan.phases, 1):
        L += [f"### {outline.phase_title(i, ph.name)}",
              *_checklist(f"phases.{ph.key}", ph.items, st), ""]
    forward, backward = outline.SCRIPTS.subs
    L += ["---", "", _h2(outline.SCRIPTS), "", _h3(forward), "```sql",
          *_migration_file(plan), "```", "", _h3(backward), "```sql",
          *_rollback_file(plan), "```", "", "---", ""]

    zd = plan.zero_downtime
    compat, perf = outline.ZERO_DOWNTIME.subs
    L += [_h2(outline.ZERO_DOWNTIME), "", _h3(compat),
          *_checklist("zero_downtime.application_compatibility", zd.application_compatibility,
                      st)]
    L += [f"- ⚠ {f}" for f in flags]
    L += ["", _h3(perf),
          *_checklist("zero_downtime.database_performance", zd.database_performance, st),
          *_locks_taken(st, plan_checksum), "", "---", ""]

    dm = plan.data_migration
    data, validation = outline.DATA_MIGRATION.subs
    L += [_h2(outline.DATA_MIGRATION), "", _h3(data)]
    L += _table(data.columns,
                [[d.source, d.destination, d.transformation, d.volume] for d in dm.data])
    L += ["", _h3(validation), *_checklist("data_migration.validation", dm.validation, st),
          "", "---", ""]

    areas, triggers = outline.RISKS.subs
    L += [_h2(outline.RISKS), "", _h3(areas)]
    rows = [[r.risk, r.impact, r.probability, r.mitigation] for r in plan.risks.high_risk_areas]
    for f in findings:
        if getattr(f, "suppressed", None) or getattr(f, "severity", "") == "info":
            continue
        rows.append([f"{f.step_id}: {f.message} ({f.rule})",
                     f"{getattr(f, 'lock', '') or ''} lock"
                     + ("; rewrites table" if getattr(f, "rewrites", False) else ""),
                     f.severity, _cell(getattr(f, "safe_alternative", "") or "")])
    L += _table(areas.columns, rows)
    L += ["", _h3(triggers)]
    tripped = tripped_labels(plan, st)
    for trig in plan.risks.rollback_triggers:
        data = trig.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.pop("text", None)
        hit = trig.label in tripped or (trig.metric is not None and trig.metric.value in tripped)
        L.append(f"- [{'x' if hit else ' '}] {trig.label} {meta.html(data)}")
    staging, readiness = outline.TESTING.subs
    L += ["", "---", "", _h2(outline.TESTING), "", _h3(staging),
          *_checklist("testing.staging", plan.testing.staging, st), "",
          _h3(readiness),
          *_checklist("testing.production_readiness", plan.testing.production_readiness, st),
          "", "---", ""]

    cc = plan.code_changes
    backend, frontend = outline.CODE_CHANGES.subs
    L += [_h2(outline.CODE_CHANGES), "", _h3(backend)]
    L += _table(backend.columns,
                [[c.file, c.change, c.description, c.testing] for c in cc.backend])
    L += ["", _h3(frontend)]
    L += _table(frontend.columns,
                [[c.file, c.change, c.description, c.testing] for c in cc.frontend])
    (metrics,) = outline.MONITORING.subs
    L += ["", "---", "", _h2(outline.MONITORING), "", _h3(metrics)]
    L += _table(metrics.columns,
                _metric_rows(plan, st))
    L += _gauges_over_the_run(st, gauges_image)
    L += ["", "---", "", _h2(outline.DOCUMENTATION), "",
          *_checklist("documentation", plan.documentation, st), "", "---", "",
          _h2(outline.TIMELINE), ""]
    L += _table(outline.TIMELINE.columns,
                [[t.phase, _duration(t.phase, t.duration, st, plan_checksum), t.dependencies,
                  t.criteria] for t in plan.timeline])
    L += ["", "---", "", _h2(outline.COMMUNICATION)]
    for entry in log:
        L += [f"### {outline.entry_title(entry[0], entry[1])}", entry[2], ""]
    if not plan.communication and not st.communication and not st.notes and not st.runs:
        L += [f"### {outline.entry_title('[TIMESTAMP]', '[DATABASE_AGENT]')}",
              "[Migration planning and execution updates]", ""]
    return scrub("\n".join(L).rstrip() + "\n")


def _h2(section: outline.Section) -> str:
    return f"## {section.title}"


def _h3(sub: outline.Sub) -> str:
    return f"### {sub.title}"


def _duration(phase: str, written: str, st: RunState, checksum: str | None) -> str:
    """The Timeline's staging duration, filled in from the newest rehearsal."""
    if "staging" not in phase.lower() or "(rehearsed" in written or not st.rehearsals:
        return written
    recs = [r for r in st.rehearsals
            if checksum is None or r.get("plan_checksum") == checksum]
    if not recs:
        return (written + " " if written else "") + "(rehearsal stale: the plan changed since)"
    last = recs[-1]
    when = _ts(last.get("at") or last.get("ts"))
    took = float(last.get("duration") or 0)
    if last.get("ok"):
        note = f"(rehearsed {when}: {duration_document(took)}, clean)"
    else:
        note = f"(last rehearsal {when} failed)"
    return (written + " " if written else "") + note


def _locks_taken(st: RunState, checksum: str | None) -> list[str]:
    """The locks the newest rehearsal of this plan text measured, per statement."""
    recs = [r for r in st.rehearsals if checksum is None or r.get("plan_checksum") == checksum]
    traces = ((recs[-1].get("report") or {}).get("traces") or []) if recs else []
    if not traces:
        return []
    when = _ts(recs[-1].get("at") or recs[-1].get("ts"))
    rows = []
    for t in traces:
        held = t.get("held_seconds")
        lint = "; ".join(t.get("disagreements") or []) or "as predicted"
        rows.append([t["step_id"], "rollback" if t["which"] == "rollback" else "apply",
                     t["line"], t.get("strongest", "none"),
                     f"{held:.3f} s" if held is not None else "",
                     ", ".join(t.get("rewritten") or []) or "no",
                     t.get("projection") or "", f"lint: {lint}"])
    return ["", f"Locks taken, measured in the rehearsal of {when}:", "",
            *_table(["Step", "Pass", "Line", "Strongest lock", "Held", "Rewrote",
                     "Projected on production", "Prediction"], rows)]


def _jsonable(head: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in head.items():
        if hasattr(v, "model_dump"):
            out[k] = v.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        elif isinstance(v, dict):
            out[k] = {kk: vv.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                      if hasattr(vv, "model_dump") else vv for kk, vv in v.items()}
        else:
            out[k] = v
    return {k: v for k, v in out.items() if v not in (None, {}, [])}


def _risk_cell(t: Any, risks: dict[str, Any]) -> tuple[str, str]:
    if t.risk is not None:
        why = f" (override: {t.risk_reason})" if t.risk_reason else ""
        return t.risk.value.capitalize(), why
    derived = risks.get(t.table)
    if derived:
        level, reason = derived
        level = getattr(level, "value", level)
        return str(level).capitalize(), f" ({reason})" if reason else ""
    return "", ""


def _metric_rows(plan: Plan, st: RunState) -> list[list[str]]:
    rows = []
    alerts = {m.metric: m for m in plan.monitoring.metrics}
    order = _METRIC_ORDER + [m for m in alerts if m not in _METRIC_ORDER]
    for metric in order:
        alert = alerts.get(metric)
        base = None
        if st.baseline and metric.value in st.baseline:
            base = _fmt_metric(metric, st.baseline[metric.value].get("median"))
        elif alert and alert.baseline:
            base = alert.baseline
        if alert is None and metric not in _METRIC_ORDER:
            continue
        rows.append([metric.label, base or "", str(alert.alert).replace("> ", ">") if alert
                     else "", alert.action if alert else ""])
    return rows


def _gauges_over_the_run(st: RunState, image: str | None) -> list[str]:
    """The journal's gauge samples: the picture's link and the text fallback. Evidence
    re-derived from the journal on each export (like the locks measured in a rehearsal)."""
    from migtui.plots import GaugeSeries, text_lines

    series = GaugeSeries.from_state(st)
    lines = text_lines(series)
    if not lines:
        return []
    start = _ts(series.start) if series.start else ""
    out = ["", f"Gauges over the last session ({start}, every {_every(st)}):", ""]
    if image:
        out += [f"![The gauges over the run]({image})", ""]
    return out + ["```text", *lines, "```"]


def _every(st: RunState) -> str:
    times = [_parse(g.get("at")) for g in st.gauges[-3:]]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)
            if a is not None and b is not None]
    return f"{min(gaps):.0f}s" if gaps else "one sample"


def _parse(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
