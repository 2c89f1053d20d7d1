"""The app's fleet view: a real control database with 1,000 member rows (written straight
into the control tables; no member database is needed), shown in a DataTable that is
updated in place; Enter and R; snapshots at 80x24 and 120x36 from fixed rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from migtui.fleet import ControlDb, Member, Rollout, Worker, WorkerOptions, load_fleet, open_rollout
from migtui.fleet.snapshot import FleetSnapshot, read_snapshot
from migtui.fleet.status import gate_text, view_row
from migtui.fleet.view_columns import member_rows, wave_rows
from migtui.plan import load_plan
from migtui.tui.fleet_app import FleetApp
from migtui.tui.screens.modals import ConfirmModal
from tests.fleet.helpers import admin, q, write_fleet, write_plan

N = 1000
RID = "tenants/fleet-plan"


@pytest.fixture
def control(db_url: str) -> Iterator[ControlDb]:
    db = ControlDb(db_url)
    db.ensure_schema()
    members = [Member(f"tenant_{i:04d}", "unused", "db1:5432", "app", f"tenant_{i:04d}")
               for i in range(N)]
    r = Rollout(RID, "tenants", "fleet-plan", "running", "rollback_wave", 8, None, 120.0,
                30.0, None)
    assert db.create_rollout(r, "sum", [members[:1], members[1:100], members[100:]])
    try:
        yield db
    finally:
        db.close()


def asynctest(fn: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


async def wait_polls(pilot: Any, screen: Any, n: int) -> None:
    for _ in range(400):  # bounded: the read is a thread worker
        if screen.stats.polls >= n:
            break
        await pilot.pause(0.02)
    assert screen.stats.polls >= n, screen.stats.errors


@asynctest
async def test_a_thousand_members_updated_in_place(control: ControlDb) -> None:
    app = FleetApp(lambda: read_snapshot(control, RID), frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.fleet
        await wait_polls(pilot, screen, 1)
        table = screen.query_one("#members", DataTable)
        waves = screen.query_one("#waves", DataTable)
        assert table.row_count == N and waves.row_count == 3
        keys_before = [k.value for k in table.rows]
        assert keys_before[:2] == ["tenant_0000", "tenant_0001"]
        assert screen.stats.added == N + 3
        # the canary is applied, wave 2 runs with a backfill and a gauge warning, one trip
        control.q("UPDATE migtui_fleet.wave SET state = 'done' WHERE rollout = %s AND n = 1",
                  (RID,))
        control.q("UPDATE migtui_fleet.wave SET state = 'running' WHERE rollout = %s AND n = 2",
                  (RID,))
        control.q("UPDATE migtui_fleet.member SET state = 'applied' WHERE name = 'tenant_0000'")
        control.q("UPDATE migtui_fleet.member SET state = 'running', step = 'fill', "
                  "progress = %s, gauge = 'latency 41ms warn', attempts = 1, "
                  "heartbeat = now() WHERE name IN ('tenant_0001', 'tenant_0002')",
                  ("500/2,000 (25%)",))
        control.q("UPDATE migtui_fleet.member SET state = 'failed', step = 'fill', attempts = 1,"
                  " error = 'tripped: Performance degradation >50% tripped: latency 84ms "
                  "against limit 30ms; rolled back' WHERE name = 'tenant_0003'")
        screen.read()
        await wait_polls(pilot, screen, 2)
        assert [k.value for k in table.rows] == keys_before  # no row removed or re-added
        assert screen.stats.added == N + 3
        assert table.get_cell("tenant_0001", "state") == "running"
        assert table.get_cell("tenant_0001", "backfill") == "500/2,000 (25%)"
        assert table.get_cell("tenant_0002", "worst gauge") == "latency 41ms warn"
        assert table.get_cell("tenant_0003", "trip").startswith("Performance degradation")
        assert waves.get_cell("wave-1", "state") == "done"
        # only the changed cells: 2 waves x state, the members' changed cells
        assert 0 < screen.stats.updated < 40
        title = str(screen.query_one("#fleet-title").render())
        assert "1000 members: 996 pending, 2 running, 1 applied, 1 failed" in title, title


@asynctest
async def test_enter_opens_a_member_and_r_offers_its_rollback(control: ControlDb) -> None:
    control.q("UPDATE migtui_fleet.member SET state = 'failed', error = 'tripped: latency "
              "tripped' WHERE name = 'tenant_0000'")
    asked: list[tuple[str | None, int | None]] = []

    def rollback(member: str | None, wave: int | None) -> str:
        asked.append((member, wave))
        return "rolled back 1"

    app = FleetApp(lambda: read_snapshot(control, RID), rollback=rollback,
                   openable=lambda n: n == "tenant_0000", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, app.fleet, 1)
        await pilot.press("R")  # the cursor is on tenant_0000, tripped
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "it tripped: latency tripped" in app.screen.body
        await pilot.press("y")
        for _ in range(200):
            if asked and app.rolling is None:
                break
            await pilot.pause(0.02)
        assert asked == [("tenant_0000", None)]
        # R on a pending member says why not; on the wave row it offers the wave
        await pilot.press("down", "R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("shift+tab", "R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "wave 1" in app.screen.title_text
        await pilot.press("n")
        await pilot.press("tab", "up", "enter")
        await pilot.pause()
    assert app.return_value == ("open", "tenant_0000")


# ------------------------------------------------------------------ fixed rows, snapshots

T0 = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def fixed() -> FleetSnapshot:
    def m(i: int, wave: int, state: str, **kw: Any) -> dict[str, Any]:
        return {"name": f"app/tenant_{i:02d}", "wave": wave, "state": state, "step": None,
                "progress": None, "gauge": None, "attempts": 1 if state != "pending" else 0,
                "error": None, "stale": False, **kw}

    members = [m(0, 1, "applied", step="index", gauge="latency 12ms ok")]
    members += [m(i, 2, "applied", step="index") for i in range(1, 4)]
    members += [m(4, 2, "running", step="fill", progress="1,200/5,000 (24%)",
                  gauge="latency 41ms warn"),
                m(5, 2, "failed", step="fill", error="tripped: Performance degradation >50% "
                  "tripped: latency 84ms against limit 30ms; rolled back 2 step(s)")]
    members += [m(i, 3, "pending") for i in range(6, 30)]
    waves = [{"n": 1, "state": "done", "size": 1, "started_at": T0, "message": "gate passed",
              "finished_at": T0 + dt.timedelta(seconds=42), "gate_until": None},
             {"n": 2, "state": "soaking", "size": 5, "started_at": T0, "finished_at": None,
              "gate_until": T0 + dt.timedelta(minutes=2, seconds=5),
              "message": "soaking: gauges on 5 of 5 member(s)"},
             {"n": 3, "state": "pending", "size": 24, "started_at": None, "finished_at": None,
              "gate_until": None, "message": None}]
    return FleetSnapshot({"id": RID, "state": "running", "message": None}, waves, members, T0)


def test_pure_rows() -> None:
    snap = fixed()
    assert gate_text(snap.waves, T0) == ("gate: wave 2 soaking, wave 3 starts in 2m 05s · "
                                         "gauges on 5 of 5 member(s)")
    assert gate_text(snap.waves, T0, "failed").startswith("gate: closed — the rollout stopped")
    assert gate_text(snap.waves, T0, "paused", "paused by ann") == (
        "gate: held — paused by ann (fleet resume continues it)")
    row = view_row(snap.members[5])
    assert row[2] == "failed (trip)" and row[6].startswith("Performance degradation >50% trip")
    assert row[6].endswith("…") and len(row[6]) == 48
    assert view_row(snap.members[4])[4] == "1,200/5,000 (24%)"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_the_tables_fit_the_width(width: int) -> None:
    """No sideways scrolling: every column (with its padding and the scrollbar) fits, also
    with long names, a long trip and a soak note; a tenant's distinguishing end stays."""
    snap = fixed()
    long = "shard_eu_west_primary_0042/tenant_with_a_long_name_17"
    members = [*snap.members, {**snap.members[5], "name": long}]
    waves = [{**snap.waves[1], "message": "the gate failed: " + "x" * 200}, *snap.waves[1:]]
    for t in (member_rows(members, width), wave_rows(snap.rollout, waves, members, width)):
        used = [max([len(h), *(len(r[i]) for r in t.rows)]) for i, h in enumerate(t.headers)]
        assert sum(used) + 2 * len(used) <= width - 2, (t.headers, used)
    rows = member_rows(members, width).rows
    assert rows[-1][0].endswith("name_17") and "…" in rows[-1][0]
    assert rows[5][2] == ("failed (trip)" if width >= 120 else "failed")
    narrow = member_rows(members, 80)
    assert narrow.headers == ("member", "w", "state", "step", "backfill", "gauge / trip")
    assert narrow.rows[4][4:] == ("24%", "latency 41ms warn")  # no trip: the worst gauge
    assert narrow.rows[5][5].startswith("Performance")  # the trip, when there is one
    assert wave_rows(snap.rollout, snap.waves, snap.members, 80).rows[1][3] == (
        "3 applied · 1 running · 1 failed")
    assert len(member_rows(members, 120).headers) == 8  # wide: every column


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet_view_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    app = FleetApp(fixed, frozen=True)

    async def shown(pilot: Any) -> None:
        await wait_polls(pilot, app.fleet, 1)

    assert snap_compare(app, run_before=shown, terminal_size=size)


