"""Helpers shared by the tests (moved out of test_tui_app.py)."""


from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any


def asynctest(fn: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run
