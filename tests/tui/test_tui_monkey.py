"""A tired DBA at 3 a.m. mashing keys: a few hundred seeded random keys from the app's
bindings and navigation, modals answered or escaped as they come. The app must still run,
no worker may have errored, and the journal must still parse."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.message import Message
from textual.worker import Worker, WorkerState

from migtui.journal import journal_path
from migtui.tui import make_app
from migtui.tui.screens.help import HelpScreen
from migtui.tui.screens.modals import (
    ChoiceModal,
    ConfirmModal,
    PromptModal,
    ReportModal,
    TypedConfirmModal,
)
from tests.conftest import PLANS
from tests.tui.helpers import asynctest, until

KEYS = [
    # the app's bindings (q excluded: quitting ends the test)
    "x", "a", "p", "s", "c", "R", "n", "g", "l", "e", "h", "escape", "question_mark",
    "space", "enter", "r", "ctrl+p",
    # navigation
    "j", "k", "up", "down", "left", "right", "tab", "shift+tab", "home", "end",
    "pageup", "pagedown",
    # keys that mean something only in a modal
    "y", "n",
]
# the movement keys come more often, as they do in real use
WEIGHTS = [3 if k in ("j", "k", "tab", "up", "down") else 1 for k in KEYS]
PRESSES = int(os.environ.get("MIGTUI_MONKEY_PRESSES", "250"))


def monkey_plan(tmp_path: Path) -> Path:
    """The example plan with short baselines, so a baseline does not hold the runner for
    half a minute."""
    text = (PLANS / "add-order-status.yaml").read_text()
    text = re.sub(r"baseline: \d+s", "baseline: 2s", text)
    text = re.sub(r"watch: \d+s", "watch: 2s", text)
    path = tmp_path / "add-order-status.yaml"
    path.write_text(text)
    return path


async def answer_modal(pilot, rng: random.Random) -> None:
    """Answer or escape whatever modal is on top, as a hurried operator would."""
    scr = pilot.app.screen
    if isinstance(scr, ConfirmModal):
        await pilot.press(rng.choice(["y", "n", "escape", "enter", "tab"]))
    elif isinstance(scr, TypedConfirmModal):
        if rng.random() < 0.5:
            await pilot.press(*scr.expected, "enter")
        else:
            await pilot.press(*"wrong", "enter", "escape")
    elif isinstance(scr, PromptModal):
        if rng.random() < 0.7:
            await pilot.press(*rng.choice(["ok", "why not", "batch job"]), "enter")
        else:
            await pilot.press("escape")
    elif isinstance(scr, CommandPalette):
        if rng.random() < 0.5:  # run one of the app's own commands by its title
            title = rng.choice(pilot.app.main.commands())[0]
            await pilot.press(*title, "wait:150", "enter")
        else:
            await pilot.press(*rng.choice(["rol", "gau", "xyz"]), "escape")
    elif isinstance(scr, ChoiceModal):
        await pilot.press(rng.choice(["enter", "escape", "j"]))
    elif isinstance(scr, ReportModal):
        await pilot.press(rng.choice(["escape", "down", "enter"]))
    elif isinstance(scr, HelpScreen):
        await pilot.press(rng.choice(["escape", "question_mark", "j", "down"]))
    else:
        return


SEEDS = [int(s) for s in os.environ.get("MIGTUI_MONKEY_SEEDS", "3").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
@asynctest
async def test_mashing_keys_never_crashes(shop_db: str, tmp_path: Path, seed: int) -> None:
    path = monkey_plan(tmp_path)
    errors: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged) and message.state == WorkerState.ERROR:
            errors.append(f"{message.worker.name}: {message.worker.error!r}")

    rng = random.Random(seed)
    app = make_app(path, shop_db, "staging", operator="monkey")
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await until(pilot, lambda: app.main is not None and app.main.statuses_known)
        for _ in range(PRESSES):
            await pilot.press(rng.choices(KEYS, WEIGHTS)[0])
            for _ in range(3):  # a modal may open another
                await answer_modal(pilot, rng)
            assert app.is_running, "the app exited"
        # let whatever runs finish (or cancel it), then check the app is still answering
        app.main.session.cancel("monkey done")
        await until(pilot, lambda: app.main.job is None and not app.main.rolling_back, 60)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.is_running
    assert errors == []
    jp = journal_path(path, "add-order-status")
    lines = jp.read_text().splitlines()
    assert lines, "nothing was journaled"
    for line in lines:
        json.loads(line)
