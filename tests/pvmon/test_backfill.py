"""Simulated history: written set-based, marked simulated, and equal to the physics' truth."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from pvmon.backfill import backfill_readings, registry_sites
from pvmon.db.rollups import refresh_rollups
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.physics import daily_energy_wh

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
