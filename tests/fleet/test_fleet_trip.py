"""A gauge trip on one member trips its wave: each active member runs its plan's gauges
(a Watch), and a member whose probe slows past the trigger (its index dropped, so the
probe scans) is rolled back and stops the rollout before the next wave."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import _with_db
from tests.fleet.helpers import admin, databases, migtui, q, write_fleet, write_plan

SEED = """CREATE TABLE accounts (id int PRIMARY KEY, name text);
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 400000) g;
CREATE INDEX accounts_name_idx ON accounts (name);
ANALYZE accounts;"""

STEPS = """\
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN tier int
    rollback: ALTER TABLE accounts DROP COLUMN tier
  - id: slow
    sql: UPDATE accounts SET tier = 1 WHERE id <= 120 AND pg_sleep(0.05) IS NOT NULL
    rollback: UPDATE accounts SET tier = NULL
"""

GAUGES = """\
risks:
  rollback_triggers:
    - {text: Probe latency, metric: latency, above: 10ms, for: 1s}
monitoring:
  probes: ["SELECT count(*) FROM accounts WHERE name = 'a77'"]
"""


def test_a_latency_trip_on_one_member_trips_its_wave(tmp_path: Path, pg_admin_url: str) -> None:
    with databases(pg_admin_url, 5, seed=SEED) as (pattern, names):
        slow = names[2]  # waves [1, 2, rest]: names[1:3] are wave 2
        admin(_with_db(pg_admin_url, slow), "DROP INDEX accounts_name_idx")
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: trip-{pattern.rstrip('%')}
            members:
              discover: [{{dsn: "{pg_admin_url}", pattern: "{pattern}"}}]
            waves: [1, 2, rest]
            concurrency: {{overall: 2}}
            workers: {{heartbeat: 0.2s, timeout: 10s}}
            """)
        plan = write_plan(tmp_path, STEPS, GAUGES)
        text = plan.read_text().replace("settings:\n", "settings:\n  sample_interval: 250ms\n")
        plan.write_text(text)
        res = migtui("fleet", "run", str(f), str(plan))
        assert res.returncode == 1, res.stdout + res.stderr
        ctl = _with_db(pg_admin_url, names[0])
        members = {r[0]: (r[1], r[2]) for r in q(ctl, "SELECT name, state, error FROM "
                                                      "migtui_fleet.member")}
        assert members[slow][0] == "failed" and "tripped" in (members[slow][1] or ""), members
        assert "latency" in members[slow][1]
        slow_url = _with_db(pg_admin_url, slow)
        assert not q(slow_url, "SELECT 1 FROM information_schema.columns WHERE "
                               "table_name = 'accounts' AND column_name = 'tier'")
        assert members[names[0]][0] == "applied"
        assert members[names[1]][0] == "applied"  # its index serves the probe: no trip
        for nm in names[3:]:
            assert members[nm][0] == "pending"
        assert q(ctl, "SELECT n, state FROM migtui_fleet.wave ORDER BY n") == [
            (1, "done"), (2, "failed"), (3, "pending")]
