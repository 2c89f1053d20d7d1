"""Backfill steps: keyset batches over a key column, adaptive, pausable, resumable.

Each batch is one short transaction::

    SELECT max(k), count(*) FROM (SELECT key AS k FROM t WHERE key > $last AND key <= $hi
                                  ORDER BY key LIMIT $n) s;          -- the batch's upper key
    UPDATE t SET <set> WHERE key > $last AND key <= $upper AND (<where>);
    INSERT INTO migtui.progress ... last_key = $upper ...             -- same transaction

No OFFSET: the index on the key is walked from the last committed key, so every batch costs
the same and memory stays constant. ``$hi`` is the largest key when the step started; rows
inserted later are the application's (give the column a default for them).

The batch size and the pause between batches come from the ``Pacer``
(``migtui.runner.pacing``): batches aim at half the lock budget (``settings.pacing``; the
plan's ``batch_target`` when smaller), halving or doubling at most per batch, within
[min_batch, max_batch]; the gauges' signals (``RunControl.signals``) set the share of
time the backfill runs, and signals gone stale make it wait (fail closed). ``RunControl``
is honoured between batches: pause waits, throttle shrinks batches and sleeps in
proportion, cancel stops. Because the last key commits with its batch, a crash (even
SIGKILL) resumes after the last committed batch: none is applied twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from psycopg import errors as pgerr
from psycopg import sql

from migtui.backfill_sql import FragmentError, set_clause, where_clause
from migtui.events import NoteAdded, StepPaused, StepProgress, StepResumed
from migtui.plan.model import Backfill
from migtui.runner import history
from migtui.runner.context import Ctx, Timeouts, ms
from migtui.runner.errors import NotExecutable, StepError
from migtui.runner.pacing import FULL_SPEED, LOCK_BUDGET, Pacer, PacingConfig
from migtui.runner.retry import LockTimeoutExhausted, sleep, with_retries
from migtui.runner.sqlstep import _fail, set_timeouts


def _lit(fragment: str) -> sql.SQL:
    """A fragment printed by pglast, with % escaped for psycopg's placeholders."""
    return sql.SQL(fragment.replace("%", "%%"))


def fragments(bf: Backfill, step_id: str) -> tuple[sql.SQL, sql.SQL]:
    """The SET list and the `` AND (<where>)`` of the batch UPDATE, from the parse trees.

    The author's text never reaches the statement: pglast parses each fragment on its own
    (refusing anything but assignments, or one boolean expression) and prints it back, so
    ``where: "true) OR (true"`` cannot close the batch's parenthesis.
    """
    try:
        set_ = set_clause(bf.set)
        where = where_clause(bf.where) if bf.where is not None else None
    except FragmentError as e:
        raise StepError(f"step {step_id!r}: backfill: {e}") from None
    cond = sql.SQL(" AND ({})").format(_lit(where)) if where is not None else sql.SQL("")
    return _lit(set_), cond


def planned_update(bf: Backfill, step_id: str) -> str:
    """The batch UPDATE as the dry run shows it, with the fragments as pglast prints them."""
    try:
        set_ = set_clause(bf.set)
        where = f" AND ({where_clause(bf.where)})" if bf.where is not None else ""
    except FragmentError as e:
        raise NotExecutable(f"step {step_id!r}: backfill: {e}") from None
    return (f"UPDATE {bf.table} SET {set_} WHERE {bf.key} > $last AND {bf.key} <= $upper"
            f"{where}")


def describe_table(conn: psycopg.Connection, table: str, key: str) -> tuple[str, str, str]:
    """(table as quoted text, quoted key, key type). Raises StepError when missing."""
    try:
        row = conn.execute("SELECT to_regclass(%s)::oid, to_regclass(%s)::text",
                           (table, table)).fetchone()
    except psycopg.Error as e:
        raise StepError(f"backfill table {table!r}: {e}") from None
    if row is None or row[0] is None:
        raise StepError(f"backfill table {table!r} does not exist")
    oid, qtable = row
    col = conn.execute("SELECT quote_ident(attname), format_type(atttypid, atttypmod) "
                       "FROM pg_attribute WHERE attrelid = %s AND attname = %s "
                       "AND attnum > 0 AND NOT attisdropped", (oid, key)).fetchone()
    if col is None:
        raise StepError(f"backfill key column {key!r} does not exist in table {qtable}")
    return qtable, col[0], col[1]


