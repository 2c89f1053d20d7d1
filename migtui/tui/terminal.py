"""The app's terminal: Textual's terminal driver, made to notice the terminal going away.

A dropped SSH session, a closed tmux or an emulator that died must end the app as SIGHUP
does (cancel the statement, journal, free the lock, exit), even when no SIGHUP reaches it;
an app left running with no terminal kept the plan's lock (issue 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import threading
from typing import Any

from textual.driver import Driver

LAST_RESORT_S = 30.0  # after losing the terminal: the clean exit's time before a hard one
AFTER_CLOSE_S = 5.0  # ... and, once the session closed, the time for its threads to end


class TerminalOutput:
    """The app's terminal, as Textual's writer thread writes to it. A write to a terminal
    that went away fails (EIO); unguarded, that killed Textual's writer thread, and the
    frames after it filled its queue (30) and blocked the event loop for good: no SIGHUP
    or SIGTERM handler ran again and the process stayed, with no terminal, holding the
    plan's lock (issue 15). Here the failure says the terminal is lost, and later writes
    are dropped."""

    def __init__(self, file: Any, lost: Any) -> None:
        self._file = file
        self._lost = lost
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._gone()

    def _gone(self) -> None:
        self.gone = True
        self._lost()

    def fileno(self) -> int:
        return self._file.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def terminal_alive(fd: int) -> bool:
    """False once the terminal on ``fd`` hung up (its emulator, tmux or sshd went away)."""
    import termios

    try:
        termios.tcgetattr(fd)
    except termios.error as e:
        return bool(e.args) and e.args[0] == errno.EINTR
    except OSError:
        return False
    return True


@functools.cache
def terminal_driver() -> type[Driver] | None:
    """Textual's terminal driver, made to notice the terminal going away (POSIX)."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # Windows
        return None

    class TerminalDriver(LinuxDriver):
        """Textual's LinuxDriver that notices its terminal going away even when no SIGHUP
        comes (a shell that does not pass it on, a disowned job, a container's exec): a
        failed write, or a watcher that finds the terminal hung up (every 0.5 s), tells
        the app (``MigtuiApp.terminal_lost``), which exits as on SIGHUP. The dead
        terminal's descriptors become /dev/null, so nothing blocks or fails on them on the
        way out; and if the clean exit has not ended the process after ``LAST_RESORT_S``,
        the running statement is cancelled and the process exits (an orphan would keep
        the plan's lock)."""

        def __init__(self, app: Any, **kw: Any) -> None:
            super().__init__(app, **kw)
            self.lost = threading.Event()
            self._lost_once = threading.Lock()
            self._loop: asyncio.AbstractEventLoop | None = None
            self._watcher: threading.Thread | None = None
            self._suspended = False
            self._ttys = [fd for fd in (0, 1, 2) if _isatty(fd)]
            self._file = TerminalOutput(self._file, self.terminal_lost)

        def start_application_mode(self) -> None:
            self._loop = asyncio.get_running_loop()
            super().start_application_mode()
            if self._ttys and self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, daemon=True,
                                                 name="migtui-terminal")
                self._watcher.start()

        def suspend_application_mode(self) -> None:
            self._suspended = True
            super().suspend_application_mode()

        def resume_application_mode(self) -> None:
            """Textual resumes on any SIGCONT. The kernel sends one with the SIGHUP of a
            hung-up terminal: resuming then started a second writer thread on the dead
            terminal, which died on its first write, and the app's exit blocked for good
            on its full queue (the intermittent orphan). Resume only what Ctrl+Z
            suspended, and only on a live terminal."""
            if not self._suspended:
                return
            if self.lost.is_set() or not all(terminal_alive(fd) for fd in self._ttys):
                self.terminal_lost()
                return
            self._suspended = False
            super().resume_application_mode()

        def _watch(self) -> None:
            while not self.lost.wait(0.5):
                if not all(terminal_alive(fd) for fd in self._ttys):
                    self.terminal_lost()
            last_resort = getattr(self._app, "terminal_lost_last_resort", None)
            if last_resort is not None:
                last_resort()

        def terminal_lost(self) -> None:
            with self._lost_once:
                if self.lost.is_set():
                    return
                self.lost.set()
            self._silence()
            self.exit_event.set()  # the input thread stops reading a dead terminal
            loop = self._loop
            told = getattr(self._app, "terminal_lost", None)
            if loop is not None and told is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed
                    loop.call_soon_threadsafe(told)

        def _silence(self) -> None:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                try:
                    for fd in self._ttys:
                        os.dup2(null, fd)
                finally:
                    os.close(null)

    return TerminalDriver


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False
