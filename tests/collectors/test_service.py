"""Collector service pieces: shards, metrics endpoint, health store."""

from __future__ import annotations

import asyncio
import gc
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client import start_http_server

from collectors.health import AlarmEvent
from collectors.metrics import CollectorMetrics
from collectors.modbus import reply_batching
from collectors.poller import batch_window_s
from collectors.service import Collector, Shard, _HealthStore, parse_shard
from pvmon.db.embedded import free_port
from pvmon.errors import ConfigError, DatabaseUnavailableError
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from tests.ports import fleet_base_port


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


def test_health_store_applies_events_in_order_on_one_kept_connection(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(generate_fleet(households=1)))
        inverter_id, station_id = conn.execute(
            "SELECT id, station_id FROM inverters ORDER BY id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    t0 = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)

    def event(minutes: int, *, closed: bool) -> AlarmEvent:
        reason = "back" if closed else "silent"
        at = t0 + timedelta(minutes=minutes)
        return AlarmEvent(inverter_id, station_id, "offline", at, closed, reason)

    row = (inverter_id, "offline", t0, t0, None, None, 3, "timeout", None)
    store = _HealthStore(db_url)
    try:
        # opened, closed and opened again within one store: applied in that order
        store.store([row], [event(0, closed=False), event(5, closed=True), event(9, closed=False)])
        kept = store._db.get()
        store.store([row], [event(12, closed=True)])
        assert store._db.get() is kept  # no new connection per store
    finally:
        store.close()
    with psycopg.connect(db_url) as conn:
        alarms = conn.execute(
            "SELECT opened_at, closed_at FROM alarms WHERE inverter_id = %s ORDER BY opened_at",
            (inverter_id,),
        ).fetchall()
        state = conn.execute(
            "SELECT state, consecutive_failures FROM inverter_health WHERE inverter_id = %s",
            (inverter_id,),
        ).fetchone()
    assert alarms == [
        (t0, t0 + timedelta(minutes=5)),
        (t0 + timedelta(minutes=9), t0 + timedelta(minutes=12)),
    ]
    assert state == ("offline", 3)


def test_health_store_reports_an_unreachable_database_as_ours() -> None:
    store = _HealthStore(f"postgresql://pvmon@127.0.0.1:{free_port()}/none")
    with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
        store.store([], [])


async def test_stop_lets_a_running_job_finish_instead_of_cancelling_it(
    db_url: str, tmp_path: Path
) -> None:
    collector = Collector(url=db_url, spool_dir=tmp_path / "spool")
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:
        started.set()
        await asyncio.sleep(0.3)  # cancelled here if stop() shuts the scheduler down first
        finished.set()

    collector.start()
    collector._every(slow_job, 0.05, "slow")
    await asyncio.wait_for(started.wait(), timeout=5)
    await collector.stop()
    assert finished.is_set()


@pytest.mark.parametrize(
    ("paces", "ceiling_s", "window_s"),
    [
        ([], 0.05, 0.05),  # nothing to slow down
        ([(300.0, 80, 1.0)], 0.05, 0.05),  # 4G county: plenty of room, the ceiling
        ([(1.0, 80, 0.0)], 0.05, 0.00625),  # loopback every second: half of 12.5 ms
        ([(300.0, 80, 1.0), (1.0, 80, 0.0)], 0.05, 0.00625),  # the tightest endpoint rules
        ([(60.0, 80, 0.5)], 0.05, 0.0),  # a pass already over half its interval
        ([(60.0, 0, 0.5)], 0.05, 0.05),  # an endpoint with nothing to read
        ([(300.0, 80, 1.0)], 0.0, 0.0),  # turned off
    ],
)
def test_batch_window(
    paces: list[tuple[float, int, float]], ceiling_s: float, window_s: float
) -> None:
    assert batch_window_s(paces, ceiling_s=ceiling_s) == pytest.approx(window_s)


@pytest.mark.parametrize(
    ("ceiling_s", "budget", "message"),
    [
        (-0.01, 0.5, "ceiling_s"),
        (float("nan"), 0.5, "ceiling_s"),
        (0.05, 0.0, "budget"),
        (0.05, 1.5, "budget"),
    ],
)
def test_batch_window_rejects(ceiling_s: float, budget: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        batch_window_s([], ceiling_s=ceiling_s, budget=budget)


async def test_collector_sets_the_batch_window_from_its_fleet_and_clears_it_on_stop(
    db_url: str, tmp_path: Path
) -> None:
    fleet = generate_fleet(households=3, village_stations=0, base_port=fleet_base_port())
    for station in fleet["stations"]:
        for inverter in station["inverters"]:
            inverter["endpoint_options"] = {"min_gap_s": 0.2}  # counts as time per request
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(fleet))
    collector = Collector(url=db_url, spool_dir=tmp_path / "spool", batch_window_max_s=0.04)
    assert {p.pace[2] for p in collector.pollers} == {0.2}
    expected = batch_window_s((p.pace for p in collector.pollers), ceiling_s=0.04)
    assert 0 < expected <= 0.04
    collector.start()
    try:
        assert reply_batching().window_s == expected
        assert collector.metrics.batch_window._value.get() == expected
    finally:
        await collector.stop()
    assert reply_batching().window_s == 0.0


async def test_the_collector_keeps_yesterdays_and_todays_availability(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    """Every hour (scheduled with the rest) the collector stores each station's
    availability of yesterday and today, as ``pvmon availability --store`` would."""
    if flavour == "timescaledb":
        pytest.skip("a table of the collector's: one flavour is enough")
    fleet = generate_fleet(households=2, village_stations=1, base_port=fleet_base_port())
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(fleet))
    collector = Collector(url=db_url, spool_dir=tmp_path / "spool")
    collector.start()
    try:
        assert collector.scheduler.get_job("availability") is not None
        await collector._store_availability()
    finally:
        await collector.stop()
    with psycopg.connect(db_url) as conn:
        days = conn.execute(
            "SELECT count(DISTINCT station_id), array_agg(DISTINCT day ORDER BY day)"
            " FROM station_availability_daily"
        ).fetchone()
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert days == (len(fleet["stations"]), [today - timedelta(days=1), today])


def _bounded_collector(
    db_url: str, flavour: str, tmp_path: Path, *, households: int, max_concurrent: int
) -> Collector:
    """A collector of a small fleet (households and one village station), at most
    ``max_concurrent`` endpoints polled at once."""
    if flavour == "timescaledb":
        pytest.skip("the schedule does not depend on the flavour")
    fleet = generate_fleet(households=households, village_stations=1, base_port=fleet_base_port())
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(fleet))
    return Collector(url=db_url, spool_dir=tmp_path / "spool", max_concurrent=max_concurrent)


