"""The staging rehearsal: apply, verify, roll back, prove the database is as before, re-apply.

    report = rehearse(plan, plan_path, dsn, emit=bus, control=RunControl())

1. fingerprint the schema (catalogs) and checksum the data of the tables the plan writes;
2. apply every step through the Runner, under the plan's guards (lock and statement
   timeouts, retries); when other sessions are active, the gauges (a ``Watch``, as for a run) run
   throughout, every trip is recorded, and their series (``GaugeSample``, as a run journals
   it) is kept on the report for its plots;
3. run the verification checks (checklist ``check`` bindings, monitoring integrity checks;
   check steps already ran in 2);
4. roll everything back, fingerprint again and compare: any difference fails it;
5. apply again (a rolled-back migration must be re-appliable), then roll back again and
   compare, or leave it applied with ``keep``.

Blocking: call it from a worker thread. It emits the runner's events, ``RehearsalStage``
for progress, ``ItemTicked`` for the staging checklist items it proves, and finally
``RehearsalFinished``. It writes no journal itself: subscribe one to ``emit``, as for a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from migtui.control import RunControl
from migtui.db import database_name
from migtui.events import (
    Emit,
    RehearsalFinished,
    RehearsalStage,
    RehearsalStarted,
    now,
)
from migtui.lint import TableSizes, lint_plan
from migtui.plan import Plan, plan_checksum
from migtui.rehearsal import fingerprint as fpr
from migtui.rehearsal.diff import compare, failures
from migtui.rehearsal.recorder import Recorder, first_traces
from migtui.rehearsal.report import (
    ESTIMATE_METHOD,
    Comparison,
    PassResult,
    RehearsalReport,
    estimate,
)
from migtui.rehearsal.ticks import run_checks, tick_items
from migtui.runner import Outcome, Runner, RunnerError
from migtui.runner.conn import connect, first_line
from migtui.sampler.gauge_samples import DEFAULT_EVERY
from migtui.secrets import scrub
from migtui.trace import Tracer

TRAFFIC_SQL = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
  AND coalesce(application_name, '') NOT LIKE 'migtui%%'
  AND (state IS NULL OR state IN ('active', 'idle in transaction')
       OR state_change > now() - make_interval(secs => %s))
"""

# What a rehearsal journals: its result and the ticks. Not the step events: the plan's
# journal is shared with the production run, whose step results and baseline they would
# overwrite in ``RunState``; the per-step figures travel in RehearsalFinished.report.
JOURNAL_KINDS = frozenset({"RehearsalStarted", "RehearsalFinished", "ItemTicked"})


