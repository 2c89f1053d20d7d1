"""The /metrics endpoint: where it binds, a port in use, the plan's settings.metrics, and
no secrets in labels."""

from __future__ import annotations

import argparse
import socket
import urllib.request

import pytest

from migtui.cli.common import EXIT_USAGE, CliError
from migtui.cli.metrics_args import metrics_endpoint, start_metrics
from migtui.events import RunStarted, StepProgress
from migtui.metrics import MetricsExporter, MetricsPortError
from migtui.plan import load_plan_text
from migtui.secrets import register_url

PLAN = """\
migtui: 1
id: m
title: M
type: schema_change
agent: tester
targets: {dev: {environment: development}}
steps:
  - {id: a, sql: "SELECT 1", rollback: "SELECT 1"}
"""


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(metrics_port=kw.get("port"), metrics_host=kw.get("host"))


def test_binds_to_localhost_by_default():
    exporter = MetricsExporter()
    try:
        host, port = exporter.serve(0)
        assert host == "127.0.0.1" and port > 0
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b"migtui_run_state" in body
    finally:
        exporter.close()


def test_a_port_in_use_is_one_clear_line_and_exit_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(MetricsPortError):
            MetricsExporter().serve(port)
        with pytest.raises(CliError) as e:
            start_metrics(args(port=port), load_plan_text(PLAN))
    assert e.value.code == EXIT_USAGE
    assert str(e.value) == f"metrics port {port} on 127.0.0.1 is in use"


def test_settings_metrics_is_the_default_and_the_flag_wins():
    plan = load_plan_text(PLAN.replace(
        "targets:", "settings: {metrics: {port: 9464, host: 0.0.0.0}}\ntargets:"))
    assert metrics_endpoint(args(), plan) == ("0.0.0.0", 9464)
    assert metrics_endpoint(args(port=9500), plan) == ("0.0.0.0", 9500)
    assert metrics_endpoint(args(port=9500, host="127.0.0.1"), plan) == ("127.0.0.1", 9500)
    assert metrics_endpoint(args(), load_plan_text(PLAN)) is None
    assert metrics_endpoint(args(port=9500), load_plan_text(PLAN)) == ("127.0.0.1", 9500)
    with pytest.raises(CliError):
        metrics_endpoint(args(host="0.0.0.0"), load_plan_text(PLAN))


def test_no_password_in_any_label():
    register_url("postgresql://app:hunter2secret@db.example/shop")
    exporter = MetricsExporter()
    exporter.on_event(RunStarted(plan_id="p", target="postgresql://app:hunter2secret@db/x",
                                 database="shop", operator="o"))
    exporter.on_event(StepProgress(step_id="b", done=1, total=2, rate=1.0, eta=1.0,
                                   throttled="slow: password=hunter2secret"))
    try:
        _h, port = exporter.serve(0)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        exporter.close()
    assert b"hunter2secret" not in body
    assert b"migtui_backfill_limited" in body


def test_fleet_members_share_a_registry_with_a_member_label():
    first = MetricsExporter(member="eu-1")
    second = MetricsExporter(member="us-1", registry=first.registry)
    first.on_event(RunStarted(plan_id="p", target="t", database="d", operator="o"))
    from prometheus_client import generate_latest

    text = generate_latest(first.registry).decode()
    assert 'migtui_run_state{member="eu-1",migtui_run_state="running"} 1.0' in text
    assert 'migtui_run_state{member="us-1",migtui_run_state="idle"} 1.0' in text
    assert second.f is first.f
