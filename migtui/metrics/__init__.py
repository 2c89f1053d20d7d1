"""Prometheus / OpenMetrics export of a run: see ``MetricsExporter`` and docs/metrics.md."""

from migtui.metrics.exporter import DEFAULT_HOST, MetricsExporter, MetricsPortError
from migtui.metrics.families import GAUGE_UNITS, to_base

__all__ = ["DEFAULT_HOST", "GAUGE_UNITS", "MetricsExporter", "MetricsPortError", "to_base"]
