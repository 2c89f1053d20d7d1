"""The fleet view: one row per member (state, current step, backfill progress, worst gauge,
trip), the waves, and the gate countdown.

Built on the pure status functions (``migtui.fleet.status``). The control database is read
from a thread worker every ``poll`` seconds, never on the UI thread; the tables are updated
in place (``update_cell`` by row key, only the cells that changed), so 1,000 members cost no
widget churn: a row is added once, when its member first appears, and never removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from migtui.fleet.snapshot import FleetSnapshot
from migtui.fleet.status import StatusTable, gate_text
from migtui.fleet.view_columns import member_rows, wave_rows
from migtui.secrets import scrub

ROLLBACK_STATES = ("applied", "failed")  # what `fleet rollback` marks


@dataclass(frozen=True)
class Built:
    """The tables of one read, and the terminal width they were fitted to: a read that
    lands after a resize is refitted, not shown at the old width."""

    width: int | None
    waves: StatusTable
    members: StatusTable


@dataclass
class TableStats:
    """How the tables changed: rows added, cells updated (never a row removed)."""

    added: int = 0
    updated: int = 0
    polls: int = 0
    errors: list[str] = field(default_factory=list)


class FleetScreen(Screen[None]):
    DEFAULT_CSS = """
    FleetScreen { layout: vertical; }
    #fleet-title { height: auto; max-height: 2; text-style: bold; padding: 0 1; background: $boost; }
    #fleet-gate { height: auto; max-height: 2; padding: 0 1; color: $text-muted; }
    #fleet-gate.-soaking { color: $warning; }
    #fleet-gate.-closed { color: $error; }
    #waves { height: auto; max-height: 7; }
    #members { height: 1fr; }
    """
    BINDINGS = [
        Binding("R", "rollback", "Rollback"),
        Binding("o", "open", "Open member (o/Enter)"),
        Binding("tab", "app.focus_next", "Waves/members", show=False),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, fetch: Callable[[], FleetSnapshot], *, poll: float = 2.0,
                 live: bool = True) -> None:
        super().__init__()
        self.fetch = fetch
        self.poll = poll
        self.live = live
        self.stats = TableStats()
        self.snapshot: FleetSnapshot | None = None
        self._rows: dict[str, tuple[str, ...]] = {}
        self._waves: dict[str, tuple[str, ...]] = {}
        self._read_at = 0.0
        self._reading = False
        self._width: int | None = None  # the terminal's, that the tables are fitted to
        self._resized: set[str] = set()  # tables to rebuild: the width changed

    def compose(self) -> ComposeResult:
        yield Static("fleet: reading the control database…", id="fleet-title")
        yield Static("", id="fleet-gate")
        yield DataTable(id="waves", cursor_type="row", zebra_stripes=False)
        yield DataTable(id="members", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self._width = self.app.size.width
        self.query_one("#members", DataTable).focus()
        self.read()
        if self.live:
            self.set_interval(self.poll, self.read)
            self.set_interval(1.0, self._tick_gate)

    # ---------------------------------------------------------------- reading

    def read(self) -> None:
        """Poll the control database from a thread; a poll while one is still reading
        (a slow control database) is skipped, so reads never pile up."""
        if self._reading:
            return
        self._reading = True
        self.run_worker(self._read, thread=True, group="fleet-poll", exit_on_error=False)

    def _read(self) -> None:
        try:
            snap = self.fetch()
            tables = self._tables(snap)  # built here, off the UI thread
        except Exception as e:  # noqa: BLE001 - shown, and the next poll tries again
            self.app.call_from_thread(self._failed, scrub(f"{type(e).__name__}: {e}"))
            return
        self.app.call_from_thread(self.show, snap, tables)

    def _failed(self, why: str) -> None:
        self._reading = False
        self.stats.errors.append(why)
        self.query_one("#fleet-gate", Static).update(
            f"cannot read the control database: {why.splitlines()[0][:200]} (retrying)")

    def show(self, snap: FleetSnapshot, tables: Built | None = None) -> None:
        """Apply one read to the tables, in place."""
        self._reading = False
        self.snapshot = snap
        self._read_at = time.monotonic()
        self.stats.polls += 1
        self._fill(snap, tables)

    def _fill(self, snap: FleetSnapshot, tables: Built | None = None) -> None:
        if tables is None or tables.width != self._width:  # built before a resize
            tables = self._tables(snap)
        wt, mt = tables.waves, tables.members
        r = snap.rollout  # its message is on the gate line
        self.query_one("#fleet-title", Static).update(
            f"rollout {r['id']}: {r['state']} · {len(snap.members)} members: {wt.summary}")
        self._tick_gate()
        self._apply(self.query_one("#waves", DataTable), self._waves,
                    [(f"wave-{w['n']}", r) for w, r in zip(snap.waves, wt.rows, strict=True)],
                    wt.headers)
        self._apply(self.query_one("#members", DataTable), self._rows,
                    [(m["name"], r) for m, r in zip(snap.members, mt.rows, strict=True)],
                    mt.headers)

    def _tables(self, snap: FleetSnapshot) -> Built:
        width = self._width
        return Built(width, wave_rows(snap.rollout, snap.waves, snap.members, width),
                     member_rows(snap.members, width))

    def on_resize(self) -> None:
        width = self.app.size.width
        if width != self._width:
            self._width = width
            self._resized = {"waves", "members"}
            if self.snapshot is not None:
                self._fill(self.snapshot)

    def _apply(self, table: DataTable[Any], cache: dict[str, tuple[str, ...]],
               rows: list[tuple[str, tuple[str, ...]]], headers: tuple[str, ...]) -> None:
        """Rows added once and updated in place, only the cells that changed; the table is
        rebuilt only after a resize (which columns show, and how wide, follow the width)."""
        keys = [str(c.key.value) for c in table.ordered_columns]
        cursor = None
        if keys != list(headers) or table.id in self._resized:
            self._resized.discard(str(table.id))
            cursor = table.cursor_coordinate if keys else None
            table.clear(columns=True)
            cache.clear()
            for h in headers:
                table.add_column(h, key=h)
            keys = list(headers)
        for key, row in rows:
            old = cache.get(key)
            if old is None:
                table.add_row(*row, key=key)
                self.stats.added += 1
            elif old != row:
                for col, (a, b) in zip(keys, zip(old, row, strict=True), strict=True):
                    if a != b:
                        table.update_cell(key, col, b, update_width=True)
                        self.stats.updated += 1
            cache[key] = row
        if cursor is not None:
            table.move_cursor(row=cursor.row, animate=False)

    def _tick_gate(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        now = snap.now
        if now is not None and self.live:
            now += timedelta(seconds=time.monotonic() - self._read_at)
        text = gate_text(snap.waves, now, str(snap.rollout.get("state") or "running"),
                         snap.rollout.get("message"))
        gate = self.query_one("#fleet-gate", Static)
        gate.set_class("soaking" in text, "-soaking")
        gate.set_class(text.startswith("gate: closed"), "-closed")
        gate.update(text)

    # ---------------------------------------------------------------- keys

    def _selected(self) -> tuple[str, str] | None:
        """('member', name) or ('wave', n) under the focused table's cursor."""
        table = self.focused if isinstance(self.focused, DataTable) else None
        if table is None or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if table.id == "waves":
            return "wave", str(key).removeprefix("wave-")
        return "member", str(key)

    def action_move(self, by: int) -> None:
        table = self.focused
        if isinstance(table, DataTable):
            table.action_cursor_down() if by > 0 else table.action_cursor_up()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "members":
            self.action_open()

    def action_open(self) -> None:
        what = self._selected()
        if what is None or what[0] != "member":
            return
        opener = getattr(self.app, "open_member", None)
        if opener is not None:
            opener(what[1])

    def action_rollback(self) -> None:
        what = self._selected()
        if what is None or self.snapshot is None:
            return
        asker = getattr(self.app, "ask_rollback", None)
        if asker is None:
            return
        kind, name = what
        if kind == "member":
            m = next((m for m in self.snapshot.members if m["name"] == name), None)
            if m is None or m["state"] not in ROLLBACK_STATES:
                self.notify(f"{name} is {m['state'] if m else 'unknown'}: only an applied or "
                            f"failed member can be rolled back", title="Rollback")
                return
            asker(member=name, row=m)
        else:
            n = int(name)
            mine = [m for m in self.snapshot.members if int(m["wave"]) == n
                    and m["state"] in ROLLBACK_STATES]
            if not mine:
                self.notify(f"wave {n} has no applied or failed member to roll back",
                            title="Rollback")
                return
            asker(wave=n, rows=mine)
