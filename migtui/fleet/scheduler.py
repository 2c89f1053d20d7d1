"""One worker's tick against the control database: heartbeat and record finished members,
read where the rollout stands, move the waves along, apply the failure policy, and claim
members — in one statement (``tick_sql.SYNC``), plus one more (``migtui_fleet.claim``) only
when there is room and something to claim, plus a conditional update per wave transition.

Every worker runs the same tick. Transitions are conditional updates (``WHERE state =
'running'`` …): whichever worker gets there first makes one, the others' updates match no
row. Claims lock the rollout row, so the concurrency limits hold across workers; members
are claimed with ``FOR UPDATE SKIP LOCKED``; a member in ``running`` or ``rolling_back``
whose heartbeat is older than the rollout's timeout belongs to a dead worker and is claimed
again (its own history table makes the re-run converge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migtui.fleet.control import ACTIVE, ControlDb, Rollout
from migtui.fleet.tick_sql import CLAIM, SETTLE_MEMBERS, SYNC

ROLLOUT_FIELDS = ("id", "fleet", "plan_id", "state", "on_failure", "concurrency", "per_server",
                  "soak", "timeout", "message")
ROLLBACK_WORK = ("rollback_pending", "rolling_back")


@dataclass(frozen=True)
class Claim:
    name: str
    action: str  # apply | rollback
    takeover: bool  # it was another worker's, whose heartbeat stopped


@dataclass(frozen=True)
class Held:
    """A member this worker holds, as the tick reports it: its current step and what the
    fleet view shows (``shown``: they changed since last sent), or how it ended."""

    name: str
    step: str | None = None
    progress: str | None = None
    gauge: str | None = None
    shown: bool = False
    final: str | None = None  # applied | failed | rolled_back: it finished
    error: str | None = None


@dataclass
class Wave:
    n: int
    state: str
    gate_passed: bool
    soak_worker: str | None
    soak_stale: bool
    gate_lapsed: bool = False  # the gate's deadline passed by more than the timeout
    members: dict[str, int] = field(default_factory=dict)  # member state -> count
    live: int = 0  # members running or rolling back under a live heartbeat
    stale_running: int = 0  # members 'running' whose heartbeat stopped (a dead worker's)
    untried_failed: int = 0  # members 'failed' with no rollback tried since they ran

    @property
    def total(self) -> int:
        return sum(self.members.values())


@dataclass
class TickResult:
    rollout: Rollout
    waves: list[Wave] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)  # finishes written this tick
    soak: int | None = None  # a wave whose soak this worker took: start sampling it
    waiting_rollbacks: int = 0  # rollback work left (pending or in flight)
    statements: int = 0  # control statements this tick sent


def tick(db: ControlDb, rollout_id: str, worker: str, held: list[Held], free: int, *,
         beat: bool = True, ticks: int = 0, sent: int = 0, soaker: bool = False,
         soaking: int | None = None, cannot_soak: frozenset[int] = frozenset()) -> TickResult:
    """``held``: the members this worker reports (heartbeat due, changed, or finished);
    ``free``: how many more it may take now; ``beat``: heartbeat the soak and the worker
    row too (with ``ticks`` and ``sent``, its ticks and control statements so far);
    ``soaker``: this worker can sample a soaking wave's gauges (but not those of the waves
    in ``cannot_soak``: it reaches none of their members); ``soaking``: the wave whose
    soak this worker's thread samples now (only its heartbeat is kept)."""
    before = db.queries
    row = db.q(SYNC, {
        "rollout": rollout_id, "worker": worker, "beat": beat, "ticks": ticks,
        "soaking": soaking,
        "queries": sent + 1, "names": [h.name for h in held],
        "steps": [h.step for h in held], "shown": [h.shown for h in held],
        "progress": [h.progress for h in held], "gauges": [h.gauge for h in held],
        "finals": [h.final for h in held], "errors": [h.error for h in held]})[0]
    r = Rollout(**{k: row["rollout"][k] for k in ROLLOUT_FIELDS})
    waves: dict[int, Wave] = {}
    for c in row["counts"]:
        w = waves.setdefault(int(c["n"]), Wave(int(c["n"]), c["wave_state"], c["gate_passed"],
                                               c["soak_worker"], c["soak_stale"],
                                               c["gate_lapsed"]))
        if c["state"] is not None:
            w.members[c["state"]] = int(c["members"])
            w.live += int(c["live"])
            if c["state"] == "running":
                w.stale_running = int(c["members"]) - int(c["live"])
            elif c["state"] == "failed":
                w.untried_failed = int(c["untried"])
    res = TickResult(r, [waves[n] for n in sorted(waves)], recorded=list(row["recorded"]))
    gate = Gate(worker, soaker, cannot_soak, int(row["soakers"]))
    res.rollout, wave, res.soak, marked = _advance(db, r, res.waves, gate)
    res.waiting_rollbacks = marked + sum(w.members.get(s, 0) for w in res.waves
                                         for s in ROLLBACK_WORK)
    if res.rollout.state == "failed":  # members still in flight (a dead worker's, until it
        # goes stale and settle_failed settles it) may need their rollback too
        res.waiting_rollbacks += sum(w.members.get("running", 0) - w.stale_running
                                     for w in res.waves)
    # paused, only rollback work is claimed (the claim takes members to apply only from a
    # running rollout's current wave)
    if free > 0 and (marked or _claimable(res, wave)):
        res.claims = [Claim(c["name"], c["action"], c["takeover"])
                      for c in db.q(CLAIM, (rollout_id, worker, free, wave))]
    res.statements = db.queries - before
    return res


