"""Writing readings: the binary COPY path stores exactly what the text paths store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from pvmon.db.readings import (
    Reading,
    binary_reading_rows,
    write_readings,
    write_readings_binary,
)
from pvmon.errors import DatabaseError
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile

COLUMNS = ("time", "inverter_id", "ac_power_w", "energy_wh", "state", "quality")


@pytest.fixture
def inverter_id(conn: psycopg.Connection) -> int:
    store_fleet(
        conn,
        FleetFile.model_validate(
            generate_fleet(households=1, village_stations=1, joint_villages=2)
        ),
    )
    row = conn.execute("SELECT min(id) FROM inverters").fetchone()
    assert row is not None
    return int(row[0])


def test_binary_rows_store_what_write_readings_stores(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    times = [datetime(2025, 6, 1, 4, 0, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, tzinfo=UTC)]
    values = {
        "time": np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[us]"),
        "inverter_id": inverter_id,
        "ac_power_w": np.array([3921.7, 0.0]),
        "energy_wh": np.array([40_659_452, 7], dtype=np.int64),
        "state": np.array([4, 2]),
        "quality": 1,
    }
    chunk = binary_reading_rows(COLUMNS, values, 2)
    assert write_readings_binary(conn, columns=COLUMNS, chunks=[chunk]) == 2
    assert write_readings_binary(conn, columns=COLUMNS, chunks=[chunk]) == 0  # idempotent
    stored = conn.execute(
        "SELECT time, ac_power_w, energy_wh, state, quality FROM readings ORDER BY time DESC"
    ).fetchall()
    # the same values through the row-by-row path, one minute later, for comparison
    later = [
        Reading(
            time=t + timedelta(minutes=1),
            inverter_id=inverter_id,
            ac_power_w=p,
            energy_wh=e,
            state=s,
            quality=1,
        )
        for t, p, e, s in zip(times, (3921.7, 0.0), (40_659_452, 7), (4, 2), strict=True)
    ]
    assert write_readings(conn, later[:1]) == 1
    text = conn.execute(
        "SELECT ac_power_w, energy_wh, state, quality FROM readings WHERE time = %s",
        (later[0].time,),
    ).fetchone()
    assert [row[0] for row in stored] == times
    assert stored[0][1:] == text
    assert stored[1][1:] == (0.0, 7, 2, 1)


def test_binary_rows_refuse_columns_without_a_fixed_width_type() -> None:
    with pytest.raises(DatabaseError):
        binary_reading_rows(("time", "raw"), {"time": np.array([], "datetime64[us]")}, 0)


def _reading(inverter_id: int, minute: int, **values: object) -> Reading:
    return Reading(
        time=datetime(2025, 6, 1, 4, minute, tzinfo=UTC),
        inverter_id=inverter_id,
        energy_wh=1000 + minute,
        **values,  # type: ignore[arg-type]
    )


def test_a_batch_holding_stored_readings_stores_only_the_new_ones(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    """A fresh batch goes straight into ``readings``; one that holds a stored reading
    (or the same reading twice) stores each new reading once and leaves stored ones
    as they are, in the caller's transaction."""
    first = [_reading(inverter_id, m, ac_power_w=100.0) for m in (0, 1)]
    assert write_readings(conn, first) == 2
    again = [
        _reading(inverter_id, 1, ac_power_w=999.0),  # stored: left as it is
        _reading(inverter_id, 2, raw={"energy_wh": {"raw": 0, "reason": "counter dip"}}),
        _reading(inverter_id, 3, state=4, event_code=2**40),
        _reading(inverter_id, 3, state=4, event_code=2**40),  # twice in one batch
    ]
    with conn.transaction():
        assert write_readings(conn, again) == 2
        assert write_readings(conn, []) == 0
    stored = conn.execute(
        "SELECT extract(minute FROM time)::int, ac_power_w, raw, event_code FROM readings "
        "ORDER BY time"
    ).fetchall()
    assert stored == [
        (0, 100.0, None, None),
        (1, 100.0, None, None),
        (2, None, {"energy_wh": {"raw": 0, "reason": "counter dip"}}, None),
        (3, None, None, 2**40),
    ]


def test_a_refused_reading_writes_nothing_of_its_batch(
    conn: psycopg.Connection, inverter_id: int
) -> None:
    batch = [_reading(inverter_id, 0), _reading(inverter_id, 1)._replace(energy_wh=-1)]
    with pytest.raises(DatabaseError, match="writing readings failed"):
        write_readings(conn, batch)
    assert conn.execute("SELECT count(*) FROM readings").fetchone() == (0,)
