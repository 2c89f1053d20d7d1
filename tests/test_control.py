"""RunControl: steering between threads, and a cancel that never outlives its work."""

from __future__ import annotations

import contextlib
import threading
import time

from migtui.control import RunControl


def test_reset_waits_for_a_cancel_hook_still_in_flight() -> None:
    control = RunControl()
    hook_started, hook_done = threading.Event(), threading.Event()

    def slow_hook() -> None:  # a pg_cancel_backend that needs a new connection first
        hook_started.set()
        time.sleep(0.3)
        hook_done.set()

    control.on_cancel(slow_hook)
    t = threading.Thread(target=control.request_rollback, args=("p99 latency",))
    t.start()
    hook_started.wait(5)
    assert control.cancelled and control.rollback_requested
    control.reset()  # the rollback's work is about to start
    assert hook_done.is_set(), "reset returned while the cancel was still on its way"
    assert not control.cancelled and not control.rollback_requested
    t.join(5)


def test_hooks_run_only_on_cancel_and_a_removed_hook_never_runs() -> None:
    control = RunControl()
    ran: list[str] = []
    control.on_cancel(lambda: ran.append("kept"))
    remove = control.on_cancel(lambda: ran.append("removed"))
    control.reset()  # no cancel in flight: nothing runs, nothing to wait for
    assert ran == []
    remove()
    control.cancel("operator")
    assert ran == ["kept"] and control.cancel_reason == "operator"


def test_a_failing_hook_does_not_leave_reset_waiting() -> None:
    control = RunControl()

    def broken() -> None:
        raise RuntimeError("boom")

    control.on_cancel(broken)
    with contextlib.suppress(RuntimeError):
        control.cancel("x")
    done = threading.Event()
    threading.Thread(target=lambda: (control.reset(), done.set()), daemon=True).start()
    assert done.wait(5)


def test_the_first_cancel_reason_is_kept() -> None:
    ctl = RunControl()
    ctl.cancel("terminal hung up (SIGHUP)")
    ctl.cancel("the app is closing")  # the app's close, after the hang-up's cancel
    assert ctl.cancel_reason == "terminal hung up (SIGHUP)"
    ctl.reset()
    ctl.cancel("cancelled by operator")
    assert ctl.cancel_reason == "cancelled by operator"
