"""Simulated history: written set-based, marked simulated, and equal to the physics' truth."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from pvmon.backfill import BATCH_INVERTERS, backfill_readings, registry_sites
from pvmon.db.rollups import refresh_rollups
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.device import plausible_counter_wh
from simulators.physics import daily_energy_wh, energy_between_wh

END = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def test_backfill_matches_ground_truth_and_is_idempotent(conn: psycopg.Connection) -> None:
    store_fleet(
        conn,
        FleetFile.model_validate(
            generate_fleet(households=4, village_stations=1, joint_villages=2)
        ),
    )
    written = backfill_readings(conn, days=3, end=END, seed=11, interval_min=5)
    assert written > 0
    assert backfill_readings(conn, days=3, end=END, seed=11, interval_min=5) == 0
    refresh_rollups(conn)
    flags = conn.execute(
        "SELECT bool_and(quality & %s <> 0) FROM readings", (int(Quality.SIMULATED),)
    ).fetchone()
    assert flags == (True,)
    sites = {inverter_id: (serial, site) for inverter_id, serial, site, _ in registry_sites(conn)}
    rows = conn.execute(
        "SELECT inverter_id, day, energy_wh FROM energy_daily "
        "WHERE day IN ('2025-06-08', '2025-06-09')"
    ).fetchall()
    assert len(rows) == 2 * len(sites)
    for inverter_id, day, energy in rows:
        serial, site = sites[inverter_id]
        truth = daily_energy_wh(site, day, seed=11, device_key=serial)
        assert energy == pytest.approx(truth, abs=2), (serial, day)
    # readings continue where a live simulator started at END would begin
    last = conn.execute("SELECT max(time) FROM readings").fetchone()
    assert last is not None and last[0] <= END
    assert date(2025, 6, 7) <= min(r[1] for r in rows)


def _store_small_fleet(conn: psycopg.Connection) -> None:
    store_fleet(
        conn,
        FleetFile.model_validate(
            generate_fleet(households=45, village_stations=1, joint_villages=2)
        ),
    )


def test_history_ends_where_a_live_inverter_started_at_end_begins(
    conn: psycopg.Connection,
) -> None:
    """The counter anchoring: each inverter's last history reading plus the simulated
    energy from it to ``end`` is the counter a live simulated inverter starts with."""
    _store_small_fleet(conn)
    backfill_readings(conn, days=2, end=END, seed=11, interval_min=5)
    last = conn.execute(
        "SELECT DISTINCT ON (inverter_id) inverter_id, time, energy_wh FROM readings "
        "ORDER BY inverter_id, time DESC"
    ).fetchall()
    sites = {inverter_id: (serial, site) for inverter_id, serial, site, _ in registry_sites(conn)}
    assert len(last) == len(sites)
    for inverter_id, at, energy_wh in last:
        serial, site = sites[inverter_id]
        rest = energy_between_wh(site, at, END, seed=11, device_key=serial)
        assert energy_wh + rest == pytest.approx(plausible_counter_wh(site, END), abs=1.0)


def test_progress_is_reported_per_batch_and_stop_ends_the_work(conn: psycopg.Connection) -> None:
    _store_small_fleet(conn)
    total = len(registry_sites(conn))
    assert total > 2 * BATCH_INVERTERS  # several batches
    reports: list[tuple[int, int]] = []
    backfill_readings(
        conn, days=1, end=END, seed=11, progress=lambda done, of: reports.append((done, of))
    )
    steps = range(BATCH_INVERTERS, total + BATCH_INVERTERS, BATCH_INVERTERS)
    assert reports == [(min(done, total), total) for done in steps]

    # as Ctrl-C in the demo: once stop is set no further batch is started; the batch
    # computed while the first one was being stored is still stored
    later = END + timedelta(days=10)
    stop = threading.Event()
    stopped: list[int] = []

    def progress(done: int, _of: int) -> None:
        stopped.append(done)
        stop.set()

    written = backfill_readings(conn, days=1, end=later, seed=11, progress=progress, stop=stop)
    assert stopped == [BATCH_INVERTERS, 2 * BATCH_INVERTERS]
    stored = conn.execute(
        "SELECT count(DISTINCT inverter_id), count(*) FROM readings WHERE time > %s",
        (END + timedelta(days=5),),
    ).fetchone()
    assert stored == (2 * BATCH_INVERTERS, written)
