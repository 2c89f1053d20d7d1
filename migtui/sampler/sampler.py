"""The sampler: a thread with one connection that publishes a ``Snapshot`` every interval.

The next sample is armed only after the previous one finished, so a slow database never
queues work: when a sample takes longer than the interval, the next starts right after it.
Nothing raises out of the thread: a failed sample becomes a snapshot with ``error`` set,
and the connection is re-opened on the next tick.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psycopg

from migtui import secrets
from migtui.events import Emit
from migtui.plan.model import Metric, Plan
from migtui.sampler.baseline import Baseline
from migtui.sampler.collect import APPLICATION_NAME, Collector
from migtui.sampler.pgbouncer import libpq_dsn
from migtui.sampler.snapshot import Snapshot

if TYPE_CHECKING:
    from migtui.control import RunControl

log = logging.getLogger(__name__)

MIN_INTERVAL, MAX_INTERVAL = 0.25, 10.0
MAX_BACKOFF = 15.0  # seconds between reconnection tries at most
# probe rounds the latency window must hold before the guard judges it: a p95 of one or
# two rounds is one or two samples, not a distribution (fewer when the window is so short
# that it never holds that many)
MIN_WINDOW_SAMPLES = 4


class SamplerError(RuntimeError):
    """A baseline could not be measured (no sample succeeded)."""


class Sampler:
    def __init__(self, plan: Plan, dsn: str, interval: float | None = None,
                 on_snapshot: Callable[[Snapshot], None] | None = None, *,
                 target: str | None = None, window: float = 30.0, rate_window: float = 5.0,
                 check_every: int = 5, probe_timeout: float = 5.0,
                 captured: Callable[[], dict[str, Any]] | None = None,
                 history_seconds: float = 900.0, baseline: Baseline | None = None,
                 local_disk: bool | None = None) -> None:
        """``interval`` defaults to the plan's ``settings.sample_interval`` (0.25–10 s).

        ``check_every``: smoke queries, integrity checks and the database size run every
        that many samples. ``probe_timeout`` bounds every query of the sampler.
        ``captured`` returns the run's captured values for integrity checks (``= @name``).
        ``local_disk``: None detects whether the data directory is on this machine; False
        always measures the database size against the target's ``disk_capacity``.
        """
        self.plan = plan
        self.dsn = dsn
        secrets.register_url(dsn)
        iv = plan.settings.sample_interval if interval is None else interval
        self.interval = min(MAX_INTERVAL, max(MIN_INTERVAL, iv))
        self.on_snapshot = on_snapshot
        self.probe_timeout = probe_timeout
        self.baseline = baseline
        tname = target or plan.target_name
        self.collector = Collector(plan, plan.targets.get(tname), window=window,
                                   rate_window=rate_window, check_every=check_every,
                                   captured=captured, local_disk=local_disk,
                                   min_samples=max(1, min(MIN_WINDOW_SAMPLES,
                                                          int(window / self.interval))))
        self._history: deque[Snapshot] = deque()
        self._history_seconds = history_seconds
        self._conn: psycopg.Connection[Any] | None = None
        self._seq = 0
        self._lock = threading.Lock()  # one sample at a time
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0  # consecutive samples that found the database unreachable
        self._relative = any(
            t.above is not None and t.above.kind == "relative"
            for t in plan.risks.rollback_triggers) or any(
            a.alert.kind == "relative" for a in plan.monitoring.metrics)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="migtui-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()  # a baseline waiting for snapshots: none will come
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(self.probe_timeout + 5 if timeout is None else timeout)
        self._thread = None
        with self._lock:
            self._disconnect()
            self.collector.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            snap = self.sample_once()
            self.failures = self.failures + 1 if snap.unreachable else 0
            # re-arm only now that the sample finished: samples never overlap or pile up
            self._stop.wait(max(0.0, began + self.next_delay() - time.monotonic()))

    def next_delay(self) -> float:
        """The interval; while the database is unreachable, a backoff that doubles per
        failed try up to ``MAX_BACKOFF`` (reconnecting every tick would hammer a server
        that is restarting, and each try can block for the connect timeout)."""
        if not self.failures:
            return self.interval
        return min(MAX_BACKOFF, self.interval * 2 ** min(self.failures - 1, 8))

    # ------------------------------------------------------------ sampling

    def sample_once(self) -> Snapshot:
        """Take one sample on the calling thread and publish it. Never raises."""
        with self._lock:
            self._seq += 1
            try:
                conn = self._connect()
                snap = self.collector.sample(conn, self._seq)
            except Exception as e:  # noqa: BLE001 - a failed sample is data, not a crash
                c = self._conn
                unreachable = c is None or c.closed or c.broken
                self._disconnect()
                snap = self.collector.failed(self._seq, _describe(e), unreachable)
            if self._relative and self.baseline is None:
                snap = _with_note(snap, "relative thresholds inactive: no baseline")
            self._publish(snap)
        if self.on_snapshot is not None:
            try:
                self.on_snapshot(snap)
            except Exception:  # noqa: BLE001 - a subscriber must not stop the gauges
                log.exception("on_snapshot callback failed")
        return snap

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._disconnect()
        conn = psycopg.connect(libpq_dsn(self.dsn), autocommit=True,
                               application_name=APPLICATION_NAME, connect_timeout=5)
        try:
            self.collector.on_connect(conn, self.probe_timeout)
        except Exception:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _publish(self, snap: Snapshot) -> None:
        with self._cond:
            self._history.append(snap)
            while self._history and self._history[0].mono < snap.mono - self._history_seconds:
                self._history.popleft()
            self._cond.notify_all()

    # ------------------------------------------------------------ reading

    @property
    def latest(self) -> Snapshot | None:
        with self._cond:
            return self._history[-1] if self._history else None

    def snapshots(self, seconds: float | None = None) -> list[Snapshot]:
        with self._cond:
            snaps = list(self._history)
        if seconds is None or not snaps:
            return snaps
        cutoff = time.monotonic() - seconds
        return [s for s in snaps if s.mono >= cutoff]

    def history(self, metric: Metric | str, seconds: float) -> list[float]:
        """The metric's (or a numeric snapshot field's) values over the last seconds,
        oldest first, for sparklines. Samples where it was not measured are skipped."""
        return [v for s in self.snapshots(seconds) if (v := s.value(metric)) is not None]

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float) -> Snapshot | None:
        """Block until a new snapshot satisfies predicate; None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = self._history[-1].seq if self._history else 0
            while True:
                for s in self._history:
                    if s.seq > seen and predicate(s):
                        return s
                seen = self._history[-1].seq if self._history else seen
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    # ------------------------------------------------------------ baseline

    def capture_baseline(self, seconds: float, emit: Emit | None = None,
                         control: RunControl | None = None) -> Baseline:
        """Measure for ``seconds`` and record each metric's median and p95. Blocking.

        When the sampler runs, it uses the snapshots its thread takes meanwhile; when it
        does not, it samples on the calling thread. Emits ``BaselineRecorded`` (journaled).
        A cancel or a rollback request on ``control`` stops it (``Cancelled``), and so does
        the sampler stopping (``SamplerError``): no partial baseline is recorded.
        """
        start = time.monotonic()
        end = start + seconds
        if self.running:
            while time.monotonic() < end:
                if control is not None:
                    control.check()
                if self._stop.is_set():
                    raise SamplerError("the gauges stopped during the baseline: not recorded")
                with self._cond:
                    self._cond.wait(max(0.0, min(0.5, end - time.monotonic())))
        else:
            while True:
                if control is not None:
                    control.check()
                began = time.monotonic()
                self.sample_once()
                if began + self.interval >= end:
                    break
                time.sleep(max(0.0, began + self.interval - time.monotonic()))
        with self._cond:
            snaps = [s for s in self._history if s.mono >= start]
        good = [s for s in snaps if s.error is None]
        if not good:
            last = snaps[-1].error if snaps else "no sample was taken"
            raise SamplerError(f"no successful sample during the baseline: {last}")
        baseline = Baseline.from_snapshots(good, seconds)
        self.baseline = baseline
        if emit is not None:
            emit(baseline.to_event())
        return baseline


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _with_note(snap: Snapshot, note: str) -> Snapshot:
    return dataclasses.replace(snap, notes=(*snap.notes, note))
