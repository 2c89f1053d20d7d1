"""The gate's soak: after every member of a wave is applied, the plan's gauges keep running
on the wave's members for ``gate.soak`` before the next wave may start.

One worker takes a soaking wave (the ``wave`` row's ``worker`` and ``heartbeat``; another
takes it over, from the start, when that heartbeat stops) and runs a ``Watch`` — the same
Sampler and Guard a single run uses — on each of up to ``SOAK_SAMPLE`` of the wave's
members, spread evenly over the wave. A trigger that trips on any of them (a probe's
latency, an integrity check gone bad, ...) fails the gate: the member is marked ``failed``
with the trip, the wave fails and the fleet's failure policy applies, as for a member that
failed while running. A clean soak passes the gate.

A member the soak could not watch fails the gate too: its ``Watch`` could not be set up,
or its gauges could not be read at the end of the soak (its database gone or unreachable:
the last sample failed, or none finished). The gate says what it watched; it never passes
as "healthy" on a member it could not read. A soak that fails in itself (an error in this
module, not a gauge) fails the gate with that error, in one line, rather than dying with a
traceback and being restarted every tick.

Integrity checks that compare with values captured during the run (``= @name``) are not
evaluated during the soak: the soak has no run to capture them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migtui.control import RunControl
from migtui.events import ThresholdChanged
from migtui.fleet.control import ControlDb, Rollout
from migtui.fleet.members import Member
from migtui.fleet.scheduler import fail_wave
from migtui.plan.model import Plan
from migtui.runner.conn import first_line
from migtui.secrets import scrub

SOAK_SAMPLE = 8  # members of a wave whose gauges the soak samples (evenly spread)


def spread(names: list[str], k: int = SOAK_SAMPLE) -> list[str]:
    """At most ``k`` of ``names``, evenly spread, the first and the last included."""
    if len(names) <= k:
        return list(names)
    if k <= 1:
        return names[:k]
    return [names[round(i * (len(names) - 1) / (k - 1))] for i in range(k)]


@dataclass
class SoakResult:
    wave: int
    sampled: list[str]
    seconds: float
    tripped: dict[str, str] = field(default_factory=dict)  # member -> the trip, as text
    unwatched: dict[str, str] = field(default_factory=dict)  # member -> why it was not read
    error: str | None = None  # the soak itself failed (one line)

    @property
    def failed(self) -> bool:
        return bool(self.tripped or self.unwatched or self.error)

    @property
    def why(self) -> str:
        """Why the gate failed, in one line."""
        for members, what in ((self.tripped, "tripped"),
                              (self.unwatched, "could not be watched")):
            if members:
                first, text = next(iter(members.items()))
                more = f" and {len(members) - 1} more" if len(members) > 1 else ""
                return f"{first}{more} {what} during the soak ({text})"
        return f"the soak could not run: {self.error}"


class Soak:
    """Sample the plan's gauges on the given members until ``seconds`` passed or one of
    them trips; then report (not when stopped first)."""

    def __init__(self, plan: Plan, wave: int, members: list[Member], seconds: float,
                 on_done: Callable[[SoakResult], None]) -> None:
        self.plan = plan
        self.wave = wave
        self.members = members
        self.seconds = seconds
        self.on_done = on_done
        self._stop = threading.Event()
        self._tripped = threading.Event()
        self._trips: dict[str, str] = {}
        self._read: dict[str, str | None] = {}  # member -> its latest sample's error
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"fleet-soak-{wave}")

    def start(self) -> Soak:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _emit(self, name: str) -> Callable[[Any], None]:
        from migtui.watch import trip_text

        def emit(ev: Any) -> None:
            if isinstance(ev, ThresholdChanged) and ev.state == "trip":
                with self._lock:
                    self._trips.setdefault(name, scrub(trip_text(ev)))
                self._tripped.set()

        return emit

    def _observed(self, name: str) -> Callable[[Any], None]:
        def seen(snap: Any) -> None:
            with self._lock:
                self._read[name] = snap.error

        return seen

    def _run(self) -> None:
        from migtui.watch import Watch

        t0 = time.monotonic()
        watches: list[Any] = []
        unwatched: dict[str, str] = {}
        error: str | None = None
        try:
            for m in self.members:
                try:
                    watches.append(Watch(self.plan, m.dsn, emit=self._emit(m.name),
                                         control=RunControl(), captured=dict,
                                         on_snapshot=self._observed(m.name)).start())
                except Exception as e:  # noqa: BLE001 - the gate says so, in one line
                    unwatched[m.name] = scrub(first_line(e))
            deadline = t0 + self.seconds
            while not self._stop.is_set() and not self._tripped.is_set() and not unwatched:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._tripped.wait(min(left, 0.5))
        except Exception as e:  # noqa: BLE001 - a failed soak fails the gate, not the worker
            error = scrub(first_line(e))
        finally:
            for w in watches:
                w.stop()
        with self._lock:
            trips, read = dict(self._trips), dict(self._read)
        if self._stop.is_set() and not trips:
            return
        if not trips and not error:  # the end of the soak: every member must still read
            for m in self.members:
                if m.name not in unwatched and (m.name not in read or read[m.name]):
                    unwatched[m.name] = (f"its gauges could not be read: {read[m.name]}"
                                         if read.get(m.name) else "no sample of its gauges "
                                         "finished")
        self.on_done(SoakResult(self.wave, [m.name for m in self.members],
                                time.monotonic() - t0, trips, unwatched, error))


def soak_members(db: ControlDb, rollout_id: str, wave: int, known: dict[str, Member],
                 worker: str) -> tuple[list[Member], int]:
    """The members of a wave whose gauges the soak samples (those this worker can reach),
    and how many the wave has; the wave's note says which share is watched. When this
    worker knows none of them, it gives the soak up (the wave's ``worker`` cleared, the
    note saying why) for a worker that does, or for the timer alone when none is left."""
    names = [r["name"] for r in db.q(
        "SELECT name FROM migtui_fleet.member WHERE rollout = %s AND wave = %s AND "
        "state = 'applied' ORDER BY ord", (rollout_id, wave))]
    picked = [known[n] for n in spread([n for n in names if n in known])]
    note = (f"soaking: gauges on {len(picked)} of {len(names)} member(s)" if picked else
            f"soaking: worker {worker} knows none of the wave's {len(names)} member(s); "
            f"waiting for a worker that does")
    db.q("UPDATE migtui_fleet.wave SET message = %s, worker = CASE WHEN %s THEN worker END, "
         "heartbeat = CASE WHEN %s THEN heartbeat END WHERE rollout = %s AND n = %s AND "
         "state = 'soaking' AND worker = %s",
         (note, bool(picked), bool(picked), rollout_id, wave, worker))
    return picked, len(names)


def record(db: ControlDb, r: Rollout, worker: str, res: SoakResult) -> Rollout | None:
    """Write the soak's outcome: the gate passed (the wave is done), or it failed: the
    members that tripped or could not be watched are failed, and so is the wave (the
    failure policy applies). None when the soak was no longer this worker's (another took
    it over, or the rollout stopped meanwhile)."""
    if not res.failed:
        got = db.q("UPDATE migtui_fleet.wave SET state = 'done', finished_at = now(), "
                   "worker = NULL, message = %s WHERE rollout = %s AND n = %s AND "
                   "state = 'soaking' AND worker = %s RETURNING n",
                   (f"gate passed: gauges healthy on {len(res.sampled)} member(s) for "
                    f"{res.seconds:.0f}s", r.id, res.wave, worker))
        return r if got else None
    errors = {**{n: f"not watched: {t}" for n, t in res.unwatched.items()},
              **{n: f"tripped: {t}" for n, t in res.tripped.items()}}
    with db.tx():
        if not db.q("SELECT 1 FROM migtui_fleet.wave WHERE rollout = %s AND n = %s AND "
                    "state = 'soaking' AND worker = %s FOR UPDATE", (r.id, res.wave, worker)):
            return None
        db.q("UPDATE migtui_fleet.member m SET state = 'failed', finished_at = now(), "
             "error = v.error || ' (during the soak of wave ' || m.wave || '; its steps are "
             "applied)' FROM unnest(%s::text[], %s::text[]) AS v(name, error) WHERE "
             "m.rollout = %s AND m.name = v.name AND m.wave = %s AND m.state = 'applied'",
             (list(errors), list(errors.values()), r.id, res.wave))
        return fail_wave(db, r, res.wave, f"the gate failed: {res.why}")[0]
