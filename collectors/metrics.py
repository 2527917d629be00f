"""Prometheus metrics of a collector, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CollectorMetrics"]


class CollectorMetrics:
    """Polls, failures by kind, latency, cycles, overruns, spool depth, rows written."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "pvmon_polls",
            "Inverter polls by result (ok or failure kind)",
            ["result"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "pvmon_request_seconds",
            "Modbus request round trip [s]",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
        )
        self.cycle_seconds = Histogram(
            "pvmon_endpoint_cycle_seconds",
            "Time to poll every inverter of an endpoint [s]",
            registry=self.registry,
            buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
        )
        self.overruns = Counter(
            "pvmon_cycle_overruns",
            "Endpoint cycles that could not start because the previous one was still running",
            registry=self.registry,
        )
        self.connects = Counter(
            "pvmon_connects", "TCP connects to data loggers", registry=self.registry
        )
        self.rows_written = Counter(
            "pvmon_rows_written", "Readings stored in the database", registry=self.registry
        )
        self.spool_bytes = Gauge(
            "pvmon_spool_bytes", "Bytes waiting in the local spool", registry=self.registry
        )
        self.clock_offset = Gauge(
            "pvmon_device_clock_offset_seconds",
            "Device clock minus collector clock [s]",
            ["endpoint"],
            registry=self.registry,
        )
