"""The app's keys, in one table: it builds the bindings, the help screen's key rows and the
command palette's commands, so the three never disagree.

``where`` says who handles a key: ``app`` (bound on the app), ``screen`` (bound on the
main screen) or ``doc`` (handled by a widget, or by Textual: shown in the help only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
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
    Key("q", "quit", "Quit", "quit (asks first while a step runs)", "`q` / `Ctrl+C`", "app"),
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


# The footer: at 80 columns not every key fits. Kept first (left to right in this list);
# shown in the key table's order. `?` and `q` always; the danger keys whenever they act.
FOOTER_RANK = ("help", "quit", "rollback", "cancel", "pause", "run_next", "tick", "run_item",
               "run_phase", "note", "toggle_gauges", "toggle_log", "export", "skip",
               "rehearse", "palette")
_EXTRA = {  # keys a widget or Textual handles, for the footer only: (key shown, label)
    "tick": ("␣", "Tick"), "run_item": ("r", "Run item"), "palette": ("^p", "Palette")}
_SHOWN = {"question_mark": "?", "escape": "Esc"}


def footer(width: int, *, online: bool, running: bool, checklist: bool = False,
           narrow: bool = False) -> Text:
    """The one-line key bar: as many keys as fit in ``width``, most needed first."""
    wanted: dict[str, tuple[str, str]] = {}
    for k in KEYS:
        if k.where == "doc" or not k.show:
            continue
        wanted[k.action] = (_SHOWN.get(k.key, k.key), k.description)
    wanted.update(_EXTRA)
    if not online:
        for a in ("rollback", "cancel", "pause", "run_next", "run_phase", "skip"):
            wanted.pop(a, None)
    for a in ("run_next", "run_phase", "skip", "rehearse") if running else ("cancel", "pause"):
        wanted.pop(a, None)  # running: stop it, not start more; idle: nothing to stop
    if not checklist:
        wanted.pop("tick", None)
        wanted.pop("run_item", None)
    if not narrow:
        wanted.pop("toggle_gauges", None)
        wanted.pop("toggle_log", None)
    kept: list[str] = []
    used = 0
    for action in FOOTER_RANK:
        if action not in wanted:
            continue
        key, label = wanted[action]
        cost = len(key) + len(label) + 4  # " k label " and a space
        if used + cost > width:
            continue
        kept.append(action)
        used += cost
    t = Text(no_wrap=True, overflow="crop")
    last = ("help", "quit", "palette")
    order = ["tick", "run_item", *(a for a in wanted if a not in _EXTRA and a not in last),
             *last]
    for action in [a for a in order if a in kept]:
        key, label = wanted[action]
        t.append(f" {key} ", style="bold reverse")
        t.append(f" {label} ")
    return t
