"""The app's keys, in one table: it builds the bindings, the help screen's key rows and the
command palette's commands, so the three never disagree.

``where`` says who handles a key: ``app`` (bound on the app), ``screen`` (bound on the
main screen) or ``doc`` (handled by a widget, or by Textual: shown in the help only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from textual.binding import Binding

Where = Literal["app", "screen", "doc"]


@dataclass(frozen=True)
class Key:
    key: str  # Textual's key name(s), comma-separated ("" for a doc-only row)
    action: str  # the action it runs ("" for a doc-only row)
    description: str  # the footer's label
    help: str  # the help screen's text (Markdown)
    shown: str  # the key as the help screen writes it (Markdown)
    where: Where = "screen"
    show: bool = True  # in the footer
    priority: bool = False
    title: str = ""  # the command palette's title ("": not in the palette)
    palette: str = ""  # the command palette's help line, after "key: "


KEYS: tuple[Key, ...] = (
    Key("", "", "", "move in the focused list", "`↑` `↓` / `j` `k`", "doc"),
    Key("", "", "", "next / previous pane", "`Tab` / `Shift+Tab`", "doc"),
    Key("", "", "", "tick or untick the checklist item (journaled with you and the time)",
        "`Space` / `Enter`", "doc"),
    Key("", "", "", "run the highlighted checklist item's action (steps, check, command, "
        "baseline)", "`r`", "doc"),
    Key("x", "run_next", "Next step",
        "run the next pending step of this phase (or of the plan, on *Steps*)", "`x`",
        title="Run next step", palette="run the next pending step"),
    Key("a", "run_phase", "Run phase",
        "run the whole phase: every bound item not yet ticked, in order", "`a`",
        title="Run phase", palette="run every bound item of this phase"),
    Key("p", "pause", "Pause", "pause / resume the running step (at the next safe point)",
        "`p`", title="Pause / resume", palette="pause at the next safe point, or resume"),
    Key("s", "skip", "Skip", "skip the next pending step, with a reason (journaled)", "`s`",
        title="Skip step", palette="skip the next pending step, with a reason"),
    Key("c", "cancel", "Cancel", "cancel the running statement (`pg_cancel_backend`)", "`c`",
        title="Cancel statement",
        palette="cancel the running statement (pg_cancel_backend)"),
    Key("R", "rollback", "Rollback",
        "**roll back**: right away when a trigger tripped; otherwise asks first", "`R`",
        title="Roll back", palette="undo every applied step (asks first unless tripped)"),
    Key("n", "note", "Note",
        "add a timestamped note to the run log or the communication log", "`n`",
        title="Add note", palette="a timestamped, journaled note"),
    Key("e", "export", "Export",
        "export the report: the filled-in plan (Markdown) next to the plan file", "`e`",
        title="Export report", palette="write the filled-in plan (Markdown) next to the plan"),
    Key("h", "rehearse", "Rehearse",
        "rehearse on staging: apply, verify, roll back, compare, re-apply (never production)",
        "`h`", title="Rehearse",
        palette="apply, verify, roll back, compare, re-apply on staging"),
    Key("g", "toggle_gauges", "Gauges", "show / hide the gauges", "`g`",
        title="Toggle gauges", palette="show or hide the gauges"),
    Key("l", "toggle_log", "Log", "show / hide the log", "`l`",
        title="Toggle log", palette="show or hide the log"),
    Key("escape", "dismiss_banner", "Dismiss", "dismiss the trip banner", "`Esc`",
        show=False),
    Key("", "", "", "command palette: every action by name", "`Ctrl+P`", "doc"),
    Key("question_mark", "help", "Help", "this help", "`?`", "app",
        title="Help", palette="keys and panes"),
    Key("q", "quit", "Quit", "quit (asks first while a step runs); in the demo, `Ctrl+C` too",
        "`q`", "app"),
    Key("ctrl+c", "interrupt", "Quit", "", "", "app", show=False, priority=True),
)


def bindings(where: Where) -> list[Binding]:
    """The bindings of the app or of the main screen."""
    return [Binding(k.key, k.action, k.description, show=k.show, priority=k.priority)
            for k in KEYS if k.where == where]


def help_rows() -> Iterator[tuple[str, str]]:
    """(key as written, what it does) for the help screen, in the table's order."""
    for k in KEYS:
        if k.help:
            yield k.shown, k.help


def commands(where: Where, target: object) -> list[tuple[str, str, Callable[[], Any]]]:
    """(title, help, callback) for the command palette: ``target``'s action methods."""
    return [(k.title, f"{k.shown.strip('`')}: {k.palette}", getattr(target, f"action_{k.action}"))
            for k in KEYS if k.title and k.where == where]
