"""Final days of energy kept (migration 0024), on both flavours: energy_daily reads the
same with them as without, and late readings, deleted readings and registry changes
forget what they change; today's readings forget nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from pvmon.backfill import backfill_readings
from pvmon.db.readings import Reading, write_readings
from pvmon.db.rollups import refresh_rollups, store_energy
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile

_COLUMNS = (
    "inverter_id, station_id, day, energy_wh, estimated_wh, samples, energy_samples,"
    " first_time, last_time, gap_before_s, counter_reset, power_avg_w, power_max_w,"
    " temperature_max_c"
)
# energy_daily as computed from the rollup alone, nothing kept (the view's former body)
_COMPUTED = f"""
SELECT {_COLUMNS} FROM (
    SELECT i.id AS inverter_id, i.station_id, o.*
      FROM inverters i JOIN stations s ON s.id = i.station_id
     CROSS JOIN LATERAL pvmon_energy_days(i.id, i.rated_ac_w, s.latitude, s.longitude,
                                          s.tilt_deg, s.azimuth_deg, NULL) o
) x ORDER BY inverter_id, day
"""


def _view(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(f"SELECT {_COLUMNS} FROM energy_daily ORDER BY inverter_id, day").fetchall()


def _computed(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(_COMPUTED).fetchall()


def _kept(conn: psycopg.Connection) -> dict[int, tuple[Any, int]]:
    """Per inverter: the day kept through and how many days are kept."""
    rows = conn.execute(
        "SELECT st.inverter_id, st.through, count(e.day) FROM energy_days_state st"
        " LEFT JOIN energy_days e ON e.inverter_id = st.inverter_id"
        " GROUP BY st.inverter_id, st.through"
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture
def fleet(conn: psycopg.Connection) -> list[int]:
    """A household and a village station's inverters with 12 days of 5-minute readings up
    to now, one of them silent for two days in the middle; the rollups refreshed (which
    keeps the final days). Returns the inverter ids."""
    store_fleet(
        conn,
        FleetFile.model_validate(generate_fleet(households=2, village_stations=1, seed=11)),
    )
    end = datetime.now(UTC).replace(microsecond=0)
    backfill_readings(conn, days=12, end=end, seed=7)
    ids = [int(r[0]) for r in conn.execute("SELECT id FROM inverters ORDER BY id")]
    conn.execute(
        "DELETE FROM readings WHERE inverter_id = %s AND time >= %s AND time < %s",
        (ids[0], end - timedelta(days=7), end - timedelta(days=5)),
    )  # a logger down for two days: its rise on return is split over them
    refresh_rollups(conn)
    return ids


def test_kept_days_read_as_computed(conn: psycopg.Connection, fleet: list[int]) -> None:
    kept = _kept(conn)
    assert set(kept) == set(fleet)
    today = conn.execute("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date").fetchone()[0]  # type: ignore[index]
    assert all(through < today and days >= 10 for through, days in kept.values())
    assert _view(conn) == _computed(conn)
    split = conn.execute(
        "SELECT sum(estimated_wh) FROM energy_days WHERE inverter_id = %s", (fleet[0],)
    ).fetchone()[0]  # type: ignore[index]
    assert split > 0  # the gap's split is among the kept days
    assert store_energy(conn) == 0  # nothing more became final


def test_late_and_deleted_readings_forget_what_they_change(
    conn: psycopg.Connection, fleet: list[int]
) -> None:
    before = _kept(conn)
    first, last = conn.execute(
        "SELECT min(time), max(time) FROM readings WHERE inverter_id = %s", (fleet[1],)
    ).fetchone() or (None, None)
    assert first is not None and last is not None
    old = first + timedelta(days=3)
    # late: a reading that was missing, with a counter far above its neighbours (a reset
    # follows); and a day of another inverter's readings deleted
    write_readings(
        conn,
        [Reading(time=old + timedelta(seconds=30), inverter_id=fleet[1], ac_power_w=900.0,
                 energy_wh=999_999_999)],
    )  # fmt: skip
    conn.execute(
        "DELETE FROM readings WHERE inverter_id = %s AND time >= %s AND time < %s",
        (fleet[2], old, old + timedelta(days=1)),
    )
    refresh_rollups(conn, start=old - timedelta(days=1))
    assert _view(conn) == _computed(conn)
    after = _kept(conn)
    assert after[fleet[1]] == before[fleet[1]] and after[fleet[2]] == before[fleet[2]]  # kept again


def test_todays_readings_forget_nothing(
    conn: psycopg.Connection, fleet: list[int], flavour: str
) -> None:
    before = conn.execute("SELECT * FROM energy_days_state ORDER BY inverter_id").fetchall()
    last = conn.execute(
        "SELECT inverter_id, max(time), max(energy_wh) FROM readings GROUP BY 1 ORDER BY 1"
    ).fetchall()
    write_readings(
        conn,
        [Reading(time=t + timedelta(minutes=1), inverter_id=i, ac_power_w=500.0,
                 energy_wh=wh + 5) for i, t, wh in last],
    )  # fmt: skip
    if flavour == "timescaledb":
        store_energy(conn)  # as the collector does there (the aggregates refresh by policy)
    else:
        refresh_rollups(conn)  # as the collector does every minute
    assert conn.execute("SELECT * FROM energy_days_state ORDER BY inverter_id").fetchall() == before
    assert _view(conn) == _computed(conn)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE stations SET tilt_deg = tilt_deg + 20, azimuth_deg = 120"
        " WHERE id = (SELECT station_id FROM inverters WHERE id = %(id)s)",
        "UPDATE inverters SET rated_ac_w = 100 WHERE id = %(id)s",
    ],
)
def test_a_registry_change_forgets_the_inverter(
    conn: psycopg.Connection, fleet: list[int], change: str
) -> None:
    conn.execute(change, {"id": fleet[0]})
    assert fleet[0] not in _kept(conn)
    assert _view(conn) == _computed(conn)  # the split follows the new plane at once
    store_energy(conn)
    assert fleet[0] in _kept(conn) and _view(conn) == _computed(conn)


def test_a_forget_waits_for_a_keep_under_way(
    conn: psycopg.Connection, fleet: list[int], db_url: str
) -> None:
    """A registry change while days are being kept: the forget waits for the keep's
    transaction, then forgets what it kept (it once deleted only what was committed, and
    the keep then recorded days it had computed with the old panel plane)."""
    conn.execute("SELECT pvmon_forget_energy(%s)", (fleet,))  # everything to keep again
    with psycopg.connect(db_url) as keeper:  # a transaction: the keep is under way
        keeper.execute("SELECT pvmon_store_energy()")
        done = threading.Event()

        def change() -> None:
            with psycopg.connect(db_url, autocommit=True) as admin:
                admin.execute(
                    "UPDATE stations SET azimuth_deg = 100"
                    " WHERE id = (SELECT station_id FROM inverters WHERE id = %s)",
                    (fleet[0],),
                )
            done.set()

        worker = threading.Thread(target=change)
        worker.start()
        try:
            assert not done.wait(1.0)  # waits for the keep (a lock, not the clock)
        finally:
            keeper.commit()
            worker.join(60)
    assert done.is_set()
    assert fleet[0] not in _kept(conn) and fleet[1] in _kept(conn)
    assert _view(conn) == _computed(conn)