def estimate_rows(conn: psycopg.Connection, qtable: str) -> int | None:
    row = conn.execute("SELECT reltuples::bigint, relpages FROM pg_class WHERE oid = %s::regclass",
                       (qtable,)).fetchone()
    if row and row[0] is not None and row[0] >= 0:
        return int(row[0])
    if row and row[1] is not None and row[1] < 10_000:  # never analysed, small: count it
        cnt = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(qtable))).fetchone()
        return int(cnt[0]) if cnt else None
    return None


def run_backfill(ctx: Ctx, bf: Backfill, t: Timeouts,
                 record: Callable[[psycopg.Connection, int], None], *, step_id: str,
                 direction: str = "apply") -> tuple[int, int]:
    """Run the backfill ``bf`` of step ``step_id`` to the end; (rows changed, lock retries).

    ``direction`` keys its progress: a step's forward backfill ("apply") and its rollback
    written as a backfill ("rollback") each resume from their own last committed key.
    """
    plan_id = ctx.plan_id
    conn = ctx.work.conn
    qtable, qkey, ktype = describe_table(conn, bf.table, bf.key)
    target = bf.target if bf.target is not None else ctx.plan.settings.batch_target
    hi_row = conn.execute(sql.SQL("SELECT max({k})::text FROM {t}").format(
        k=sql.SQL(qkey), t=sql.SQL(qtable))).fetchone()
    hi = hi_row[0] if hi_row else None
    saved = history.progress(conn, plan_id, step_id, direction)
    last: str | None = None
    done = changed = 0
    if saved:
        last, done, changed = saved
        what = " the rollback" if direction == "rollback" else ""
        ctx.emit(NoteAdded(text=f"{step_id}: resuming{what} after key {last} "
                                f"({done} rows scanned, {changed} changed before)",
                           author="migtui"))
    total = estimate_rows(conn, qtable)
    p = ctx.plan.settings.pacing
    pacer = Pacer(PacingConfig(
        lock_budget=p.lock_budget, batch_target=target, replica_lag=p.replica_lag,
        app_latency=p.app_latency, stale_after=p.stale_after, min_duty=p.min_duty,
        min_batch=bf.min_batch, max_batch=max(bf.min_batch, bf.max_batch),
        follow_app_latency=direction != "rollback"), bf.batch_size)
    typ = sql.SQL(ktype)
    k = sql.SQL(qkey)
    tbl = sql.SQL(qtable)
    upper_q = sql.SQL(
        "SELECT max(k)::text, count(*) FROM (SELECT {k} AS k FROM {t} WHERE {lo}{k} <= %(hi)s::{typ}"
        " ORDER BY {k} LIMIT %(n)s) s")
    set_, where = fragments(bf, step_id)
    update_q = sql.SQL("UPDATE {t} SET {set} WHERE {lo}{k} <= %(upper)s::{typ}{where}").format(
        t=tbl, set=set_, lo=sql.SQL("{k} > %(last)s::{typ} AND ").format(k=k, typ=typ),
        k=k, typ=typ, where=where)
    update_first_q = sql.SQL("UPDATE {t} SET {set} WHERE {k} <= %(upper)s::{typ}{where}").format(
        t=tbl, set=set_, k=k, typ=typ, where=where)
    lo_next = sql.SQL("{k} > %(last)s::{typ} AND ").format(k=k, typ=typ)
    run_start = time.monotonic()
    run_rows = 0
    retries = 0
    batch_time = 0.0
    current = [""]

    def batch(_n: int, n: int) -> tuple[str | None, int, int]:
        c = ctx.work.conn
        params = {"last": last, "hi": hi, "n": n}
        with c.transaction():
            set_timeouts(c, t, local=True)
            q = upper_q.format(k=k, t=tbl, typ=typ, lo=lo_next if last is not None
                               else sql.SQL(""))
            current[0] = q.as_string(c)
            row = c.execute(q, params).fetchone()
            upper, scanned = (row[0], int(row[1])) if row else (None, 0)
            if upper is None:
                return None, 0, 0
            params["upper"] = upper
            uq = update_q if last is not None else update_first_q
            current[0] = uq.as_string(c)
            cur = c.execute(uq, params)
            upd = max(cur.rowcount or 0, 0)
            current[0] = ""
            history.save_progress(c, plan_id, step_id, upper, done + scanned, changed + upd,
                                  direction)
        return upper, scanned, upd

    try:
        n = pacer.size
        while hi is not None:
            _wait_if_paused(ctx, step_id)
            _wait_for_signals(ctx, step_id, pacer)
            ctx.check_lock()  # LockLost: the run lock went away; no batch without it
            t0 = time.monotonic()
            (upper, scanned, upd), r = with_retries(
                lambda a, n=n: batch(a, n), step_id=step_id, timeouts=t, emit=ctx.emit,
                control=ctx.control)
            retries += r
            batch_time = time.monotonic() - t0
            if upper is None:
                break
            last, done, changed = upper, done + scanned, changed + upd
            run_rows += scanned
            elapsed = max(time.monotonic() - run_start, 1e-6)
            rate = run_rows / elapsed
            tot = max(total, done) if total is not None else None
            eta = (tot - done) / rate if tot is not None and rate > 0 else None
            # the guard throttles forward work while a gauge warns or trips; a rollback is
            # the answer to that trip and is not slowed by it (pause and cancel still hold)
            factor = ctx.control.throttle_factor if direction != "rollback" else 1.0
            throttled = ctx.control.throttle_reason if factor < 1 else ""
            d = pacer.after_batch(n, batch_time, ctx.control.signals(), factor, throttled)
            if d.limited_by not in (LOCK_BUDGET, FULL_SPEED):
                throttled = d.limited_by  # a signal (or the operator) slows it down
            ctx.emit(StepProgress(step_id=step_id, done=done, total=tot, rate=round(rate, 1),
                                  eta=round(eta, 1) if eta is not None else None,
                                  batch_size=n, throttled=throttled, limited_by=d.limited_by,
                                  batch_seconds=round(batch_time, 3), sleep=d.sleep,
                                  changed=changed))
            if scanned < n:
                break  # reached the upper key
            n = d.size
            pause = bf.sleep + d.sleep
            if pause > 0:
                sleep(pause, ctx.control)
        c = ctx.work.conn
        with c.transaction():
            history.clear_progress(c, plan_id, step_id, direction)
            record(c, changed)
    except LockTimeoutExhausted as e:
        raise StepError(f"lock timeout: could not take the lock within {ms(t.lock)}, "
                        f"{e.tries} tries ({e}); resumable after key {last}",
                        sqlstate="55P03", statement=current[0] or None, rows=changed) from None
    except pgerr.Error as e:
        err = _fail(e, ctx, current[0] or None)
        err.rows = changed
        raise err from None
    return changed, retries


def _wait_for_signals(ctx: Ctx, step_id: str, pacer: Pacer) -> None:
    """Fail closed: while a throttling signal is stale, no batch runs; the step says why."""
    why = pacer.hold(ctx.control.signals(), time.monotonic())
    if not why:
        return
    ctx.emit(StepPaused(step_id=step_id, reason=f"backfill waits for the gauges: {why}"))
    while why:
        ctx.control.check()
        sleep(0.2, ctx.control)
        why = pacer.hold(ctx.control.signals(), time.monotonic())
    ctx.emit(StepResumed(step_id=step_id))


def _wait_if_paused(ctx: Ctx, step_id: str) -> None:
    ctx.control.check()
    if not ctx.control.paused:
        return
    ctx.emit(StepPaused(step_id=step_id, reason=ctx.control.pause_reason or "paused"))
    while not ctx.control.wait_if_paused(0.2):
        pass
    ctx.control.check()
    ctx.emit(StepResumed(step_id=step_id))
