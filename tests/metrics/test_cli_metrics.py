"""``migtui run --metrics-port``: the real command, scraped while it runs; the exporter
wired through the one execution path (``Run(exporter=...)``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

from migtui.control import RunControl
from migtui.execution import Run, execute
from migtui.journal import journal_path, read_journal
from migtui.metrics import MetricsExporter
from migtui.plan import load_plan
from tests.metrics.helpers import PLAN, Samples, scrape, value

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_plan(tmp_path: Path, settle: str = "1.5") -> Path:
    path = tmp_path / "scraped.yaml"
    path.write_text(PLAN.format(above="5s", settle=settle), encoding="utf-8")
    return path


def cli(*argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "migtui", *argv], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_migtui_run_serves_metrics_while_it_runs(shop_db, tmp_path):
    plan = write_plan(tmp_path)
    port = free_port()
    proc = cli("run", str(plan), "--dsn", shop_db, "--metrics-port", str(port))
    scrapes: list[Samples] = []
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.URLError, ConnectionError):  # not serving yet
            scrapes.append(scrape(port))
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert f"metrics: http://127.0.0.1:{port}/metrics" in err
    # a scrape that raced the server's shutdown at the end of the run reads an empty body
    scrapes = [s for s in scrapes if s]
    running = [s for s in scrapes
               if value(s, "migtui_run_state", migtui_run_state="running") == 1]
    assert running, f"{len(scrapes)} scrapes, none while running"
    # the run's own events reached the endpoint: its plan, its steps, its gauges
    assert any(value(s, "migtui_run_info", plan="scraped", target="dev") == 1 for s in running)
    assert max(value(s, "migtui_steps_applied_total") for s in scrapes) >= 2
    steps = {dict(lab)["step"] for s in running for (n, lab), v in s.items()
             if n == "migtui_current_step" and v == 1}
    assert "settle" in steps
    assert max(value(s, "migtui_samples_total") for s in scrapes) >= 1
    assert any(0.02 <= value(s, "migtui_probe_latency_p95_seconds") < 5 for s in running)
    # the port is released when the run ends (SO_REUSEADDR: past the scrapes' TIME_WAIT,
    # never past a listener)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_a_metrics_port_in_use_stops_migtui_run_before_it_connects(shop_db, tmp_path):
    plan = write_plan(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = cli("run", str(plan), "--dsn", shop_db, "--metrics-port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert err.strip() == f"migtui: error: metrics port {port} on 127.0.0.1 is in use"
    assert "Traceback" not in err
    assert not journal_path(plan, "scraped").exists()  # nothing ran


def test_run_feeds_its_exporter_events_and_snapshots(shop_db, tmp_path):
    """The core wiring: ``Run(exporter=...)`` subscribes it and feeds it each snapshot
    with the guard's states; the exporter gets the run's control."""
    path = write_plan(tmp_path, settle="0.8")
    plan = load_plan(path)
    exporter = MetricsExporter(plan)
    _host, port = exporter.serve(0)
    try:
        with Run(plan, path, shop_db, operator="tester", control=RunControl(),
                 auto_rollback=True, exporter=exporter) as run:
            assert exporter.control is run.control
            outcome = execute(run)
        final = scrape(port)
    finally:
        exporter.close()
    assert outcome.status == "done", outcome
    assert value(final, "migtui_run_state", migtui_run_state="done") == 1
    assert value(final, "migtui_steps_applied_total") == 3
    assert value(final, "migtui_samples_total") >= 1
    assert value(final, "migtui_gauge_state", gauge="latency", migtui_gauge_state="ok") == 1
    # and the journal got the gauges' series (the first snapshot at once)
    samples = [r for r in read_journal(run.journal_path) if r["kind"] == "GaugeSample"]
    assert samples and "latency" in samples[0]["values"]
