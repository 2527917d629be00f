"""The database goes away mid-run, and the collector is killed with a full spool."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from collectors.service import Collector
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.db.migrate import upgrade
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.conftest import stoppable_postgres
from tests.ports import fleet_base_port

LOCAL = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 6, 1, 9, 0, tzinfo=LOCAL)
SPEED = 600.0  # ten simulated minutes per wall second


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    with stoppable_postgres() as server:
        yield server


async def test_outage_and_kill_lose_nothing_and_double_nothing(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    fleet = FleetFile.model_validate(
        generate_fleet(
            households=4,
            village_stations=1,
            joint_villages=2,
            base_port=fleet_base_port(),
        )
    )
    url = own_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        upgrade(conn, timescaledb="off")
        store_fleet(conn, fleet)
    clock = SimClock(start=START, speed=SPEED)
    simulator = FleetServer(build_endpoints(device_specs(fleet), seed=2, start=START), clock=clock)
    await simulator.start()
    spool = tmp_path / "spool"
    first = Collector(url=url, spool_dir=spool, speed=SPEED, timeout_s=1.0)
    first.start()
    await asyncio.sleep(1.5)
    await asyncio.to_thread(own_server.stop)  # the database goes away for a while
    await asyncio.sleep(2.5)
    # the collector is killed: no clean stop, whatever was in memory but not spooled is gone
    await first.writer.flush()
    first.scheduler.shutdown(wait=False)
    for poller in first.pollers:
        await poller.close()
    killed = first.writer.stats
    assert killed.rows_spooled > 0 and first.writer.spool.depth_batches > 0
    await asyncio.to_thread(own_server.start)
    second = Collector(url=url, spool_dir=spool, speed=SPEED, timeout_s=1.0)
    second.start()
    await asyncio.sleep(1.5)
    await second.stop()
    await simulator.stop()

    assert second.writer.stats.rows_replayed == killed.rows_spooled
    assert second.writer.spool.depth_batches == 0
    produced = killed.rows_written + killed.rows_spooled + second.writer.stats.rows_written
    with psycopg.connect(url) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (inverter_id, time)) FROM readings"
        ).fetchone()  # type: ignore[misc]
    assert total == distinct == produced