async def test_one_job_per_interval_starts_every_endpoint_and_counts_overruns(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    """The fleet's endpoints of one poll interval are started by one scheduled job, at
    most ``max_concurrent`` at once (the next when one ends); an endpoint whose pass
    still runs or waits when the next tick comes is counted as an overrun (and logged),
    not started twice, and stop() lets the running passes finish."""
    collector = _bounded_collector(db_url, flavour, tmp_path, households=2, max_concurrent=2)
    release, two_started = asyncio.Event(), asyncio.Event()
    polled: list[str] = []
    finished: list[str] = []

    def held(name: str) -> Callable[[], Awaitable[None]]:
        async def poll() -> None:  # a pass that lasts until the test releases it
            polled.append(name)
            if len(polled) == 2:
                two_started.set()
            await release.wait()
            finished.append(name)

        return poll

    for poller in collector.pollers:
        poller.poll = held(poller.name)  # type: ignore[method-assign]

    def overruns() -> float:
        return collector.metrics.registry.get_sample_value("pvmon_cycle_overruns_total") or 0.0

    endpoints = len(collector.pollers)
    assert endpoints > 2
    thresholds = gc.get_threshold()
    collector.start()
    try:
        assert gc.get_threshold()[0] == 10_000  # a young generation of a pass's worth
        jobs = [job.id for job in collector.scheduler.get_jobs() if job.id.startswith("poll")]
        assert jobs == [f"poll every {collector.pollers[0].interval_s:g} s"]
        await asyncio.wait_for(two_started.wait(), timeout=30)
        await asyncio.sleep(0.05)
        assert len(polled) == 2  # the bound: the others wait for a place
        assert overruns() == 0
        await collector._start_polls(tuple(collector.pollers))  # the next tick
        assert overruns() == endpoints  # running or waiting: none queued twice
    finally:
        stopping = asyncio.ensure_future(collector.stop())
        await asyncio.sleep(0)
        release.set()
        await stopping
    assert len(polled) == 2  # stopping starts no waiting pass
    assert sorted(finished) == sorted(polled)  # and lets the running ones finish
    assert gc.get_threshold() == thresholds  # given back


async def test_passes_waiting_for_a_place_start_as_others_end(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    """With one place, one pass at a time, and every endpoint polled."""
    collector = _bounded_collector(db_url, flavour, tmp_path, households=3, max_concurrent=1)
    running: list[int] = []
    most = 0
    done = asyncio.Event()

    def one_at_a_time(name: str) -> Callable[[], Awaitable[None]]:
        async def poll() -> None:
            nonlocal most
            running.append(1)
            most = max(most, len(running))
            await asyncio.sleep(0.01)
            running.pop()
            finished.append(name)
            if len(finished) == len(collector.pollers):
                done.set()

        return poll

    finished: list[str] = []
    for poller in collector.pollers:
        poller.poll = one_at_a_time(poller.name)  # type: ignore[method-assign]
    collector.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        await collector.stop()
    assert most == 1
    assert sorted(finished) == sorted(p.name for p in collector.pollers)