def _claimable(res: TickResult, wave: int | None) -> bool:
    """Room under the overall limit, and rollback work or the current wave's members
    waiting (pending, or held by a dead worker): else the claim is not even asked."""
    live = sum(w.live for w in res.waves)
    if live >= res.rollout.concurrency:
        return False
    for w in res.waves:
        stale = sum(w.members.get(s, 0) for s in ACTIVE) - w.live
        if w.members.get("rollback_pending", 0) or (stale and w.members.get("rolling_back")):
            return True
        if w.n == wave and (w.members.get("pending", 0) or stale):
            return True
    return False


@dataclass(frozen=True)
class Gate:
    """Who may take a soak: this worker (when it samples gauges and reaches some of the
    wave's members), and how many other live workers sample gauges."""

    worker: str
    soaker: bool
    cannot_soak: frozenset[int]
    soakers: int

    def can_soak(self, n: int) -> bool:
        return self.soaker and n not in self.cannot_soak

    def timer_only(self, w: Wave) -> bool:
        """No worker that samples gauges is left to take this soak (or none did within
        the timeout past its deadline): the gate may pass on its timer alone."""
        return not self.soakers or w.gate_lapsed


TIMER_NOTE = "soaking: timer only, no gauges sampled ({why})"


def _advance(db: ControlDb, r: Rollout, waves: list[Wave], g: Gate
             ) -> tuple[Rollout, int | None, int | None, int]:
    """Wave transitions and the failure policy: the rollout as it now stands, the wave
    whose members may be claimed, the wave whose soak this worker just took, and how many
    members the failure policy just marked for rollback (claimable on this same tick)."""
    if r.state == "failed":
        return r, None, None, settle_failed(db, r, waves)
    if r.state not in ("running", "paused"):
        return r, None, None, 0
    paused = r.state == "paused"  # no wave starts, no member is claimed to apply
    for w in waves:
        if w.state == "done":
            continue
        if w.state in ("failed", "stopped"):  # the rollout did not stop with it: stop it now
            r = _stop_rollout(db, r, w.n)
            return r, None, None, settle_failed(db, r, waves) if r.state == "failed" else 0
        if w.state == "pending":
            if paused:
                return r, None, None, 0
            db.q("UPDATE migtui_fleet.wave SET state = 'running', started_at = now() "
                 "WHERE rollout = %s AND n = %s AND state = 'pending'", (r.id, w.n))
            return r, w.n, None, 0  # its members are claimed on this same tick
        failed = w.members.get("failed", 0)
        if failed:
            r, marked = fail_wave(db, r, w.n, f"{failed} member(s) failed")
            return r, None, None, marked
        if w.state == "running" and w.members.get("applied", 0) == w.total:
            if r.soak <= 0:  # no soak: the gate passes now
                db.q("UPDATE migtui_fleet.wave SET state = 'done', finished_at = now(), "
                     "message = 'gate passed' WHERE rollout = %s AND n = %s AND "
                     "state = 'running'", (r.id, w.n))
                continue  # the next wave starts on this same tick
            mine = g.can_soak(w.n)
            if not mine and g.soakers:  # a worker that samples gauges takes it
                return r, None, None, 0
            got = db.q(
                "UPDATE migtui_fleet.wave SET state = 'soaking', gate_until = now() + "
                "make_interval(secs => %s), worker = %s, heartbeat = now(), message = %s "
                "WHERE rollout = %s AND n = %s AND state = 'running' RETURNING n",
                (r.soak, g.worker if mine else None, None if mine else TIMER_NOTE.format(
                    why="the plan has none, or no worker samples them"), r.id, w.n))
            return r, None, (w.n if got and mine else None), 0
        if w.state == "soaking":
            if (w.soak_worker is None and w.gate_passed and not g.can_soak(w.n)
                    and g.timer_only(w)):  # a soak no one samples: its timer is the gate
                db.q("UPDATE migtui_fleet.wave SET state = 'done', finished_at = now(), "
                     "message = 'gate passed: timer only, no gauges sampled' WHERE "
                     "rollout = %s AND n = %s AND state = 'soaking' AND worker IS NULL",
                     (r.id, w.n))
                continue
            return r, None, _soak_gate(db, r, w, g), 0

        return r, (w.n if w.state == "running" and not paused else None), None, 0
    if db.q("UPDATE migtui_fleet.rollout SET state = 'done', finished_at = now(), message = "
            "'every wave applied' WHERE id = %s AND state = 'running' RETURNING id", (r.id,)):
        r = Rollout(**{**r.__dict__, "state": "done", "message": "every wave applied"})
    return r, None, None, 0


