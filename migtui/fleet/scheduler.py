"""One worker's tick against the control database: heartbeat, move the waves along,
apply the failure policy, and claim members — in one transaction holding the rollout row.

Every worker runs the same tick; whichever gets the rollout row first makes a transition,
the others see it done. Members are claimed with ``FOR UPDATE SKIP LOCKED``; a member in
``running`` or ``rolling_back`` whose heartbeat is older than the rollout's timeout belongs
to a dead worker and is claimed again (its own history table makes the re-run converge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migtui.fleet.control import ACTIVE, ControlDb, Rollout

STALE = "heartbeat < now() - make_interval(secs => %s)"


@dataclass(frozen=True)
class Claim:
    name: str
    action: str  # apply | rollback
    takeover: bool  # it was another worker's, whose heartbeat stopped


@dataclass
class TickResult:
    rollout: Rollout
    claims: list[Claim] = field(default_factory=list)
    waiting_rollbacks: int = 0  # rollback work left (pending or in flight)
    active_elsewhere: int = 0  # members other live workers are on


def tick(db: ControlDb, rollout_id: str, worker: str, mine: dict[str, str | None],
         free: int, *, heartbeat: bool = True, worker_row: bool = False,
         shown: dict[str, tuple[str | None, str | None]] | None = None) -> TickResult:
    """``mine``: this worker's active members and their current step; ``free``: how many
    more it may take now; ``shown``: per member, its backfill progress and worst gauge
    (what the app's fleet view shows), sent with the heartbeat."""
    with db.tx():
        rows = db.q("SELECT id, fleet, plan_id, state, on_failure, concurrency, per_server, soak,"
                    " timeout, message FROM migtui_fleet.rollout WHERE id = %s FOR UPDATE",
                    (rollout_id,))
        r = Rollout(**rows[0])
        if heartbeat and mine:
            extra = [(shown or {}).get(n, (None, None)) for n in mine]
            db.q("UPDATE migtui_fleet.member m SET heartbeat = now(), step = v.step, "
                 "progress = v.progress, gauge = v.gauge FROM unnest(%s::text[], %s::text[], "
                 "%s::text[], %s::text[]) AS v(name, step, progress, gauge) "
                 "WHERE m.rollout = %s AND m.name = v.name AND m.worker = %s",
                 (list(mine), list(mine.values()), [e[0] for e in extra],
                  [e[1] for e in extra], rollout_id, worker))
        if worker_row:
            db.q("UPDATE migtui_fleet.worker SET heartbeat = now(), queries = %s WHERE id = %s",
                 (db.queries + 1, worker))
        counts = db.q(
            f"SELECT w.n, w.state AS wave_state, w.gate_until <= now() AS gate_passed, "
            f"m.state, count(m.name) AS n_members, "
            f"count(m.name) FILTER (WHERE m.state = ANY(%s) AND NOT m.{STALE}) AS live "
            f"FROM migtui_fleet.wave w LEFT JOIN migtui_fleet.member m ON m.rollout = w.rollout "
            f"AND m.wave = w.n WHERE w.rollout = %s GROUP BY 1, 2, 3, 4 ORDER BY 1",
            (list(ACTIVE), r.timeout, rollout_id))
        r, wave = _advance(db, r, counts)
        res = TickResult(r)
        res.waiting_rollbacks = sum(c["n_members"] for c in counts
                                    if c["state"] in ("rollback_pending", "rolling_back"))
        res.active_elsewhere = sum(c["live"] for c in counts) - len(mine)
        if free > 0:
            res.claims = _claim(db, r, worker, free, wave)
        return res


def _advance(db: ControlDb, r: Rollout, counts: list[dict[str, Any]]
             ) -> tuple[Rollout, int | None]:
    """Wave transitions and the failure policy: the rollout as it now stands, and the wave
    whose members may be claimed (None: none now)."""
    if r.state == "failed" and r.on_failure == "rollback_wave":
        # members of the failed wave that finished after it failed are rolled back too
        db.q("UPDATE migtui_fleet.member SET state = 'rollback_pending', worker = NULL WHERE "
             "rollout = %s AND state = 'applied' AND wave IN (SELECT n FROM migtui_fleet.wave "
             "WHERE rollout = %s AND state = 'failed')", (r.id, r.id))
    if r.state != "running":
        return r, None
    waves: dict[int, dict[str, Any]] = {}
    for c in counts:
        w = waves.setdefault(int(c["n"]), {"state": c["wave_state"], "gate": c["gate_passed"],
                                           "members": {}})
        if c["state"] is not None:
            w["members"][c["state"]] = int(c["n_members"])
    for n, w in sorted(waves.items()):
        if w["state"] == "done":
            continue
        if w["state"] == "pending":
            db.q("UPDATE migtui_fleet.wave SET state = 'running', started_at = now() "
                 "WHERE rollout = %s AND n = %s", (r.id, n))
            return r, n  # its members are claimed on this same tick
        failed = w["members"].get("failed", 0)
        if failed:
            return _fail_wave(db, r, n, failed), None
        total = sum(w["members"].values())
        applied = w["members"].get("applied", 0)
        if w["state"] == "running" and applied == total:
            if r.soak > 0:
                db.q("UPDATE migtui_fleet.wave SET state = 'soaking', gate_until = now() + "
                     "make_interval(secs => %s) WHERE rollout = %s AND n = %s",
                     (r.soak, r.id, n))
                return r, None
            w["state"], w["gate"] = "soaking", True  # no soak: the gate passes now
        if w["state"] == "soaking" and w["gate"]:
            db.q("UPDATE migtui_fleet.wave SET state = 'done', finished_at = now(), message = "
                 "'gate passed' WHERE rollout = %s AND n = %s", (r.id, n))
            continue  # the next wave starts on this same tick
        return r, (n if w["state"] == "running" else None)
    db.q("UPDATE migtui_fleet.rollout SET state = 'done', finished_at = now(), message = "
         "'every wave applied' WHERE id = %s", (r.id,))
    return Rollout(**{**r.__dict__, "state": "done", "message": "every wave applied"}), None


def _fail_wave(db: ControlDb, r: Rollout, n: int, failed: int) -> Rollout:
    msg = (f"wave {n}: {failed} member(s) failed; the rollout stopped before wave {n + 1}"
           f" (on_failure: {r.on_failure})")
    db.q("UPDATE migtui_fleet.wave SET state = 'failed', finished_at = now(), message = %s "
         "WHERE rollout = %s AND n = %s", (msg, r.id, n))
    if r.on_failure == "rollback_member":
        db.q("UPDATE migtui_fleet.member SET state = 'rollback_pending', worker = NULL WHERE "
             "rollout = %s AND wave = %s AND state = 'failed'", (r.id, n))
    elif r.on_failure == "rollback_wave":
        db.q("UPDATE migtui_fleet.member SET state = 'rollback_pending', worker = NULL WHERE "
             "rollout = %s AND wave = %s AND state IN ('failed', 'applied')", (r.id, n))
    db.q("UPDATE migtui_fleet.rollout SET state = 'failed', finished_at = now(), message = %s "
         "WHERE id = %s", (msg, r.id))
    return Rollout(**{**r.__dict__, "state": "failed", "message": msg})


def _claim(db: ControlDb, r: Rollout, worker: str, free: int, wave: int | None) -> list[Claim]:
    """Rollback work first (any rollout state but paused), then the current wave's members,
    within the overall and per-server limits, one member per database at a time."""
    if r.state == "paused":
        return []
    busy = db.q(f"SELECT server, lock_group FROM migtui_fleet.member WHERE rollout = %s AND "
                f"state = ANY(%s) AND NOT {STALE}", (r.id, list(ACTIVE), r.timeout))
    room = r.concurrency - len(busy)
    if room <= 0:
        return []
    per_server: dict[str, int] = {}
    groups = {b["lock_group"] for b in busy}
    for b in busy:
        per_server[b["server"]] = per_server.get(b["server"], 0) + 1
    cands = db.q(
        f"SELECT name, server, lock_group, state FROM migtui_fleet.member WHERE rollout = %s AND "
        f"(state IN ('rollback_pending') OR (state = 'rolling_back' AND {STALE}) OR "
        f"(%s::int IS NOT NULL AND wave = %s AND (state = 'pending' OR "
        f"(state = 'running' AND {STALE})))) "
        f"ORDER BY state NOT IN ('rollback_pending', 'rolling_back'), ord "
        f"LIMIT %s FOR UPDATE SKIP LOCKED",
        (r.id, r.timeout, wave, wave, r.timeout, max(64, 4 * free)))
    picked: list[Claim] = []
    for c in cands:
        if len(picked) >= min(free, room):
            break
        if c["lock_group"] in groups:
            continue
        if r.per_server is not None and per_server.get(c["server"], 0) >= r.per_server:
            continue
        groups.add(c["lock_group"])
        per_server[c["server"]] = per_server.get(c["server"], 0) + 1
        action = "rollback" if c["state"] in ("rollback_pending", "rolling_back") else "apply"
        picked.append(Claim(c["name"], action, c["state"] in ACTIVE))
    for action, state in (("apply", "running"), ("rollback", "rolling_back")):
        names = [p.name for p in picked if p.action == action]
        if names:
            db.q("UPDATE migtui_fleet.member SET state = %s, worker = %s, heartbeat = now(), "
                 "attempts = attempts + 1, started_at = coalesce(started_at, now()), "
                 "finished_at = NULL, error = CASE WHEN %s THEN error END "
                 "WHERE rollout = %s AND name = ANY(%s)",
                 (state, worker, action == "rollback", r.id, names))
    return picked


def finish(db: ControlDb, rollout_id: str, name: str, worker: str, state: str,
           error: str | None = None, step: str | None = None) -> bool:
    """Record a member's end; ignored when another worker took the member over meanwhile."""
    # a rollback keeps the error that caused it
    rows = db.q("UPDATE migtui_fleet.member SET state = %s, error = coalesce(%s, CASE WHEN "
                "state = 'rolling_back' THEN error END), step = coalesce(%s, step),"
                " finished_at = now(), heartbeat = now() WHERE rollout = %s AND name = %s AND "
                "worker = %s AND state = ANY(%s) RETURNING name",
                (state, error, step, rollout_id, name, worker, list(ACTIVE)))
    return bool(rows)


def release(db: ControlDb, rollout_id: str, name: str, worker: str, error: str) -> None:
    """Give a claimed member back (its database is busy): claimable again on a later tick."""
    db.q("UPDATE migtui_fleet.member SET state = CASE state WHEN 'running' THEN 'pending' "
         "ELSE 'rollback_pending' END, worker = NULL, heartbeat = NULL, error = %s "
         "WHERE rollout = %s AND name = %s AND worker = %s AND state = ANY(%s)",
         (error, rollout_id, name, worker, list(ACTIVE)))
