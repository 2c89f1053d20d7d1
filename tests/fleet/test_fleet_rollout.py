"""Rolling one plan across a fleet, on real PostgreSQL: discovery, waves, the failure
policy, tenant schemas (Prisma's ?schema= form too), status and the control tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import _with_db
from tests.fleet.helpers import admin, databases, migtui, q, write_fleet, write_plan


def fleet_yaml(admin_url: str, pattern: str, *, waves: str = "[1, 10%, rest]",
               concurrency: int = 8, on_failure: str = "stop", extra: str = "") -> str:
    return f"""\
        fleet: 1
        name: t-{pattern.rstrip('%')}
        members:
          discover:
            - dsn: "{admin_url}"
              pattern: "{pattern}"
        waves: {waves}
        concurrency: {{overall: {concurrency}}}
        on_failure: {on_failure}
        workers: {{heartbeat: 0.2s, timeout: 4s}}
        {extra}
        """


def history(url: str, plan_id: str = "fleet-plan") -> list[tuple[str, str]]:
    if not q(url, "SELECT to_regclass('migtui.history') IS NOT NULL")[0][0]:
        return []
    return [(r[0], r[1]) for r in q(url, "SELECT step_id, status FROM migtui.history WHERE "
                                         "plan_id = %s ORDER BY id", (plan_id,))]


def has_column(url: str, schema: str = "public") -> bool:
    return bool(q(url, "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND "
                       "table_name = 'accounts' AND column_name = 'tier'", (schema,)))


def control(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    return q(url, query, params)


def test_a_hundred_databases_in_three_waves(tmp_path: Path, pg_admin_url: str) -> None:
    with databases(pg_admin_url, 100) as (pattern, names):
        f = write_fleet(tmp_path, fleet_yaml(pg_admin_url, pattern))
        res = migtui("fleet", "run", str(f), str(write_plan(tmp_path)), "--no-gauges")
        assert res.returncode == 0, res.stdout + res.stderr
        ctl = _with_db(pg_admin_url, names[0])  # the default control database: the first member
        rid = f"t-{pattern.rstrip('%')}/fleet-plan"
        assert control(ctl, "SELECT state FROM migtui_fleet.rollout WHERE id = %s",
                       (rid,)) == [("done",)]
        assert control(ctl, "SELECT n, size, state FROM migtui_fleet.wave WHERE rollout = %s "
                            "ORDER BY n", (rid,)) == [(1, 1, "done"), (2, 10, "done"),
                                                      (3, 89, "done")]
        rows = dict(control(ctl, "SELECT name, state FROM migtui_fleet.member WHERE "
                                 "rollout = %s", (rid,)))
        assert rows == dict.fromkeys(names, "applied")
        for nm in names:
            url = _with_db(pg_admin_url, nm)
            assert history(url) == [("add_col", "applied"), ("fill", "applied"),
                                    ("index", "applied")], nm
            assert has_column(url), nm
            assert q(url, "SELECT count(*) FROM pg_indexes WHERE indexname = "
                          "'accounts_tier_idx'") == [(1,)]
        # the canary ran alone, before any of wave 2
        order = control(ctl, "SELECT wave, min(started_at), max(finished_at) FROM "
                             "migtui_fleet.member WHERE rollout = %s GROUP BY wave ORDER BY wave",
                        (rid,))
        assert order[0][2] <= order[1][1] and order[1][2] <= order[2][1]
        st = migtui("fleet", "status", str(f), "--json")
        assert st.returncode == 0, st.stderr
        assert json.loads(st.stdout)["counts"] == {"applied": 100}


@pytest.mark.parametrize("policy", ["stop", "rollback_member", "rollback_wave"])
def test_a_poisoned_member_in_wave_two_stops_before_wave_three(
        tmp_path: Path, pg_admin_url: str, policy: str) -> None:
    with databases(pg_admin_url, 8) as (pattern, names):
        poisoned = names[2]  # waves [1, 3, rest]: names[1:4] are wave 2
        admin(_with_db(pg_admin_url, poisoned), "ALTER TABLE accounts ADD COLUMN tier text")
        f = write_fleet(tmp_path, fleet_yaml(pg_admin_url, pattern, waves="[1, 3, rest]",
                                             concurrency=3, on_failure=policy))
        res = migtui("fleet", "run", str(f), str(write_plan(tmp_path)), "--no-gauges")
        expected_code = {"stop": 1, "rollback_member": 3, "rollback_wave": 3}[policy]
        assert res.returncode == expected_code, res.stdout + res.stderr
        ctl = _with_db(pg_admin_url, names[0])
        rid = f"t-{pattern.rstrip('%')}/fleet-plan"
        (state, message), = control(ctl, "SELECT state, message FROM migtui_fleet.rollout "
                                         "WHERE id = %s", (rid,))
        assert state == "failed" and "wave 2" in message
        members = {r[0]: (r[1], r[2]) for r in control(
            ctl, "SELECT name, state, error FROM migtui_fleet.member WHERE rollout = %s",
            (rid,))}
        for nm in names[4:]:  # wave 3 never started
            assert members[nm][0] == "pending" and history(_with_db(pg_admin_url, nm)) == []
        assert members[names[0]][0] == "applied"
        assert history(_with_db(pg_admin_url, poisoned))[0] == ("add_col", "failed")
        healthy = [names[1], names[3]]
        if policy == "stop":
            assert members[poisoned][0] == "failed"
            assert "already exists" in (members[poisoned][1] or "")
            assert all(members[nm][0] == "applied" for nm in healthy)
        elif policy == "rollback_member":
            assert members[poisoned][0] == "rolled_back"
            assert all(members[nm][0] == "applied" for nm in healthy)
        else:
            assert all(members[nm][0] == "rolled_back" for nm in [*healthy, poisoned])
            for nm in healthy:
                url = _with_db(pg_admin_url, nm)
                assert not has_column(url)
                assert history(url)[-1] == ("add_col", "rolled_back")
        st = migtui("fleet", "status", str(f))
        assert st.returncode == 1 and poisoned in st.stdout, st.stdout


def test_fifty_tenant_schemas_and_prismas_schema_parameter(tmp_path: Path, db_url: str) -> None:
    tenants = [f"tenant_{i:02d}" for i in range(50)]
    admin(db_url, *[f"CREATE SCHEMA {t}; CREATE TABLE {t}.accounts (id int PRIMARY KEY, "
                    f"name text); INSERT INTO {t}.accounts VALUES (1, 'x')" for t in tenants])
    f = write_fleet(tmp_path, f"""\
        fleet: 1
        name: tenants
        members:
          schemas:
            - dsn: "{db_url}"
              pattern: "tenant\\\\_%"
        waves: [1, 10%, rest]
        concurrency: {{overall: 8}}
        workers: {{heartbeat: 0.1s, timeout: 4s}}
        """)
    plan = write_plan(tmp_path)
    res = migtui("fleet", "run", str(f), str(plan), "--no-gauges")
    assert res.returncode == 0, res.stdout + res.stderr
    for t in tenants:
        assert has_column(db_url, t), t
        assert history(db_url, f"fleet-plan@{t}") == [
            ("add_col", "applied"), ("fill", "applied"), ("index", "applied")], t
    assert not has_column(db_url, "public")
    # the same members written the Prisma way: the rollout finds them applied and converges
    sep = "&" if "?" in db_url else "?"
    g = write_fleet(tmp_path, f"""\
        fleet: 1
        name: tenants-prisma
        members:
          list:
            - dsn: "{db_url}{sep}schema=tenant_03"
            - dsn: "{db_url}{sep}schema=tenant_07&connection_limit=5"
        """, "prisma.yaml")
    res = migtui("fleet", "run", str(g), str(plan), "--no-gauges")
    assert res.returncode == 0, res.stdout + res.stderr
    for t in ("tenant_03", "tenant_07"):
        assert history(db_url, f"fleet-plan@{t}") == [
            ("add_col", "applied"), ("fill", "applied"), ("index", "applied")], t
    names = {r[0] for r in q(db_url, "SELECT name FROM migtui_fleet.member WHERE rollout = "
                                     "'tenants-prisma/fleet-plan'")}
    db = q(db_url, "SELECT current_database()")[0][0]
    assert names == {f"{db}/tenant_03", f"{db}/tenant_07"}
