"""The fleet summary's energy figures equal the straightforward sum of ``energy_daily``.

On both flavours, with readings that cross the start of the year and of the month, an
inverter offline over both (back while producing: the rise counts in the first day
back), a logger asleep from before dusk (the evening's rise counts in the day before;
today's in today, from tomorrow's first reading), a counter restart, an implausible
jump, a day whose counter is unreadable (NULL), and a second county.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from pvmon.api import queries
from pvmon.db.readings import Reading, write_readings
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile

CST = ZoneInfo("Asia/Shanghai")
STEP = timedelta(hours=2)

# the query fleet_summary used before (every day of every inverter through the view)
_REFERENCE = """
WITH sc AS (
    SELECT s.id AS station_id FROM stations s
      JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
      JOIN counties c ON c.id = tw.county_id
     WHERE %(county)s::text IS NULL OR c.code = %(county)s
), d AS (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS today)
SELECT coalesce(sum(e.energy_wh) FILTER (WHERE e.day = d.today), 0)::bigint,
       coalesce(sum(e.energy_wh) FILTER (
           WHERE e.day >= date_trunc('month', d.today)::date), 0)::bigint,
       coalesce(sum(e.energy_wh), 0)::bigint
  FROM d CROSS JOIN sc
  JOIN energy_daily e ON e.station_id = sc.station_id
 WHERE e.day >= date_trunc('year', d.today)::date AND e.day <= d.today
"""


def _readings(inverters: list[tuple[int, int]], now: datetime) -> list[Reading]:
    """Two-hourly counter readings from a week before the local year to a day after now."""
    local_now = now.astimezone(CST)
    year_start = local_now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (year_start - timedelta(days=7)).astimezone(UTC)
    out: list[Reading] = []
    for k, (inverter_id, rated_w) in enumerate(inverters):
        wh, t = 1_000_000 * (k + 1), start
        while t < now + timedelta(days=1):
            local = t.astimezone(CST)
            day = 6 <= local.hour <= 18
            wh += int(rated_w * 0.3 * 2) if day else 0
            energy: int | None = wh
            quality = 0
            offline = any(  # back at 10:00, producing: the rise counts on that day
                edge - timedelta(days=2) <= local < edge + timedelta(days=3, hours=10)
                for edge in (year_start, month_start)
            )
            asleep = local.hour >= 16  # a logger asleep from before dusk: the rise until
            # dusk is read at 00:00, no production yet, and counts on the day before
            # a logger gone for good before dawn yesterday: nothing known of yesterday
            gone = k == 4 and local >= (local_now - timedelta(days=1)).replace(
                hour=3, minute=0, second=0, microsecond=0
            )
            if (k % 4 == 1 and offline) or (k % 4 == 3 and asleep) or gone:
                t += STEP  # no reply; the counter kept running
                continue
            if k % 4 == 2:
                if now - timedelta(hours=30) <= t < now - timedelta(hours=28):
                    wh, quality = 500, 4  # counter restarted (inverter replaced)
                elif now - timedelta(days=3) <= t < now - timedelta(days=3) + STEP:
                    wh += 10**9  # garbage jump: beyond what the rating allows
                elif year_start + timedelta(days=1) <= local < year_start + timedelta(days=2):
                    energy = None  # counter unreadable all day
            power = rated_w * 0.3 if day else 0.0  # no production at dawn: overnight rises
            out.append(Reading(time=t, inverter_id=inverter_id, ac_power_w=power,
                               energy_wh=energy, quality=quality))  # fmt: skip
            t += STEP
    return out


def test_fleet_energy_equals_the_sum_of_energy_daily(conn: psycopg.Connection) -> None:
    for code, port, seed in (("LY", 15020, 1), ("KZ", 25020, 2)):
        fleet = generate_fleet(households=3, village_stations=1, joint_villages=0,
                               county_code=code, base_port=port, seed=seed)  # fmt: skip
        for station in fleet["stations"]:  # station codes and serials are not per county
            station["code"] = f"{code}-{station['code']}"
            for inverter in station["inverters"]:
                inverter["serial"] = f"{code}-{inverter['serial']}"
        for household in fleet["households"]:
            if household.get("served_by_station"):
                household["served_by_station"] = f"{code}-{household['served_by_station']}"
        store_fleet(conn, FleetFile.model_validate(fleet))
    inverters = [(int(i), int(w)) for i, w in conn.execute(
        "SELECT id, rated_ac_w FROM inverters ORDER BY id")]  # fmt: skip
    assert len(inverters) >= 8
    now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    write_readings(conn, _readings(inverters, now))
    refresh_rollups(conn)
    resets = conn.execute(
        "SELECT count(*) FILTER (WHERE counter_reset), count(*) FROM energy_daily"
    ).fetchone()
    assert resets is not None and resets[0] > 0 and resets[1] > 0
    unknown = conn.execute(
        "SELECT count(*) FROM energy_daily WHERE inverter_id = %s AND energy_wh IS NULL",
        (inverters[4][0],),
    ).fetchone()
    assert unknown == (1,)
    for county in (None, "LY", "KZ", "ZZ"):
        got = queries.period_energy(conn, county=county)
        want = conn.execute(_REFERENCE, {"county": county}).fetchone()
        assert want is not None
        assert (got["today_wh"], got["month_wh"], got["year_wh"]) == tuple(want), county
        if county != "ZZ":
            assert got["year_wh"] > 0, (county, got)
        else:
            assert got["year_wh"] == 0


@pytest.mark.parametrize("county", [None, "LY"])
def test_fleet_energy_on_an_empty_fleet(conn: psycopg.Connection, county: str | None) -> None:
    energy = queries.period_energy(conn, county=county)
    assert energy.pop("as_of") is not None
    assert energy == {k: 0 for k in ("today_wh", "month_wh", "year_wh")} | {
        k: 0.0 for k in ("today_kwh", "month_kwh", "year_kwh")
    }
