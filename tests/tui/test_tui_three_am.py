"""Issue 15, "the 3 a.m. screen": Ctrl+C quits, the note modal says where a note goes and
Enter saves it, the key bar keeps ? q and the danger keys at 80 columns, plan tables wrap
instead of cutting, the communication pane follows new notes, the monitoring table shows
the recorded baseline, and a screenshot lands beside the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from migtui.events import BaselineRecorded
from migtui.tui import keys, make_app
from migtui.tui.screens.modals import PromptModal
from migtui.tui.widgets.content import ContentPane, PlanTable
from tests.tui.helpers import asynctest, copy_plan, until


@asynctest
async def test_ctrl_c_quits_outside_the_demo(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0


@asynctest
async def test_a_note_goes_where_the_modal_says_and_enter_saves(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("end")  # the Communication section
        await pilot.pause()
        await pilot.press("n", *"first", "enter")  # default: the run log
        await pilot.pause()
        assert not isinstance(app.screen, PromptModal)
        assert app.session.state.communication == []
        await pilot.press("n", *"Backfill done", "tab")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, PromptModal)
        assert "Enter saves to the communication log" in str(
            modal.query_one("#prompt-hint").render())
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, PromptModal))
        assert [c["text"] for c in app.session.state.communication] == ["Backfill done"]
        # the shown Communication section follows, the whole text in its cell
        content = app.main.query_one(ContentPane)
        await until(pilot, lambda: any(
            "Backfill done" in [str(c) for c in t.get_row_at(t.row_count - 1)]
            for t in content.query(PlanTable)))


def test_the_key_bar_keeps_help_quit_and_the_danger_keys_at_80_columns() -> None:
    for running in (False, True):
        for checklist in (False, True):
            bar = keys.footer(80, online=True, running=running, checklist=checklist,
                              narrow=True).plain
            assert len(bar) <= 80
            assert " ? " in bar and " q " in bar and " R " in bar, bar
            if running:
                assert " c " in bar and " p " in bar, bar


@asynctest
async def test_monitoring_shows_the_recorded_baseline(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(120, 36)) as pilot:
        app.main.query_one(ContentPane).show(
            next(s for s in app.main.sections if s.key == "monitoring"))
        await pilot.pause()
        app.session.emit(BaselineRecorded(seconds=60, metrics={
            "latency": {"median": 0.012, "p95": 0.02}}))
        content = app.main.query_one(ContentPane)
        await until(pilot, lambda: any(
            "12ms" in str(t.get_row_at(0)[3]) for t in content.query(PlanTable)
            if t.border_title == "Metrics"))


@asynctest
async def test_the_screenshot_goes_beside_the_journal(tmp_path: Path) -> None:
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=(80, 24)):
        saved = app.screenshot()
        assert saved is not None and saved.exists()
        assert saved.parent == tmp_path / ".migtui" / "screenshots"


def test_plan_tables_keep_words_whole_at_every_width() -> None:
    """Issue 15 item 10: cells broke mid-word ("Perform/ance", "I m p a c t"). Wide enough
    for each column's longest word, a table whose words wrap whole; narrower, one record
    per row, as psql's expanded display."""
    from rich.console import Console

    table = PlanTable("Rollback Triggers", ["Trigger", "Threshold", "Action", "Impact"], [
        ["Performance degradation", "latency +50% for 30s", "Immediate rollback", "High"],
        ["Error rate spike", "error_rate > 5%", "Pause the backfill", "Medium"]])
    words = ("Performance", "degradation", "Threshold", "Immediate", "rollback",
             "error_rate", "backfill", "Impact", "Medium")
    for width in (52, 70, 30, 24):
        console = Console(width=width, record=True, color_system=None)
        console.print(table._table())
        text = console.export_text()
        for word in words:
            assert word in text, (width, text)
        narrow = width < table._table().needed()
        assert ("Trigger: Performance" in text) == narrow, (width, text)
        assert ("│" in text) == (not narrow), (width, text)
    assert table._table().needed() <= 52


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
@asynctest
async def test_a_note_written_while_the_log_is_hidden_reads_whole_when_shown(
        tmp_path: Path, size: tuple[int, int]) -> None:
    """Seen by hand at 80x24: a note written while the log pane was behind `l` showed as
    "16:15:44 Backfil" once shown (wrapped once, at the width it had then)."""
    from textual.widgets import RichLog

    note = "Backfill paused for stakeholders review at 03:10"
    app = make_app(copy_plan(tmp_path), None, operator="tester", frozen=True)
    async with app.run_test(size=size) as pilot:
        await pilot.press("n", *note, "tab", "enter")
        await until(pilot, lambda: not isinstance(app.screen, PromptModal))
        if size[0] < 120:
            await pilot.press("l")  # the log pane, hidden below 120 columns
        await pilot.pause(0.5)
        comm = app.main.query_one("#comm-log", RichLog)
        width = comm.scrollable_content_region.width
        assert width > 0
        # no line wider than the pane (a wider one is cut on screen: "stakeholders rev")
        assert all(line.cell_length <= width for line in comm.lines), (
            width, [line.text for line in comm.lines])
        shown = " ".join(" ".join(line.text.split()) for line in comm.lines)
        assert " ".join(note.split()[:3]) in shown and "03:10" in shown, shown
        for word in note.split():
            assert word in shown.split(), (word, shown)


@asynctest
async def test_the_communication_pane_shows_the_plans_own_entries_with_their_day(
        tmp_path: Path) -> None:
    """The plan's communication log (2026-11-20) was missing from the pane; an entry of
    another day is stamped with its date, not a bare time of day."""
    app = make_app(copy_plan(tmp_path), None, operator="tester", sample=False)
    async with app.run_test(size=(120, 36)) as pilot:
        log = app.screen.query_one("#comm-log")
        await until(pilot, lambda: log.lines)
        text = "".join(line.text for line in log.lines)
        assert "11-20 " in text and "dba-oncall: Plan drafted and shared" in text, text
