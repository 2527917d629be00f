"""Collector service pieces: shards, metrics endpoint."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import start_http_server

from collectors.metrics import CollectorMetrics
from collectors.service import Shard, parse_shard
from pvmon.db.embedded import free_port
from pvmon.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "shard"),
    [
        (None, Shard(0, 1)),
        ("1/1", Shard(0, 1)),
        ("2/4", Shard(1, 4)),
        ("4/4", Shard(3, 4)),
    ],
)
def test_parse_shard(text: str | None, shard: Shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "3", "1/0"])
def test_parse_shard_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="shard"):
        parse_shard(text)


def test_shards_cover_every_endpoint_once_and_stay_stable() -> None:
    endpoints = [(f"10.0.0.{i % 250}", 502 + i // 250) for i in range(3000)]
    shards = [Shard(k, 4) for k in range(4)]
    owners = [[s for s in shards if s.owns(h, p)] for h, p in endpoints]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(1 for o in owners if o[0] == s) for s in shards]
    assert min(counts) > 600  # roughly even
    again = [[s for s in shards if s.owns(h, p)] for h, p in endpoints]
    assert again == owners


def test_metrics_endpoint_serves_the_collector_metrics() -> None:
    metrics = CollectorMetrics()
    metrics.polls.labels(result="ok").inc(3)
    metrics.polls.labels(result="timeout").inc()
    metrics.request_seconds.observe(0.02)
    metrics.spool_bytes.set(1234)
    metrics.overruns.inc()
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        server.shutdown()
        thread.join(5)
    body = text.decode()
    for expected in (
        'pvmon_polls_total{result="ok"} 3.0',
        'pvmon_polls_total{result="timeout"} 1.0',
        "pvmon_request_seconds_bucket",
        "pvmon_spool_bytes 1234.0",
        "pvmon_cycle_overruns_total 1.0",
        "pvmon_rows_written_total",
    ):
        assert expected in body


@pytest.mark.parametrize(
    ("observed", "buckets"),
    [
        ([], {"0.01": 0, "0.1": 0, "+Inf": 0}),
        ([0.01], {"0.01": 1, "0.1": 1, "+Inf": 1}),  # a bound is "less or equal"
        ([0.0101, 0.05], {"0.01": 0, "0.1": 2, "+Inf": 2}),
        ([0.001, 0.2, 7.0], {"0.01": 1, "0.1": 1, "+Inf": 3}),
    ],
)
def test_loop_histogram_counts_like_prometheus(
    observed: list[float], buckets: dict[str, int]
) -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from collectors.metrics import LoopHistogram

    ours = LoopHistogram("ours", "d", buckets=(0.01, 0.1), registry=CollectorRegistry())
    theirs = Histogram("theirs", "d", buckets=(0.01, 0.1), registry=CollectorRegistry())
    for value in observed:
        ours.observe(value)
        theirs.observe(value)
    [family] = ours.collect()
    got = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert got == buckets
    [reference] = theirs.collect()
    kept = ("_bucket", "_count", "_sum")  # prometheus_client adds a _created sample
    assert [s.value for s in family.samples] == [
        s.value for s in reference.samples if s.name.endswith(kept)
    ]
