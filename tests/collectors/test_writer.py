"""Store-and-forward: readings survive a database outage and a collector restart, once."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from prometheus_client import generate_latest

from collectors.service import Collector
from collectors.spool import Spool
from collectors.writer import ReadingWriter
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.db.readings import Reading
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from tests.conftest import stoppable_postgres

T0 = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server of this module's own, since the tests stop and start it."""
    with stoppable_postgres(migrated=True) as server:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            store_fleet(
                conn, FleetFile.model_validate(generate_fleet(households=2, village_stations=1))
            )
        yield server


def _readings(inverter_id: int, start: int, count: int) -> list[Reading]:
    return [
        Reading(
            time=T0 + timedelta(minutes=m),
            inverter_id=inverter_id,
            ac_power_w=1000.0,
            energy_wh=10_000 + 17 * m,
            raw=None,
        )
        for m in range(start, start + count)
    ]


def _stored(server: EmbeddedPostgres) -> tuple[int, int, int]:
    with psycopg.connect(server.url()) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (inverter_id, time)), "
            "count(*) FILTER (WHERE quality & %s <> 0) FROM readings",
            (int(Quality.REPLAYED),),
        ).fetchone()
        conn.execute("DELETE FROM readings")
    assert row is not None
    return row


async def test_outage_then_restart_loses_nothing_and_doubles_nothing(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    writer = ReadingWriter(url=own_server.url(), spool=spool, batch_rows=50, retry_after_s=0)
    writer.add(_readings(1, 0, 100))
    await writer.flush()
    assert writer.stats.rows_written == 100

    own_server.stop()  # the database goes away mid-run
    writer.add(_readings(1, 100, 120))
    await writer.flush()
    writer.add(_readings(1, 220, 80))
    await writer.flush()
    assert writer.stats.rows_spooled == 200
    assert spool.depth_batches == 5
    writer.close()

    # the collector restarts with a non-empty spool, and the database is back
    own_server.start()
    restarted = ReadingWriter(
        url=own_server.url(), spool=Spool(tmp_path / "spool"), batch_rows=50, retry_after_s=0
    )
    restarted.add(_readings(1, 300, 10))
    await restarted.flush()
    assert restarted.stats.rows_replayed == 200
    assert restarted.spool.depth_batches == 0
    total, distinct, replayed = _stored(own_server)
    assert (total, distinct, replayed) == (310, 310, 200)
    restarted.close()


async def test_a_batch_replayed_twice_is_stored_once(
    own_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.put(_readings(1, 0, 30))
    copy = next(iter(spool.files())).path.read_bytes()
    writer = ReadingWriter(url=own_server.url(), spool=spool, retry_after_s=0)
    await writer.flush()
    # a crash between the insert and the delete leaves the same batch in the spool again
    (tmp_path / "spool" / "000000000099.csv").write_bytes(copy)
    writer2 = ReadingWriter(url=own_server.url(), spool=Spool(tmp_path / "spool"), retry_after_s=0)
    await writer2.flush()
    assert _stored(own_server)[:2] == (30, 30)
    writer.close()
    writer2.close()


def test_spool_is_bounded_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from collectors.spool import SpoolFullError

    spool = Spool(tmp_path / "s", max_bytes=2000, warn_fraction=0.5)
    spool.put(_readings(1, 0, 20))
    assert "full" in caplog.text
    with pytest.raises(SpoolFullError):
        spool.put(_readings(1, 20, 100))
    assert spool.dropped_rows == 100
    assert spool.depth_batches == 1  # what it accepted is kept


def test_rejected_batches_are_kept_aside(own_server: EmbeddedPostgres, tmp_path: Path) -> None:
    import asyncio

    writer = ReadingWriter(url=own_server.url(), spool=Spool(tmp_path / "s"))
    writer.add(_readings(999_999, 0, 3))  # unknown inverter: the database refuses it
    asyncio.run(writer.flush())
    assert writer.stats.rows_rejected == 3
    assert len(list((tmp_path / "s" / "rejected").glob("*.csv"))) == 1
    writer.close()


def test_scheduled_flush_waits_for_enough_rows_or_their_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr("collectors.writer.time.monotonic", lambda: now[0])
    writer = ReadingWriter(
        url="postgresql://unused", spool=Spool(tmp_path / "spool"), flush_rows=10, max_age_s=5
    )
    assert not writer.due()  # nothing buffered
    writer.add(_readings(1, 0, 3))
    assert not writer.due()  # a few rows, just seen
    now[0] += 3.0
    assert not writer.due()
    now[0] += 1.0
    assert writer.due()  # seen 4 s ago by a check that runs every second: 5 s old at most
    writer.add(_readings(1, 3, 7))
    assert writer.due()  # and enough rows at once, whatever their age
    writer._buffer.clear()
    assert not writer.due()
    writer.add(_readings(1, 10, 1))
    assert not writer.due()  # the age counts from when rows were first seen again
    writer.spool.put(_readings(2, 0, 1))
    assert writer.due()  # a spool to replay is always due


async def test_readings_the_spool_cannot_keep_are_counted_and_logged_once_a_minute(
    own_server: EmbeddedPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = Collector(url=own_server.url(), spool_dir=tmp_path / "spool", spool_max_bytes=3000)
    writer, spool = collector.writer, collector.writer.spool

    async def write(start: int, count: int) -> None:
        writer.add(_readings(1, start, count))
        await writer.flush()  # never raises: what cannot be kept is counted

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    own_server.stop()
    try:
        await write(0, 20)  # spooled
        await write(20, 40)  # past PVMON_SPOOL_MAX_BYTES: dropped
        monkeypatch.setattr("collectors.spool.os.fsync", disk_full)
        await write(60, 5)
        await write(65, 5)
        assert not list((tmp_path / "spool").glob("*.tmp"))  # nothing half-written left
        reports = [r.getMessage() for r in caplog.records if "readings dropped" in r.getMessage()]
        assert len(reports) == 1 and "40 (spool_full)" in reports[0]  # the first, at once
        later = time.monotonic() + 61
        monkeypatch.setattr("pvmon.logs.time.monotonic", lambda: later)
        await write(70, 5)
    finally:
        own_server.start()
    reports = [r.getMessage() for r in caplog.records if "readings dropped" in r.getMessage()]
    assert len(reports) == 2 and "15 (disk_error) since the last report, 55 in all" in reports[1]
    assert "No space left on device" in reports[1]
    metrics = generate_latest(collector.metrics.registry).decode()
    assert 'pvmon_readings_dropped_total{reason="spool_full"} 40.0' in metrics
    assert 'pvmon_readings_dropped_total{reason="disk_error"} 15.0' in metrics
    assert spool.depth_batches == 1 and dict(spool.dropped) == {"spool_full": 40, "disk_error": 15}
    await collector.close()
    # what was kept is stored once the database is back (a restart replays the spool)
    again = ReadingWriter(url=own_server.url(), spool=Spool(tmp_path / "spool"), retry_after_s=0)
    await again.flush()
    again.close()
    assert _stored(own_server)[:2] == (20, 20)


def test_rejected_readings_that_cannot_be_kept_are_counted(
    own_server: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    def disk_full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    writer = ReadingWriter(url=own_server.url(), spool=Spool(tmp_path / "s"))
    writer.add(_readings(999_999, 0, 3))  # unknown inverter: the database refuses it
    monkeypatch.setattr(Path, "write_bytes", disk_full)
    asyncio.run(writer.flush())
    assert writer.stats.rows_rejected == 0 and writer.spool.dropped == {"disk_error": 3}
    writer.close()