STILL_FAILED = ("EXISTS (SELECT 1 FROM migtui_fleet.rollout WHERE id = %(r)s AND "
                "state = 'failed')")


def settle_failed(db: ControlDb, r: Rollout, waves: list[Wave]) -> int:
    """A stopped rollout leaves no wave running or soaking, and no member to a dead worker
    (``SETTLE_MEMBERS``); the failure policy also covers members of the failed wave that
    finished after it failed. How many members were marked for rollback.

    ``r`` and ``waves`` may be stale (read before an operator's ``fleet resume``): each
    update applies only while the rollout is still failed, checked in the same statement,
    so a wave that resume just set running is never stopped again."""
    if any(w.state in ("running", "soaking") for w in waves):
        db.q("UPDATE migtui_fleet.wave SET state = 'stopped', worker = NULL, finished_at = "
             "coalesce(finished_at, now()), message = %(msg)s WHERE rollout = %(r)s AND "
             f"state IN ('running', 'soaking') AND {STILL_FAILED}",
             {"msg": f"stopped: {r.message or 'rollout failed'}", "r": r.id})
    policy = r.on_failure
    if not any(w.stale_running or (w.state == "failed" and (
            (policy != "stop" and w.untried_failed)
            or (policy == "rollback_wave" and w.members.get("applied")))) for w in waves):
        return 0
    rows = db.q(SETTLE_MEMBERS, {"r": r.id, "policy": policy})
    return sum(1 for row in rows if row["state"] == "rollback_pending")


def _soak_gate(db: ControlDb, r: Rollout, w: Wave, g: Gate) -> int | None:
    """A soaking wave no live worker samples: a worker that can samples it, from the start
    (the wave, when this one took it); else, once no worker with gauges is left, its timer
    alone is the gate, and the wave's note says so."""
    if w.soak_worker is None or (w.soak_worker != g.worker and w.soak_stale):
        if g.can_soak(w.n):
            got = db.q("UPDATE migtui_fleet.wave SET worker = %s, heartbeat = now(), "
                       "gate_until = now() + make_interval(secs => %s), message = NULL "
                       "WHERE rollout = %s AND n = %s AND state = 'soaking' AND worker "
                       "IS NOT DISTINCT FROM %s RETURNING n",
                       (g.worker, r.soak, r.id, w.n, w.soak_worker))
            return w.n if got else None
        if w.soak_worker is not None and g.timer_only(w):
            db.q("UPDATE migtui_fleet.wave SET worker = NULL, heartbeat = NULL, message = %s "
                 "WHERE rollout = %s AND n = %s AND state = 'soaking' AND worker = %s",
                 (TIMER_NOTE.format(why="its sampling worker stopped, and no worker with "
                                        "gauges is left"), r.id, w.n, w.soak_worker))
    return None


