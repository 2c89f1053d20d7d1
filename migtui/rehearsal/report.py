"""The rehearsal report: per step and pass, the checks, the diff, and a production estimate.

``RehearsalReport.text()`` is what the CLI prints, ``to_dict()`` what ``--json`` prints,
``diff_lines`` what a UI shows as the final diff, ``gauge_series()`` what the plots draw
(``rehearsal.markdown`` writes it as Markdown with the picture beside it).
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

from migtui import fmt
from migtui.lint.sizes import TableSizes
from migtui.plan.model import Plan
from migtui.plots import GaugeSeries, text_lines
from migtui.rehearsal.diff import Difference, failures, short
from migtui.rehearsal.fingerprint import step_relations

PASS_LABELS = {"apply": "apply", "rollback": "rollback", "reapply": "re-apply",
               "rollback_again": "second rollback"}

ESTIMATE_METHOD = (
    "production ≈ staging duration × (production size ÷ staging size) of the tables the "
    "step names, by pg_total_relation_size (heap, TOAST and indexes), both read from the "
    "catalogs before the rehearsal; rows are pg_class.reltuples estimates, shown for "
    "reference. Assumes linear scaling and comparable hardware: index builds and sorts "
    "grow slightly faster than linear, and lock waits depend on production traffic. A step "
    "that names no table keeps its staging duration.")


@dataclass
class StepStats:
    step_id: str
    kind: str
    status: str = "not run"  # done | failed | skipped | not run
    elapsed: float | None = None
    rows: int | None = None
    retries: int = 0
    lock_wait: float = 0.0  # retries × lock_timeout plus the backoff delays, seconds
    longest_lock_wait: float | None = None  # the gauges' longest lock wait during the step
    result: str = ""
    error: str = ""


@dataclass
class PassResult:
    name: str  # apply | rollback | reapply | rollback_again
    status: str  # the runner's outcome: done | rolled_back | failed | cancelled | ...
    message: str
    elapsed: float
    steps: dict[str, StepStats] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("done", "rolled_back")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str


@dataclass
class Comparison:
    after: str  # the pass it follows: rollback | rollback_again
    differences: list[Difference]

    @property
    def clean(self) -> bool:
        return not failures(self.differences)


@dataclass(frozen=True)
class Estimate:
    step_id: str
    tables: tuple[str, ...]
    ratio: float | None  # production bytes / staging bytes; None: not scaled
    basis: str  # e.g. "orders 12.0 MB → 1.2 GB (5000 → 500000 rows)"
    forward: float | None  # estimated production seconds
    rollback: float | None


@dataclass
class RehearsalReport:
    plan_id: str
    plan_checksum: str
    target: str
    database: str
    operator: str
    started_at: str
    keep: bool
    duration: float = 0.0
    ok: bool = False
    summary: str = ""
    traffic: bool = False
    gauges: bool = False
    trips: list[str] = field(default_factory=list)
    passes: list[PassResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    fingerprint_objects: int = 0
    checksum_method: str = ""
    estimates: list[Estimate] = field(default_factory=list)
    estimate_method: str = ""
    estimate_error: str = ""
    notes: list[str] = field(default_factory=list)
    # the lock trace of each statement, forward and rollback (migtui.trace), as dicts
    traces: list[dict[str, Any]] = field(default_factory=list)
    # the gauges over the rehearsal, as a run journals them: GaugeSample records, and the
    # BaselineRecorded, trips and RollbackStarted the plots mark (empty: the gauges did not run)
    gauge_records: list[dict[str, Any]] = field(default_factory=list)

    # ------------------------------------------------------------ reading

    def gauge_series(self) -> GaugeSeries:
        """The gauges over the rehearsal, for the plots (``migtui.plots``)."""
        return GaugeSeries.from_records(self.gauge_records)

    def pass_(self, name: str) -> PassResult | None:
        return next((p for p in self.passes if p.name == name), None)

    @property
    def performance_ok(self) -> bool | None:
        """True when the gauges ran and no trigger tripped; None when they did not run."""
        if not self.gauges:
            return None
        return not self.trips

    @property
    def data_proven(self) -> bool:
        """The data checksums compared equal (no advisory difference under traffic)."""
        return not any(d.advisory for d in self.differences)

    @property
    def differences(self) -> list[Difference]:
        return [d for c in self.comparisons for d in c.differences]

    @property
    def diff_lines(self) -> list[str]:
        """The final diff as lines of text, for a UI."""
        lines: list[str] = []
        for c in self.comparisons:
            label = PASS_LABELS.get(c.after, c.after)
            if not c.differences:
                lines.append(f"after the {label}: fingerprint and data checksums equal "
                             f"those taken before")
                continue
            bad = len(failures(c.differences))
            advisory = len(c.differences) - bad
            lines.append(f"after the {label}: " + (f"{bad} difference(s)" if bad else
                         "schema identical") + (f", {advisory} advisory (not counted)"
                                                if advisory else ""))
            lines += [f"  {'~' if d.advisory else '✗'} {d.text}" for d in c.differences]
        return lines

    # ------------------------------------------------------------ output

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passes"] = [{**asdict(p), "steps": list(asdict(p)["steps"].values())}
                       for p in self.passes]
        d["comparisons"] = [{"after": c.after, "clean": c.clean,
                             "differences": [x.to_dict() for x in c.differences]}
                            for c in self.comparisons]
        d["performance_ok"] = self.performance_ok
        d["diff"] = self.diff_lines
        return d

    def text(self, *, gauges: bool = True) -> str:
        """The report as text; ``gauges``: with the gauges over the rehearsal as sparklines
        (the terminal's plot; the Markdown puts them under its picture instead)."""
        verdict = "CLEAN" if self.ok else "FAILED"
        out = [f"Rehearsal of {self.plan_id} on target {self.target} (database "
               f"{self.database}) by {self.operator}: {verdict} in {secs(self.duration)}",
               f"  {self.summary}"]
        data = ", ".join(f"{short(t)} ({self.table_rows.get(t, '?')} rows)"
                         for t in self.tables) or "none (the plan writes to no existing table)"
        out.append(f"  fingerprint: {self.fingerprint_objects} catalog objects; data "
                   f"checksummed: {data}")
        out.append(f"  checksum: {self.checksum_method}")
        if not self.gauges:
            out.append("  gauges: not run (no other session was active); performance not "
                       "judged against the triggers")
        elif self.trips:
            out.append(f"  gauges: TRIPPED: {'; '.join(self.trips)}")
        else:
            out.append("  gauges: ran throughout; no rollback trigger tripped")
        if gauges:
            out += [f"    {ln}" for ln in text_lines(self.gauge_series())]
        out += ["", *self._step_table()]
        if self.checks:
            out += ["", "Verification checks:"]
            out += [f"  {'✓' if c.ok else '✗'} {c.name}: {c.message}" for c in self.checks]
        for p in self.passes:
            if not p.ok:
                out += ["", f"The {PASS_LABELS.get(p.name, p.name)} {p.status}: {p.message}"]
        if self.comparisons:
            out += ["", "Compared with the fingerprint taken before:"]
            out += [f"  {ln}" for ln in self.diff_lines]
        if self.traces:
            out += ["", *locks_taken_lines(self.traces)]
        if self.estimates or self.estimate_error:
            out += ["", *self._estimate_table()]
        if self.notes:
            out += ["", *[f"note: {n}" for n in self.notes]]
        return "\n".join(out)

    def _step_table(self) -> list[str]:
        fwd = self.pass_("apply")
        back = self.pass_("rollback")
        ids = list(fwd.steps) if fwd else []
        if back:
            ids += [s for s in back.steps if s not in ids]
        if not ids:
            return ["No step ran."]
        head = (f"{'step':24} {'kind':8} │ {'apply':>8} {'rows':>8} {'retries':>7} "
                f"{'lock wait':>9} │ {'rollback':>8} {'rows':>8} {'retries':>7} {'lock wait':>9}")
        lines = ["Per step (first apply │ first rollback):", head, "─" * len(head)]
        for sid in ids:
            a = fwd.steps.get(sid) if fwd else None
            b = back.steps.get(sid) if back else None
            kind = (a or b).kind if (a or b) else ""  # type: ignore[union-attr]
            lines.append(f"{sid[:24]:24} {kind:8} │ {_cells(a)} │ {_cells(b)}")
        for p in self.passes:
            if p.name in ("reapply", "rollback_again"):
                total = sum(s.elapsed or 0 for s in p.steps.values())
                lines.append(f"{PASS_LABELS[p.name]}: {p.status}, {len(p.steps)} step(s) in "
                             f"{secs(total)}")
        return lines

    def _estimate_table(self) -> list[str]:
        lines = ["Production estimate:"]
        if self.estimate_error:
            return [*lines, f"  not available: {self.estimate_error}"]
        for e in self.estimates:
            ratio = f"×{e.ratio:,.1f}" if e.ratio is not None else "not scaled"
            lines.append(f"  {e.step_id[:24]:24} apply {secs(e.forward):>8}  rollback "
                         f"{secs(e.rollback):>8}  {ratio:>10}  {e.basis}")
        lines += textwrap.wrap(f"method: {self.estimate_method}", 100, initial_indent="  ",
                               subsequent_indent="    ")
        return lines


def _cells(s: StepStats | None) -> str:
    if s is None:
        return f"{'-':>8} {'':>8} {'':>7} {'':>9}"
    if s.status == "failed":
        return f"{'FAILED':>8} {'':>8} {s.retries:>7} {secs(s.lock_wait):>9}"
    if s.status == "skipped":
        return f"{'skipped':>8} {'':>8} {'':>7} {'':>9}"
    rows = "" if s.rows is None else f"{s.rows:,}"
    return f"{secs(s.elapsed):>8} {rows:>8} {s.retries:>7} {secs(s.lock_wait):>9}"


def secs(s: float | None) -> str:
    return "-" if s is None else fmt.duration_report(s)


# ---------------------------------------------------------------- production estimate


def estimate(plan: Plan, report: RehearsalReport, staging: TableSizes,
             production: TableSizes) -> list[Estimate]:
    """Per step, the staging durations scaled by the size ratio of the tables it names."""
    fwd = report.pass_("apply")
    back = report.pass_("rollback")
    out: list[Estimate] = []
    for step in plan.steps:
        names = sorted({f"{s}.{r}" if s else r for s, r in step_relations(step, reads=True)})
        st_bytes = pr_bytes = 0
        parts: list[str] = []
        tables: list[str] = []
        for name in names:
            s, p = staging.get(name), production.get(name)
            if s is None or p is None:
                continue  # created by the plan, or absent in production
            tables.append(name)
            st_bytes += s.total_bytes
            pr_bytes += p.total_bytes
            rows = (f" ({s.rows:,} → {p.rows:,} rows)" if s.rows is not None
                    and p.rows is not None else "")
            parts.append(f"{name} {fmt.size(s.total_bytes)} → "
                         f"{fmt.size(p.total_bytes)}{rows}")
        ratio = pr_bytes / st_bytes if tables and st_bytes > 0 else None
        a = fwd.steps.get(step.id) if fwd else None
        b = back.steps.get(step.id) if back else None

        def scale(s: StepStats | None, r: float | None = ratio) -> float | None:
            if s is None or s.elapsed is None:
                return None
            return s.elapsed * (r if r is not None else 1.0)

        out.append(Estimate(step.id, tuple(tables), ratio,
                            "; ".join(parts) or "names no existing table", scale(a), scale(b)))
    return out


def locks_taken_lines(traces: list[dict[str, Any]]) -> list[str]:
    """The measured locks per step, forward and rollback, and where the lint disagreed."""
    out = ["Locks taken (measured; see docs/trace.md):"]
    for t in traces:
        pass_ = "rollback" if t["which"] == "rollback" else "apply"
        held = t.get("held_seconds")
        how = ", sampled" if t.get("sampled") else ""
        line = (f"  {t['step_id']} {pass_} line {t['line']}: {t['strongest']}"
                + (f" for {held:.3f} s" if held is not None else "") + how)
        if t.get("rewritten"):
            line += f"; rewrote {', '.join(t['rewritten'])}"
        out.append(line)
        if t.get("projection"):
            out.append(f"    {t['projection']}")
        out += [f"    ✗ lint disagrees: {d}" for d in t.get("disagreements", [])]
    return out
