"""``--metrics-port`` / ``--metrics-host`` for the commands that run a plan (run, the app,
fleets): parse them, fall back to the plan's ``settings.metrics``, start the exporter.

A port in use is bad input: one clear line and exit 2 (``CliError``), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from migtui.cli.common import EXIT_USAGE, CliError
from migtui.control import RunControl
from migtui.plan import Plan


def add_metrics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics of the run on http://HOST:PORT/metrics "
                        "(default: the plan's settings.metrics)")
    p.add_argument("--metrics-host", metavar="HOST",
                   help="address for --metrics-port (default 127.0.0.1: this machine only)")


def metrics_endpoint(args: argparse.Namespace, plan: Plan) -> tuple[str, int] | None:
    """(host, port) from the arguments, else the plan's settings.metrics; None: no metrics."""
    from migtui.metrics import DEFAULT_HOST

    cfg = plan.settings.metrics
    port = getattr(args, "metrics_port", None)
    host = getattr(args, "metrics_host", None)
    if port is None and cfg is not None:
        port = cfg.port
    if port is None:
        if host is not None:
            raise CliError("--metrics-host needs --metrics-port (or settings.metrics.port)",
                           EXIT_USAGE)
        return None
    if not 0 <= port <= 65535:
        raise CliError(f"--metrics-port: expected a port from 0 to 65535, found {port}",
                       EXIT_USAGE)
    return (host or (cfg.host if cfg is not None else DEFAULT_HOST)), port


def start_metrics(args: argparse.Namespace, plan: Plan, control: RunControl | None = None,
                  *, out: TextIO | None = None) -> Any:
    """A serving ``MetricsExporter`` for the run, or None when no metrics were asked for."""
    where = metrics_endpoint(args, plan)
    if where is None:
        return None
    from migtui.metrics import MetricsExporter, MetricsPortError

    exporter = MetricsExporter(plan, control=control)
    try:
        host, port = exporter.serve(where[1], where[0])
    except MetricsPortError as e:
        raise CliError(str(e.strerror), EXIT_USAGE) from None
    print(f"metrics: http://{host}:{port}/metrics", file=out or sys.stderr, flush=True)
    return exporter


def snapshot_callback(exporter: Any, states: Callable[[], Mapping[str, Any]]
                      ) -> Callable[[Any], None]:
    """For ``Watch(on_snapshot=...)``: each snapshot and the guard's states after it."""

    def on_snapshot(snap: Any) -> None:
        exporter.observe(snap, states())

    return on_snapshot