def _stop_rollout(db: ControlDb, r: Rollout, n: int) -> Rollout:
    """A running (or paused) rollout with a failed or stopped wave (a wave failed in a race
    with the operator's resume or pause): the rollout fails too, with the wave's note, so
    its state always converges and the failure policy applies."""
    rows = db.q(
        "UPDATE migtui_fleet.rollout r SET state = 'failed', finished_at = now(), message = "
        "coalesce(w.message, 'wave ' || w.n || ' ' || w.state) FROM migtui_fleet.wave w "
        "WHERE r.id = %s AND r.state IN ('running', 'paused') AND w.rollout = r.id AND "
        "w.n = %s AND w.state IN ('failed', 'stopped') RETURNING r.state, r.message",
        (r.id, n))
    got = rows[0] if rows else db.q("SELECT state, message FROM migtui_fleet.rollout "
                                    "WHERE id = %s", (r.id,))[0]
    return Rollout(**{**r.__dict__, "state": got["state"], "message": got["message"]})


def fail_wave(db: ControlDb, r: Rollout, n: int, why: str) -> tuple[Rollout, int]:
    """The wave failed: it is 'failed', the rollout stops (also a paused one), the failure
    policy marks members for rollback — in one statement, done once whichever worker gets
    there first. The rollout as it now stands, and how many members were marked."""
    msg = (f"wave {n}: {why}; the rollout stopped before wave {n + 1}"
           f" (on_failure: {r.on_failure})")
    states = {"rollback_member": ["failed"], "rollback_wave": ["failed", "applied"]}.get(
        r.on_failure, [])
    rows = db.q(
        "WITH w AS (UPDATE migtui_fleet.wave SET state = 'failed', worker = NULL, "
        "finished_at = now(), message = %(msg)s WHERE rollout = %(r)s AND n = %(n)s AND "
        "state IN ('running', 'soaking') RETURNING n), "
        "m AS (UPDATE migtui_fleet.member SET state = 'rollback_pending', worker = NULL "
        "WHERE rollout = %(r)s AND wave IN (SELECT n FROM w) AND state = ANY(%(states)s) "
        "RETURNING name), "
        "ro AS (UPDATE migtui_fleet.rollout SET state = 'failed', finished_at = now(), "
        "message = %(msg)s WHERE id = %(r)s AND state IN ('running', 'paused') AND EXISTS "
        "(SELECT 1 FROM w) RETURNING message) "
        "SELECT (SELECT message FROM ro) AS message, (SELECT count(*) FROM m) AS marked, "
        "r.state AS was_state, r.message AS was FROM migtui_fleet.rollout r WHERE r.id = %(r)s",
        {"msg": msg, "r": r.id, "n": n, "states": states})
    got = rows[0]
    if got["message"] is not None:  # this statement stopped the rollout
        return Rollout(**{**r.__dict__, "state": "failed", "message": got["message"]}), int(
            got["marked"])
    return Rollout(**{**r.__dict__, "state": got["was_state"], "message": got["was"]}), int(
        got["marked"])


def release(db: ControlDb, rollout_id: str, name: str, worker: str, error: str) -> None:
    """Give a claimed member back (its database is busy): claimable again on a later tick."""
    db.q("UPDATE migtui_fleet.member SET state = CASE state WHEN 'running' THEN 'pending' "
         "ELSE 'rollback_pending' END, worker = NULL, heartbeat = NULL, error = %s "
         "WHERE rollout = %s AND name = %s AND worker = %s AND state = ANY(%s)",
         (error, rollout_id, name, worker, list(ACTIVE)))
