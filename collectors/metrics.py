"""Prometheus metrics of a collector, in a registry of its own."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CollectorMetrics", "LoopHistogram"]


class LoopHistogram(Collector):
    """A histogram observed from the event loop thread only, at a list increment's cost.

    ``prometheus_client``'s histogram takes a lock and walks its buckets on every
    observation; the collector observes every Modbus request, thousands a second, all
    from one thread. Scrapes (another thread) read a consistent-enough copy of the counts.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name, self.documentation = name, documentation
        self._bounds = tuple(float(b) for b in buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last is +Inf
        self._sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        """Count one observation of ``value``."""
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        counts = list(self._counts)
        cumulative, buckets = 0, []
        for bound, count in zip((*self._bounds, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else f"{bound:g}", cumulative))
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self._sum
        )


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
        self.request_seconds = LoopHistogram(
            "pvmon_request_seconds",
            "Modbus request round trip [s]",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8),
        )
        self.cycle_seconds = LoopHistogram(
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
        self.stale_frames = Counter(
            "pvmon_stale_frames",
            "Replies that matched no outstanding request (late, or a wrong transaction id)",
            registry=self.registry,
        )
        self.learned = Gauge(
            "pvmon_learned_setting",
            "Each setting the collector learned from an endpoint's replies: 1 for a flag "
            "(accept_tid_zero), the value for a number (min_gap_s [s]); 0 once dropped",
            ["endpoint", "setting"],
            registry=self.registry,
        )
        self.readings_dropped = Counter(
            "pvmon_readings_dropped",
            "Readings lost, by reason: spool_full (the spool reached PVMON_SPOOL_MAX_BYTES), "
            "disk_error (the spool's disk failed)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("spool_full", "disk_error"):
            self.readings_dropped.labels(reason=reason)  # shown at 0 before the first loss
        self.spool_bytes = Gauge(
            "pvmon_spool_bytes", "Bytes waiting in the local spool", registry=self.registry
        )
        self.batch_window = Gauge(
            "pvmon_reply_batch_window_seconds",
            "Replies are handled in batches at most this far apart (0: each at once) [s]",
            registry=self.registry,
        )
        self.clock_offset = Gauge(
            "pvmon_device_clock_offset_seconds",
            "Device clock minus collector clock [s]",
            ["endpoint"],
            registry=self.registry,
        )