class RehearsalError(RuntimeError):
    """The rehearsal cannot start (nothing was changed). ``code``: 2 for a plan problem."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _noop(_e: Any) -> None:
    pass


def traffic_present(conn: psycopg.Connection, window: float = 5.0) -> bool:
    """Other client sessions (not migtui's) active, or busy within ``window`` seconds."""
    row = conn.execute(TRAFFIC_SQL, (window,)).fetchone()
    return bool(row and row[0])


def rehearse(plan: Plan, plan_path: str | Path, dsn: str, emit: Emit | None = None,
             control: RunControl | None = None, keep: bool = False,
             production_dsn: str | None = None, *, target: str | None = None,
             operator: str = "operator", confirm: Callable[[str], bool] | None = None,
             gauges: bool | None = None, baseline_seconds: float = 5.0,
             gauge_every: float = DEFAULT_EVERY) -> RehearsalReport:
    """Rehearse the plan on ``dsn`` (a staging database). See the module docstring.

    ``gauges``: None runs them when other sessions are active, True always, False never.
    While they run, a ``GaugeSample`` every ``gauge_every`` seconds, as in a run, is kept
    in ``report.gauge_records`` for the plots (``RehearsalReport.gauge_series``).
    Raises ``RehearsalError`` when it cannot start; every later failure is in the report.
    """
    emit = emit or _noop
    control = control or RunControl()
    path = Path(plan_path)
    checksum = plan_checksum(path.read_text(encoding="utf-8"))
    plan_id = plan.id or path.stem
    tname = target or "--dsn"
    for step in plan.steps:
        if step.irreversible is not None:
            raise RehearsalError(
                f"step {step.id!r} is irreversible ({step.irreversible}): a rehearsal proves "
                f"the rollback of every step; rehearse the reversible part as its own plan",
                code=2)
    rec = Recorder(plan, emit, gauge_every=gauge_every)
    tracer = Tracer(dsn, lint_plan(plan))
    runner = Runner(plan, dsn, emit=rec, control=control, operator=operator, confirm=confirm,
                    workdir=path.resolve().parent, plan_text_checksum=checksum, tracer=tracer)
    problems = runner.problems()
    if problems:
        raise RehearsalError("the plan cannot run as written: " + "; ".join(problems), code=2)
    report = RehearsalReport(plan_id=plan_id, plan_checksum=checksum, target=tname,
                             database=database_name(dsn), operator=operator,
                             started_at=now().isoformat(), keep=keep,
                             checksum_method=fpr.CHECKSUM_METHOD)
    t0 = time.monotonic()
    try:
        runner.open()
        applied = [s.step_id for s in runner.status() if s.state == "applied"]
    except RunnerError as e:
        runner.close()
        raise RehearsalError(str(e)) from None
    if applied:
        runner.close()
        raise RehearsalError(
            f"step(s) {', '.join(applied)} are already applied on {report.database}: a "
            f"rehearsal starts from the state before the plan; roll them back first "
            f"(migtui rollback)")
    production_sizes = None
    try:
        production_sizes = _run(plan, runner, rec, report, dsn, control, keep, production_dsn,
                                gauges, baseline_seconds, t0)
    finally:
        runner.close()
        report.traces = first_traces(tracer.traces, report.database, production_sizes)
    report.duration = round(time.monotonic() - t0, 3)
    tick_items(plan, report, emit, operator)
    emit(RehearsalFinished(
        plan_id=plan_id, plan_checksum=checksum, ok=report.ok, target=tname,
        database=report.database, summary=report.summary, duration=report.duration,
        performance_ok=report.performance_ok, kept=keep and report.ok,
        differences=tuple(d.text for d in failures(report.differences)), operator=operator,
        report=report.to_dict()))
    return report


def _run(plan: Plan, runner: Runner, rec: Recorder, report: RehearsalReport, dsn: str,
         control: RunControl, keep: bool, production_dsn: str | None, gauges: bool | None,
         baseline_seconds: float, t0: float) -> TableSizes | None:
    from migtui.sampler import SamplerError
    from migtui.watch import Watch

    stages = ["fingerprint", "apply", "checks", "rollback", "compare", "reapply"]
    if not keep:
        stages += ["rollback_again", "compare_again"]
    stages.append("done")

    def stage(name: str, message: str = "") -> None:
        rec.emit(RehearsalStage(stage=name, index=stages.index(name) + 1, of=len(stages),
                                message=message))

    with connect(dsn, application_name="migtui-rehearsal") as conn:
        report.traffic = traffic_present(conn)
        rec.emit(RehearsalStarted(plan_id=report.plan_id, plan_checksum=report.plan_checksum,
                                  target=report.target, database=report.database,
                                  operator=report.operator, traffic=report.traffic))
        tables = fpr.plan_tables(conn, plan)
        report.tables = tables
        stage("fingerprint", f"catalogs, and the data of {', '.join(tables) or 'no table'}")
        before = fpr.take(conn, tables)
        report.fingerprint_objects = before.count()
        report.table_rows = {t: d.rows for t, d in before.data.items()}
    staging_sizes = production_sizes = None
    if production_dsn:
        try:
            staging_sizes = TableSizes.read(dsn)
            production_sizes = TableSizes.read(production_dsn)
        except Exception as e:  # noqa: BLE001 - an estimate must not fail the rehearsal
            report.estimate_error = f"cannot read table sizes: {scrub(first_line(e))}"
    run_gauges = report.traffic if gauges is None else gauges
    watch = None
    if run_gauges:
        # the gauges wired as for a run (a trip is recorded, never acted on: no on_offer)
        watch = Watch(plan, dsn, emit=rec, control=control, on_snapshot=rec.on_snapshot,
                      target=report.target if report.target in plan.targets else None,
                      captured=lambda: runner.captured)
        report.gauges = True
        relative = any(t.above is not None and t.above.kind == "relative"
                       for t in plan.risks.rollback_triggers)
        watch.start()
        if relative:
            try:
                watch.capture_baseline(baseline_seconds)
            except SamplerError as e:
                report.notes.append(f"no baseline: {e}; relative triggers were inactive")
    advisory = ("other sessions were active during the rehearsal, so data may differ "
                "without the rollback's fault" if report.traffic else "")
    try:
        _passes(plan, runner, rec, report, dsn, keep, before, advisory, stage)
    finally:
        if watch is not None:
            watch.stop()
    report.trips = list(rec.trips)
    report.gauge_records = rec.gauge_records
    if staging_sizes is not None and production_sizes is not None:
        report.estimates = estimate(plan, report, staging_sizes, production_sizes)
        report.estimate_method = ESTIMATE_METHOD
    stage("done", report.summary)
    return production_sizes


def _pass(runner: Runner, rec: Recorder, report: RehearsalReport, name: str,
          fn: Callable[[], Outcome]) -> PassResult:
    p = PassResult(name, "running", "", 0.0)
    report.passes.append(p)
    rec.current = p
    t = time.monotonic()
    try:
        out = fn()
    finally:
        rec.current = None
        p.elapsed = round(time.monotonic() - t, 3)
    p.status, p.message = out.status, out.message
    return p


def _passes(plan: Plan, runner: Runner, rec: Recorder, report: RehearsalReport, dsn: str,
            keep: bool, before: fpr.Fingerprint, advisory: str,
            stage: Callable[[str, str], None]) -> None:
    def rollback(name: str, reason: str) -> PassResult:
        stage(name, reason)
        return _pass(runner, rec, report, name,
                     lambda: runner.rollback(reason=f"rehearsal: {reason}"))

    def check_back(name: str, after: str) -> Comparison | None:
        stage(name, "fingerprint and checksums against those taken before")
        try:
            with connect(dsn, application_name="migtui-rehearsal") as conn:
                now_fp = fpr.take(conn, report.tables)
        except (psycopg.Error, RunnerError) as e:
            report.summary = (f"cannot read the fingerprint after the "
                              f"{after.replace('_again', '')}: {first_line(e)}")
            return None
        c = Comparison(after, compare(before, now_fp, data_advisory=advisory))
        report.comparisons.append(c)
        return c

    stage("apply", f"{len(plan.steps)} step(s)")
    first = _pass(runner, rec, report, "apply", runner.apply)
    if not first.ok:
        rb = rollback("rollback", f"the apply {first.status}")
        if rb.ok:
            check_back("compare", "rollback")
        report.summary = f"the apply {first.status}: {first.message}"
        if not rb.ok:
            report.summary += f"; its rollback {rb.status}: {rb.message}"
        return
    stage("checks", "verification checks")
    report.checks = run_checks(plan, runner)
    rb = rollback("rollback", "prove the rollback")
    if not rb.ok:
        report.summary = f"the rollback {rb.status}: {rb.message}"
        return
    c = check_back("compare", "rollback")
    if c is None:
        return
    bad_checks = [ch for ch in report.checks if not ch.ok]
    if not c.clean:
        found = failures(c.differences)
        report.summary = (f"the rollback left {len(found)} difference(s): "
                          + "; ".join(d.text for d in found[:3])
                          + ("; …" if len(found) > 3 else ""))
        return
    stage("reapply", "a rolled-back migration must apply again")
    again = _pass(runner, rec, report, "reapply", runner.apply)
    if not again.ok:
        rollback("rollback_again", f"the re-apply {again.status}")
        report.summary = f"the re-apply {again.status}: {again.message}"
        return
    if not keep:
        rb2 = rollback("rollback_again", "roll back the re-apply")
        if not rb2.ok:
            report.summary = f"the second rollback {rb2.status}: {rb2.message}"
            return
        c2 = check_back("compare_again", "rollback_again")
        if c2 is None:
            return
        if not c2.clean:
            found = failures(c2.differences)
            report.summary = (f"the second rollback left {len(found)} difference(s): "
                              + "; ".join(d.text for d in found[:3]))
            return
    if bad_checks:
        report.summary = f"{len(bad_checks)} verification check(s) failed: " + "; ".join(
            f"{ch.name}: {ch.message}" for ch in bad_checks)
        return
    report.ok = True
    n = len(report.pass_("apply").steps)  # type: ignore[union-attr]
    if not report.tables:
        data = ""
    elif report.data_proven:
        data = f", data of {len(report.tables)} table(s) equal"
    else:
        data = (", data not proven: other sessions wrote to the tables meanwhile (advisory "
                "differences below)")
    end = ("left applied (--keep)" if keep else "rolled back again to the same state")
    report.summary = (f"{n} step(s) applied, {len(report.checks)} verification check(s) "
                      f"passed, rolled back to an identical fingerprint"
                      f"{data}, re-applied and {end}")
