"""The SQL of a worker's tick: what keeps the control database's load at a few statements
a second per worker, whatever the concurrency.

* ``SYNC``, one autocommit statement per tick: heartbeats the members the worker holds
  (only rows whose heartbeat is due, whose shown values changed, or that finished), records
  the members that finished since the last tick, heartbeats the soak the worker runs and
  its own ``worker`` row, and reads back the rollout row and the per-wave member counts —
  with this statement's own writes overlaid (a data-modifying CTE's changes are not visible
  to the rest of its statement, so the counts join its RETURNING rows).
* ``migtui_fleet.claim(...)``, one function call, only when there is room and something to
  claim: it locks the rollout row (so the concurrency limits hold across workers), then —
  with a fresh snapshot, as every statement in a volatile PL/pgSQL function takes one —
  picks members ``FOR UPDATE SKIP LOCKED`` within the overall and per-server limits, one per
  lock group, rollback work first, and marks them claimed. One statement, one transaction.
"""

from __future__ import annotations

STALE = "heartbeat < now() - make_interval(secs => r.timeout)"

SYNC = f"""
WITH beat AS (
    UPDATE migtui_fleet.member m SET heartbeat = now(),
        step = coalesce(v.step, m.step),
        progress = CASE WHEN v.shown THEN v.progress ELSE m.progress END,
        gauge = CASE WHEN v.shown THEN v.gauge ELSE m.gauge END,
        state = coalesce(v.final, m.state),
        -- a rollback keeps the error that caused it
        error = CASE WHEN v.final IS NULL THEN m.error ELSE coalesce(v.error,
                CASE WHEN m.state = 'rolling_back' THEN m.error END) END,
        finished_at = CASE WHEN v.final IS NULL THEN m.finished_at ELSE now() END
    FROM unnest(%(names)s::text[], %(steps)s::text[], %(shown)s::bool[], %(progress)s::text[],
                %(gauges)s::text[], %(finals)s::text[], %(errors)s::text[])
         AS v(name, step, shown, progress, gauge, final, error)
    WHERE m.rollout = %(rollout)s AND m.name = v.name AND m.worker = %(worker)s
      AND m.state IN ('running', 'rolling_back')
    RETURNING m.name, m.state
), soak AS (
    UPDATE migtui_fleet.wave SET heartbeat = now()
    WHERE rollout = %(rollout)s AND worker = %(worker)s AND state = 'soaking' AND %(beat)s
      AND n = %(soaking)s  -- only while its sampling thread is alive
    RETURNING n
), me AS (
    UPDATE migtui_fleet.worker SET heartbeat = now(), queries = %(queries)s, ticks = %(ticks)s
    WHERE id = %(worker)s AND %(beat)s RETURNING id
), counts AS (
    SELECT w.n, w.state AS wave_state, coalesce(w.gate_until <= now(), false) AS gate_passed,
           w.worker AS soak_worker, coalesce(w.{STALE}, true) AS soak_stale,
           coalesce(w.gate_until + make_interval(secs => r.timeout) <= now(), false)
               AS gate_lapsed,
           coalesce(b.state, m.state) AS state, count(m.name) AS members,
           count(m.name) FILTER (WHERE coalesce(b.state, m.state) IN ('running', 'rolling_back')
                                 AND (b.name IS NOT NULL OR NOT m.{STALE})) AS live,
           count(m.name) FILTER (WHERE NOT m.rollback_tried) AS untried
    FROM migtui_fleet.rollout r JOIN migtui_fleet.wave w ON w.rollout = r.id
    LEFT JOIN migtui_fleet.member m ON m.rollout = r.id AND m.wave = w.n
    LEFT JOIN beat b ON b.name = m.name
    WHERE r.id = %(rollout)s GROUP BY 1, 2, 3, 4, 5, 6, 7
)
SELECT (SELECT to_jsonb(r) FROM migtui_fleet.rollout r WHERE r.id = %(rollout)s) AS rollout,
       (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.n), '[]') FROM counts c) AS counts,
       ARRAY(SELECT name FROM beat WHERE state NOT IN ('running', 'rolling_back')) AS recorded,
       (SELECT count(*) FROM soak) + (SELECT count(*) FROM me) AS beats,
       -- other workers alive that sample gauges: they, not a timer, should take a soak
       (SELECT count(*) FROM migtui_fleet.worker k JOIN migtui_fleet.rollout r
               ON r.id = k.rollout WHERE k.rollout = %(rollout)s AND k.soaker
               AND k.id <> %(worker)s AND NOT k.{STALE}) AS soakers
"""