SLOW_FILL = """\
  - id: add_col
    sql: ALTER TABLE accounts ADD COLUMN tier int
    rollback: ALTER TABLE accounts DROP COLUMN tier
  - id: fill
    backfill: {table: accounts, key: id, set: "tier = id % 3", batch_size: 100,
               min_batch: 100, max_batch: 100, sleep: 200ms}
    rollback: UPDATE accounts SET tier = NULL
"""


def test_a_worker_sends_backfill_progress_with_its_heartbeat(tmp_path: Path,
                                                             db_url: str) -> None:
    """What the view shows comes from the workers: a running member's backfill progress
    reaches the control table with the heartbeat, and the member's schema keeps its own
    history (PLAN-ID@SCHEMA) made by the runner."""
    admin(db_url, "CREATE SCHEMA t_a; CREATE TABLE t_a.accounts (id int PRIMARY KEY, name text);"
                  "INSERT INTO t_a.accounts SELECT g, 'a' FROM generate_series(1, 2000) g")
    f = write_fleet(tmp_path, f"""\
        fleet: 1
        name: progress
        members:
          schemas:
            - dsn: "{db_url}"
              pattern: "t\\\\_a"
        workers: {{heartbeat: 0.2s, timeout: 10s}}
        """)
    plan_file = write_plan(tmp_path, SLOW_FILL)
    plan = load_plan(plan_file)
    opened = open_rollout(load_fleet(f), plan, "sum")
    worker = Worker(opened.db, opened.rollout.id, "progress", plan, opened.members,
                    WorkerOptions(heartbeat=0.2, workdir=tmp_path, gauges=False))
    t = threading.Thread(target=worker.run)
    t.start()
    seen: set[str] = set()
    try:
        for _ in range(600):  # bounded: until the member is done
            rows = q(db_url, "SELECT state, progress FROM migtui_fleet.member")
            if rows[0][1]:
                seen.add(rows[0][1])
            if rows[0][0] == "applied":
                break
            time.sleep(0.05)
    finally:
        t.join(timeout=60)
    assert any(s.endswith("%)") and "/2,000" in s for s in seen), seen
    db = q(db_url, "SELECT current_database()")[0][0]
    snap = read_snapshot(opened.db, opened.rollout.id)
    assert [view_row(m)[:3] for m in snap.members] == [(f"{db}/t_a", "1", "applied")]
    assert q(db_url, "SELECT DISTINCT plan_id FROM migtui.history") == [("fleet-plan@t_a",)]
    opened.db.close()


