"""What limits a backfill's rate: the core's words (``describe.limit_text``) and the
progress line's tail in the app."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label

from migtui.events import StepProgress
from migtui.execution.describe import limit_text
from migtui.tui.widgets.steps import BackfillProgress
from tests.tui.helpers import asynctest


def progress(**kw: object) -> StepProgress:
    base: dict[str, object] = dict(step_id="fill", done=500, total=1000, rate=250.0, eta=2.0,
                                   batch_size=100)
    base.update(kw)
    return StepProgress(**base)  # type: ignore[arg-type]


def test_limit_text_names_what_limits_the_rate() -> None:
    assert limit_text(progress(limited_by="full speed")) == "full speed"
    assert limit_text(progress(limited_by="lock budget")) == "limited by lock budget"
    assert limit_text(progress(limited_by="replica lag 1.4 s > 1 s", sleep=0.5,
                               throttled="replica lag 1.4 s > 1 s")) == \
        "limited by replica lag 1.4 s > 1 s, pausing 0.5 s between batches"
    assert limit_text(progress(throttled="paused by operator")) == \
        "throttled: paused by operator"
    assert limit_text(progress()) == ""


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield BackfillProgress()


@asynctest
async def test_the_progress_line_ends_with_what_limits_the_rate() -> None:
    app = _Host()
    async with app.run_test(size=(120, 10)) as pilot:
        bar = app.query_one(BackfillProgress)
        for event, tail in ((progress(limited_by="lock budget"), "limited by lock budget"),
                            (progress(limited_by="full speed"), "full speed"),
                            (progress(limited_by="app latency +40%", sleep=1.0),
                             "limited by app latency +40%, pausing 1.0 s between batches")):
            bar.show_progress(event)
            await pilot.pause()
            text = str(app.query_one("#bf-label", Label).render())
            assert text.endswith(f"batch 100 · {tail}"), text