# Members a stopped rollout leaves to the failure policy, one statement: a dead worker's
# 'running' member (no one takes it over once the rollout stopped) is rolled back when its
# wave failed under a rollback policy, else it is 'failed' with why; under rollback_member
# and rollback_wave, a member of the failed wave that failed after the wave did (it was in
# flight) is rolled back, as is, under rollback_wave, one that was applied after it.
SETTLE_MEMBERS = """
UPDATE migtui_fleet.member m SET worker = NULL,
    state = CASE WHEN m.state = 'running' AND NOT (w.state = 'failed' AND %(policy)s <> 'stop')
            THEN 'failed' ELSE 'rollback_pending' END,
    error = CASE WHEN m.state = 'running' THEN 'its worker stopped while it ran (step '
                 || coalesce(m.step, '-') || '), after the rollout stopped' ELSE m.error END,
    finished_at = CASE WHEN m.state = 'running' THEN now() ELSE m.finished_at END
FROM migtui_fleet.wave w, migtui_fleet.rollout r
WHERE m.rollout = %(r)s AND w.rollout = m.rollout AND w.n = m.wave AND r.id = m.rollout
  AND r.state = 'failed' AND (
      (m.state = 'running' AND m.heartbeat < now() - make_interval(secs => r.timeout))
      OR (w.state = 'failed' AND m.state = 'failed' AND NOT m.rollback_tried
          AND %(policy)s <> 'stop')
      OR (w.state = 'failed' AND m.state = 'applied' AND %(policy)s = 'rollback_wave'))
RETURNING m.state
"""

CLAIM = "SELECT name, action, takeover FROM migtui_fleet.claim(%s, %s, %s, %s)"

CLAIM_FUNCTION = f"""
CREATE OR REPLACE FUNCTION migtui_fleet.claim(p_rollout text, p_worker text, p_free int,
                                              p_wave int)
RETURNS TABLE (name text, action text, takeover boolean) LANGUAGE plpgsql AS $fn$
DECLARE
    r migtui_fleet.rollout;
BEGIN
    -- the rollout row serializes claims across workers; the query below takes its snapshot
    -- after the lock, so it sees every claim committed before
    SELECT * INTO r FROM migtui_fleet.rollout WHERE id = p_rollout FOR UPDATE;
    IF NOT FOUND THEN  -- paused: rollback work only (members to apply need 'running')
        RETURN;
    END IF;
    RETURN QUERY
    WITH busy AS (
        SELECT b.server, b.lock_group FROM migtui_fleet.member b
        WHERE b.rollout = p_rollout AND b.state IN ('running', 'rolling_back')
          AND (NOT b.{STALE} OR b.worker = p_worker)  -- its own: it still runs them
    ), cand AS (
        SELECT c.name, c.server, c.lock_group, c.state, c.ord,
               c.state IN ('rollback_pending', 'rolling_back') AS rb
        FROM migtui_fleet.member c
        WHERE c.rollout = p_rollout AND (c.state = 'rollback_pending'
              -- a stale member is another worker's: never hand a worker back its own
              OR (c.state = 'rolling_back' AND c.{STALE} AND c.worker <> p_worker)
              OR (r.state = 'running' AND c.wave = p_wave
                  AND EXISTS (SELECT 1 FROM migtui_fleet.wave w WHERE w.rollout = p_rollout
                              AND w.n = p_wave AND w.state = 'running')
                  AND (c.state = 'pending' OR (c.state = 'running' AND c.{STALE}
                                               AND c.worker <> p_worker))))
        ORDER BY rb DESC, c.ord
        LIMIT greatest(64, 4 * p_free)
        FOR UPDATE OF c SKIP LOCKED
    ), one_per_group AS (  -- one member per lock group, none whose group is busy
        SELECT c.*, row_number() OVER (PARTITION BY c.lock_group ORDER BY c.rb DESC, c.ord) AS gi
        FROM cand c WHERE c.lock_group NOT IN (SELECT b.lock_group FROM busy b)
    ), per_server AS (  -- within the per-server limit, counting the server's busy members
        SELECT g.*, (SELECT count(*) FROM busy b WHERE b.server = g.server)
                    + row_number() OVER (PARTITION BY g.server ORDER BY g.rb DESC, g.ord) AS si
        FROM one_per_group g WHERE g.gi = 1
    ), picked AS (
        SELECT s.*, row_number() OVER (ORDER BY s.rb DESC, s.ord) AS oi
        FROM per_server s WHERE r.per_server IS NULL OR s.si <= r.per_server
    )
    UPDATE migtui_fleet.member m
    SET state = CASE WHEN p.rb THEN 'rolling_back' ELSE 'running' END, worker = p_worker,
        heartbeat = now(), attempts = m.attempts + 1, rollback_tried = m.rollback_tried OR p.rb,
        started_at = coalesce(m.started_at, now()), finished_at = NULL,
        error = CASE WHEN p.rb THEN m.error END
    FROM picked p
    WHERE m.rollout = p_rollout AND m.name = p.name
      AND p.oi <= least(p_free, r.concurrency - (SELECT count(*) FROM busy))
    RETURNING m.name, CASE WHEN p.rb THEN 'rollback' ELSE 'apply' END,
              p.state IN ('running', 'rolling_back');
END
$fn$;
"""
