"""A collector that starts in any weather: from its registry snapshot while the database
is down, polling and spooling, every reading stored once when the database returns, and
a registry changed meanwhile picked up. Real PostgreSQL (stopped and started), real
Modbus TCP on loopback, a stepped clock (nothing depends on the machine's speed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from collectors.service import Collector
from collectors.snapshot import RegistryView, load_snapshot, save_snapshot
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.db.migrate import load_migrations
from pvmon.errors import ConfigError
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.collectors.test_runner import collect_once
from tests.conftest import stoppable_postgres
from tests.ports import fleet_base_port

NOON = datetime(2025, 6, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
SPEED = 60.0  # nominal; the clock is stepped
STEP_S = 60
VERSION = len(load_migrations())


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server of this module's own, since the tests stop and start it."""
    with stoppable_postgres(migrated=True) as server:
        yield server


def _fleet() -> FleetFile:
    return FleetFile.model_validate(
        generate_fleet(households=4, village_stations=1, base_port=fleet_base_port())
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no registry snapshot at"),
        ("{not json", "cannot be read"),
        (b"\xff\xfe", "cannot be read"),
        (json.dumps({"format": 1, "schema_version": 1}), "written for schema version 1"),
        (json.dumps({"format": 1, "schema_version": VERSION}), "is damaged"),
        (
            json.dumps(
                {
                    "format": 1,
                    "schema_version": VERSION,
                    "flavour": "postgres",
                    "taken_at": "2025-06-01T00:00:00+00:00",
                    "options": [],
                    "rows": [[1, 2]],
                }
            ),
            "is damaged",
        ),
    ],
)
def test_a_missing_or_bad_snapshot_says_what_to_do(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "collector-registry.json"
    if isinstance(content, str):
        path.write_text(content, "utf-8")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_snapshot(path, schema_version=VERSION)
    assert "start the collector once while the database is reachable" in str(info.value)


async def test_started_with_the_database_down_every_reading_arrives_once(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url, fleet = own_server.url(), _fleet()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE stations, inverters, households CASCADE")
        store_fleet(conn, fleet)
    clock = SimClock(start=NOON, speed=SPEED, stepped=True)
    simulator = FleetServer(build_endpoints(device_specs(fleet), seed=6, start=NOON), clock=clock)
    await simulator.start()
    spool = tmp_path / "spool"
    try:
        first = Collector(url=url, spool_dir=spool, speed=SPEED, clock=clock)  # saves it
        assert not first.from_snapshot and (tmp_path / "collector-registry.json").exists()
        await first.close()
        inverters = first.inverter_count

        await asyncio.to_thread(own_server.stop)  # a host reboot during an outage
        collector = Collector(url=url, spool_dir=spool, speed=SPEED, clock=clock)
        assert collector.from_snapshot and collector.inverter_count == inverters
        collector.writer.retry_after_s = 0  # try the database at every flush, not every 5 s
        for _ in range(5):
            await collector.cycle()
            clock.advance(STEP_S)
        assert collector.writer.stats.rows_spooled == 5 * inverters
        await collector.check_registry()  # still down: nothing changes
        assert collector.from_snapshot and not collector.registry_changed.is_set()

        await asyncio.to_thread(own_server.start)
        for _ in range(3):
            await collector.cycle()
            clock.advance(STEP_S)
        await collector.check_registry()  # the same registry: no reload needed
        assert not collector.from_snapshot and not collector.registry_changed.is_set()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE inverters SET poll_interval_s = 120 "
                "WHERE id = (SELECT min(id) FROM inverters)"
            )
        await collector.check_registry()
        assert collector.registry_changed.is_set()  # pvmon collect reloads
        await collector.close()
    finally:
        await simulator.stop()
    with psycopg.connect(url, autocommit=True) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (inverter_id, time)) FROM readings"
        ).fetchone() or (0, 0)
    assert (total, distinct) == (8 * inverters, 8 * inverters)
    assert not list(spool.glob("*.csv"))  # replayed


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE inverters SET endpoint_options = '{\"min_gap_s\": 0.2}'"
        " WHERE id = (SELECT min(id) FROM inverters)",
        "UPDATE stations SET latitude = latitude + 0.5 WHERE id = (SELECT min(id) FROM stations)",
        "UPDATE inverters SET unit_id = unit_id + 10 WHERE id = (SELECT max(id) FROM inverters)",
        "DELETE FROM inverters WHERE id = (SELECT max(id) FROM inverters)",
    ],
)
async def test_an_unchanged_registry_is_checked_by_its_digest_alone(
    own_server: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    url = own_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE stations, inverters, households CASCADE")
        store_fleet(conn, _fleet())
    collector = Collector(url=url, spool_dir=tmp_path / "spool")
    try:
        assert collector.view.digest and not collector.from_snapshot
        full_reads: list[RegistryView] = []
        read = collector._read_registry
        monkeypatch.setattr(
            collector, "_read_registry", lambda: full_reads.append(read()) or full_reads[-1]
        )
        with psycopg.connect(url, autocommit=True) as conn:  # health is not the registry
            conn.execute(
                "INSERT INTO inverter_health (inverter_id, state, since, last_energy_wh)"
                " SELECT id, 'online', now(), 5 FROM inverters"
            )
        for _ in range(3):
            await collector.check_registry()
        assert not full_reads and not collector.registry_changed.is_set()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(change)
        await collector.check_registry()
        assert len(full_reads) == 1 and collector.registry_changed.is_set()
        assert collector.view.digest == full_reads[0].digest != ""
    finally:
        await collector.close()


async def test_collect_once_with_the_database_down_polls_from_the_snapshot(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    url, fleet = own_server.url(), _fleet()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE stations, inverters, households, readings CASCADE")
        store_fleet(conn, fleet)
    simulator = FleetServer(
        build_endpoints(device_specs(fleet), seed=6, start=NOON), clock=SimClock(start=NOON)
    )
    await simulator.start()

    try:
        code, out = await collect_once(url, tmp_path)  # database up: the snapshot is written
        assert code == 0, out
        await asyncio.to_thread(own_server.stop)
        try:
            code, out = await collect_once(url, tmp_path)
        finally:
            await asyncio.to_thread(own_server.start)
    finally:
        await simulator.stop()
    assert code == 0, out
    assert "the database is unreachable: polling the registry as of" in out, out
    assert "Traceback" not in out
    assert list((tmp_path / "spool").glob("*.csv"))  # the readings wait in the spool


def test_what_was_learned_travels_with_the_snapshot(tmp_path: Path) -> None:
    view = RegistryView(
        rows=[],
        options={},
        flavour="postgres",
        schema_version=16,
        taken_at=datetime(2025, 6, 1, tzinfo=UTC),
        learned={("10.0.0.7", 502): {"min_gap_s": (0.08, "why"), "accept_tid_zero": (True, "tid")}},
    )
    save_snapshot(view, tmp_path / "registry.json")
    loaded = load_snapshot(tmp_path / "registry.json", schema_version=16)
    assert loaded.learned == view.learned
    assert loaded.fingerprint == view.fingerprint
    learned_nothing = RegistryView([], {}, "postgres", 16, view.taken_at)
    assert learned_nothing.fingerprint == view.fingerprint  # learning is no registry change