def test_fleet_without_an_action_opens_the_view() -> None:
    from migtui.cli import build_parser

    parser = build_parser("fleet")
    args = parser.parse_args(["fleet", "fleet.yaml", "plan.yaml"])
    assert args.func.__name__ == "cmd_view" and (args.fleet, args.plan) == ("fleet.yaml",
                                                                              "plan.yaml")
    assert parser.parse_args(["fleet", "view", "f.yaml", "p.yaml"]).func.__name__ == "cmd_view"
    assert parser.parse_args(["fleet", "status", "f.yaml"]).func.__name__ == "cmd_status"


@asynctest
async def test_a_lost_control_database_is_said_and_the_view_recovers() -> None:
    calls: list[int] = []

    def flaky() -> FleetSnapshot:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return fixed()

    app = FleetApp(flaky, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.fleet
        for _ in range(200):
            if screen.stats.errors:
                break
            await pilot.pause(0.02)
        gate = str(screen.query_one("#fleet-gate").render())
        assert "cannot read the control database: ConnectionError: server closed" in gate
        screen.read()
        await wait_polls(pilot, screen, 1)
        assert "wave 2 soaking" in str(screen.query_one("#fleet-gate").render())
        assert screen.query_one("#members", DataTable).row_count == 30


@asynctest
async def test_quitting_during_a_rollback_asks_first() -> None:
    release = threading.Event()

    def slow_rollback(member: str | None, wave: int | None) -> str:
        release.wait(10)
        return "rolled back 1"

    app = FleetApp(fixed, rollback=slow_rollback, openable=lambda _n: True, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_polls(pilot, app.fleet, 1)
        await pilot.press("j", "j", "j", "j", "j", "R")  # app/tenant_05, tripped
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "it tripped" in app.screen.body
        await pilot.press("y")
        await pilot.pause()
        assert app.rolling == "member app/tenant_05"
        await pilot.press("enter")  # no member view while the rollback runs
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal) and "Quit" in app.screen.title_text
        await pilot.press("n")
        release.set()
        for _ in range(200):
            if app.rolling is None:
                break
            await pilot.pause(0.02)
        assert app.rolling is None
        await pilot.press("q")
    assert app.return_value is None


@asynctest
async def test_tables_built_before_a_resize_are_refitted() -> None:
    """The poll thread built the tables for 120 columns; the terminal shrank to 80 before
    they landed: the view shows the 80-column tables, not the old ones."""
    app = FleetApp(fixed, frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.fleet
        await wait_polls(pilot, screen, 1)
        snap = fixed()
        late = screen._tables(snap)  # as the poll thread builds them, at 120 columns
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        screen.show(snap, late)
        await pilot.pause()
        table = screen.query_one("#members", DataTable)
        keys = [str(c.key.value) for c in table.ordered_columns]
        assert keys == list(member_rows(snap.members, 80).headers)
        assert keys != list(member_rows(snap.members, 120).headers)
