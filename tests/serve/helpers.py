"""Start ``migtui serve`` as a real process and read what a browser would receive."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[()][A-Z0-9]|\x1b\][^\x07]*\x07|\x1b.")


class Served:
    def __init__(self, *args: str, timeout: float = 120) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "migtui", "serve", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=ROOT)
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"(http://\S+/\?token=(\S+))", line)
            if m:
                self.url, self.token = m.group(1), m.group(2)
                self.base = self.url.split("/?", 1)[0]
                return
        self.stop()
        raise AssertionError("migtui serve did not start:\n" + "".join(self.lines))

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self) -> str:
        """Stop the server (SIGTERM) and return everything it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.stdout is not None
        rest = self.proc.stdout.read()
        return "".join(self.lines) + rest


def plain(frames: list[bytes | str]) -> str:
    """The websocket's terminal output as text: escape sequences removed."""
    text = "".join(f.decode("utf-8", "replace") if isinstance(f, bytes) else f for f in frames)
    return ANSI.sub("", text)


CHROMIUM = os.environ.get("MIGTUI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
