"""Fleet files: validated with located errors (file:line, what was found, what was
expected) and exit code 2, before anything is changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migtui.fleet import FleetError, load_fleet, resolve, resolve_waves, waves
from tests.fleet.helpers import databases, migtui, q, write_fleet, write_plan


def problems(path: Path) -> list[str]:
    with pytest.raises(FleetError) as e:
        resolve_waves(load_fleet(path))
    return [str(p) for p in e.value.problems]


def test_unknown_key_and_bad_wave_are_located(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          list:
            - dsn: postgresql://h/a
        wavez: [1]
        concurrency: {overall: 0}
        """)
    out = problems(f)
    assert any(p.startswith(f"{f}:6:1: wavez: unknown key 'wavez'; did you mean 'waves'?")
               for p in out), out
    assert any(":7:" in p and "concurrency.overall" in p for p in out), out


def test_duplicate_members_unknown_member_and_oversized_wave(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          list:
            - dsn: postgresql://h/a
            - dsn: postgresql://h/b
            - {dsn: "postgresql://h/a"}
        waves: [[a, zz], 5, rest]
        """)
    out = problems(f)
    assert any(p.startswith(f"{f}:7:") and "duplicate member 'a'" in p for p in out), out
    assert any(p.startswith(f"{f}:8:") and "unknown member 'zz'" in p for p in out), out
    assert any(p.startswith(f"{f}:8:") and "wave 2 asks for 5 member(s)" in p
               and "only 1 of the fleet's 2" in p for p in out), out


def test_waves_must_cover_the_fleet(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          list: [{dsn: "postgresql://h/a"}, {dsn: "postgresql://h/b"}, {dsn: "postgresql://h/c"}]
        waves: [1, 33%]
        """)
    loaded = load_fleet(f)
    with pytest.raises(FleetError) as e:
        waves(loaded, resolve(loaded))
    assert "cover 2 of the fleet's 3 members" in str(e.value)
    ok = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          list: [{dsn: "postgresql://h/a"}, {dsn: "postgresql://h/b"}, {dsn: "postgresql://h/c"}]
        waves: [1, 33%, rest]
        """, "ok.yaml")
    loaded = load_fleet(ok)
    assert [[m.name for m in w] for w in waves(loaded, resolve(loaded))] == [["a"], ["b"], ["c"]]


def test_rest_must_be_last_and_env_must_be_set(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_FLEET_URL", raising=False)
    f = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          list:
            - dsn_env: NO_SUCH_FLEET_URL
        waves: [rest, 1]
        """)
    with pytest.raises(FleetError) as e:
        load_fleet(f)
    assert "'rest' must be the last wave" in str(e.value) and f"{f}:6:" in str(e.value)
    f.write_text(f.read_text().replace("[rest, 1]", "[rest]"))
    out = problems(f)
    assert any(p.startswith(f"{f}:5:") and "'NO_SUCH_FLEET_URL' is not set" in p
               for p in out), out


def test_empty_discovery_exits_2_located_and_changes_nothing(tmp_path: Path,
                                                              pg_admin_url: str) -> None:
    with databases(pg_admin_url, 1) as (pattern, _names):
        f = write_fleet(tmp_path, f"""\
            fleet: 1
            name: empty-{pattern[:-1]}
            control: {{dsn: "{pg_admin_url}"}}
            members:
              discover:
                - dsn: "{pg_admin_url}"
                  pattern: "{pattern}_nothing"
            """)
        plan = write_plan(tmp_path)
        res = migtui("fleet", "run", str(f), str(plan))
        assert res.returncode == 2, res.stderr
        assert f"{f}:7:" in res.stderr and "found no member" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
        if q(pg_admin_url, "SELECT to_regclass('migtui_fleet.rollout') IS NOT NULL")[0][0]:
            assert not q(pg_admin_url, "SELECT 1 FROM migtui_fleet.rollout WHERE fleet = %s",
                         (f"empty-{pattern[:-1]}",))


def test_bad_fleet_file_exits_2_with_a_located_error(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, "fleet: 1\nname: f\nmembers: {list: [{dsn: x}]}\nwaves: [0]\n")
    res = migtui("fleet", "run", str(f), str(write_plan(tmp_path)))
    assert res.returncode == 2
    assert f"{f}:4:" in res.stderr and "at least 1 member" in res.stderr, res.stderr


def test_schema_command_prints_the_json_schema() -> None:
    res = migtui("fleet", "schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert schema["title"] == "migtui fleet"
    assert {"members", "waves", "concurrency", "gate", "on_failure"} <= set(
        schema["properties"])


def test_a_production_plan_needs_yes(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, "fleet: 1\nname: f\nmembers: {list: [{dsn: postgresql://h/a}]}\n")
    plan = write_plan(tmp_path)
    plan.write_text(plan.read_text().replace("targets: {dev: {environment: development}}\n", ""))
    res = migtui("fleet", "run", str(f), str(plan))
    assert res.returncode == 2
    assert "is production: pass --yes" in res.stderr, res.stderr


def test_a_failed_discovery_never_shows_the_password(tmp_path: Path) -> None:
    f = write_fleet(tmp_path, """\
        fleet: 1
        name: f
        members:
          discover:
            - dsn: "postgresql://app:s3cr3t-fleet-pw@127.0.0.1:1/postgres"
              pattern: "tenant_%"
        """)
    res = migtui("fleet", "run", str(f), str(write_plan(tmp_path)))
    assert res.returncode == 2
    assert f"{f}:5:" in res.stderr and "cannot run the discovery" in res.stderr, res.stderr
    assert "s3cr3t-fleet-pw" not in res.stderr + res.stdout


def test_relative_limits_are_named_as_inactive_in_a_fleet(tmp_path: Path) -> None:
    from migtui.fleet.rollout import without_baseline
    from migtui.plan import load_plan

    relative = load_plan(write_plan(tmp_path, extra="""\
risks:
  rollback_triggers:
    - {text: Slow, metric: latency, above: +50%, for: 2s}
    - {text: Very slow, metric: latency, above: 200ms, for: 2s}
monitoring:
  probes: ["SELECT 1"]
  metrics:
    - {metric: latency, alert: +25%, for: 1s}
    - {metric: error_rate, alert: 5%, for: 1s}
"""))
    assert without_baseline(relative) == ["Slow", "latency alert +25%"]
    assert without_baseline(load_plan(write_plan(tmp_path))) == []
