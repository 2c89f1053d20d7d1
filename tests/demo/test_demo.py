"""migtui demo: the story plays headless; quitting leaves no server; root changes no modes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.embedded_only]

ORDERS = "150000"  # enough for a sequential scan to be clearly slower than the index


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory):
    if os.geteuid() == 0:
        home = Path(f"/var/tmp/migtui-test-demo-{os.getpid()}")
        home.mkdir(exist_ok=True)
    else:
        home = tmp_path_factory.mktemp("demo")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def postgres_pids(home: Path) -> list[int]:
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "postgres" in (p.info["name"] or "") and str(home) in cmd:
            out.append(p.pid)
    return out


def modes(paths: list[Path]) -> dict[str, int]:
    return {str(p): p.stat().st_mode for p in paths if p.exists()}


def demo(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MIGTUI_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("MIGTUI_TEST_DSN", None)
    return subprocess.Popen([sys.executable, "-m", "migtui", "demo", "--orders", ORDERS, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_headless_story_trips_rolls_back_and_cleans_up(demo_home):
    parents = [demo_home.parent, *demo_home.parent.parents, Path(sys.prefix),
               *Path(sys.prefix).parents, Path.home()]
    before = modes(parents)
    proc = demo(demo_home, "--headless", "--baseline", "6")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out
    assert "TRIP Performance degradation >50% tripped: latency" in out
    assert "↺ rollback finished: 4 step(s) rolled back" in out
    assert "detection (bad step done → trip):" in out
    report = demo_home / "demo-run" / "demo-report.md"
    assert "Rollback trigger tripped: Performance degradation >50%" in report.read_text()
    assert postgres_pids(demo_home) == []
    # as root, nothing outside migtui's own directories changed mode
    assert modes(parents) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_stop_traffic_and_server(demo_home, sig):
    proc = demo(demo_home, "--headless", "--baseline", "30")
    assert proc.stdout is not None
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        if "application traffic" in line:
            break
        assert time.monotonic() < deadline
    assert postgres_pids(demo_home), "the demo server should be running"
    time.sleep(1)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    gone = time.monotonic() + 10
    while postgres_pids(demo_home) and time.monotonic() < gone:
        time.sleep(0.2)
    assert postgres_pids(demo_home) == []
