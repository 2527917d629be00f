"""SQL of the operators' endpoints (thin edge): plain queries, rows as dicts.

Places are filtered by code; ``county`` is the effective county filter (the key's
county limit already applied by the caller). Local days are China Standard Time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

__all__ = [
    "BUCKETS",
    "LOCAL_TZ",
    "RAW_BUCKETS",
    "alarm",
    "alarms",
    "expected_yield",
    "fleet_summary",
    "inverter_detail",
    "inverters",
    "period_energy",
    "places",
    "series",
    "station_county",
    "station_energy",
    "stations",
]

LOCAL_TZ = "Asia/Shanghai"
#: bucket name → length; months and weeks are calendar (local) buckets
BUCKETS: dict[str, timedelta] = {
    "5min": timedelta(minutes=5),
    "10min": timedelta(minutes=10),
    "15min": timedelta(minutes=15),
    "30min": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "1mo": timedelta(days=31),
}
RAW_BUCKETS = frozenset({"5min", "10min", "15min", "30min"})

_STATE_RANK = """CASE h.state WHEN 'online' THEN 0 WHEN 'sleeping' THEN 1 WHEN 'offline' THEN 3
                 WHEN 'fault' THEN 4 ELSE 2 END"""
_RANK_STATE = """CASE st.rank WHEN 0 THEN 'online' WHEN 1 THEN 'sleeping' WHEN 3 THEN 'offline'
                 WHEN 4 THEN 'fault' ELSE 'unknown' END"""

_STATIONS = f"""
WITH st AS (
    SELECT i.station_id, max({_STATE_RANK}) AS rank, count(*) AS inverters
      FROM inverters i LEFT JOIN inverter_health h ON h.inverter_id = i.id
     GROUP BY i.station_id
), base AS (
    SELECT s.id, s.code, CASE WHEN %(reveal)s THEN s.name ELSE sl.label END AS name, s.kind,
           s.capacity_kwp::float8 AS capacity_kwp,
           c.code AS county, tw.code AS township, v.code AS village, s.latitude, s.longitude,
           coalesce(st.inverters, 0) AS inverters, {_RANK_STATE} AS state,
           s.tilt_deg, s.azimuth_deg, s.commissioned_on, s.tariff_ref, c.id AS county_id
      FROM stations s
      JOIN station_labels sl ON sl.station_id = s.id
      JOIN villages v ON v.id = s.village_id
      JOIN townships tw ON tw.id = v.township_id
      JOIN counties c ON c.id = tw.county_id
      LEFT JOIN st ON st.station_id = s.id
)
SELECT *, count(*) OVER () AS total FROM base
 WHERE (%(county)s::text IS NULL OR county = %(county)s)
   AND (%(township)s::text IS NULL OR township = %(township)s)
   AND (%(village)s::text IS NULL OR village = %(village)s)
   AND (%(kind)s::text IS NULL OR kind = %(kind)s)
   AND (%(state)s::text IS NULL OR state = %(state)s)
   AND (%(code)s::text IS NULL OR code = %(code)s)
 ORDER BY code
 LIMIT %(limit)s OFFSET %(offset)s
"""


def _rows(conn: psycopg.Connection, query: str, params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def _rows_planned_once(conn: psycopg.Connection, query: str, params: Any) -> list[dict[str, Any]]:
    """:func:`_rows` of a statement prepared on the connection with one generic plan kept
    for it: the energy views inline their per-inverter computation, and planning a
    station's year took 7 ms where running it takes 3 ms (its parameters never change the
    best plan: a few inverters' index scans)."""
    with conn.transaction():
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params, prepare=True)
            return list(cur.fetchall())


def _page(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    total = int(rows[0].pop("total")) if rows else 0
    for r in rows[1:]:
        r.pop("total", None)
    return rows, total


def stations(
    conn: psycopg.Connection,
    *,
    county: str | None = None,
    township: str | None = None,
    village: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    code: str | None = None,
    limit: int = 100,
    offset: int = 0,
    reveal: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Stations matching the filters (a page of them) and how many match in all; names
    as the public label (``station_labels``) unless ``reveal``."""
    params = {
        "reveal": reveal,
        "county": county,
        "township": township,
        "village": village,
        "kind": kind,
        "state": state,
        "code": code,
        "limit": limit,
        "offset": offset,
    }
    rows = _rows(conn, _STATIONS, params)
    if not rows and offset > 0:
        count = _rows(conn, _STATIONS, {**params, "limit": 1, "offset": 0})
        return [], int(count[0]["total"]) if count else 0
    return _page(rows)


def station_county(
    conn: psycopg.Connection, *, station: str | None = None, inverter: str | None = None
) -> tuple[int, int] | None:
    """(station id, county id) of a station code or an inverter serial; None if unknown."""
    row = conn.execute(
        """SELECT s.id, tw.county_id FROM stations s
             JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
            WHERE (%(s)s::text IS NOT NULL AND s.code = %(s)s)
               OR (%(i)s::text IS NOT NULL
                   AND s.id = (SELECT station_id FROM inverters WHERE serial = %(i)s))""",
        {"s": station, "i": inverter},
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


_INVERTERS = """
SELECT i.id, i.serial, s.code AS station, i.vendor, i.model, i.rated_ac_w, i.phases,
       i.register_map, i.host, i.port, i.unit_id, i.framing, i.poll_interval_s,
       coalesce(h.state, 'unknown') AS state, h.since, h.last_good_at,
       coalesce(h.consecutive_failures, 0) AS consecutive_failures, h.last_error,
       ARRAY(SELECT el.setting FROM endpoint_learned el
              WHERE el.host = i.host AND el.port = i.port ORDER BY el.setting) AS learned,
       count(*) OVER () AS total
  FROM inverters i
  JOIN stations s ON s.id = i.station_id
  JOIN villages v ON v.id = s.village_id
  JOIN townships tw ON tw.id = v.township_id
  JOIN counties c ON c.id = tw.county_id
  LEFT JOIN inverter_health h ON h.inverter_id = i.id
 WHERE (%(county)s::text IS NULL OR c.code = %(county)s)
   AND (%(station)s::text IS NULL OR s.code = %(station)s)
   AND (%(state)s::text IS NULL OR coalesce(h.state, 'unknown') = %(state)s)
   AND (%(serial)s::text IS NULL OR i.serial = %(serial)s)
 ORDER BY i.serial
 LIMIT %(limit)s OFFSET %(offset)s
"""

_LATEST = """
SELECT r.inverter_id, r.time, r.ac_power_w, r.energy_wh, r.temperature_c, r.state
  FROM unnest(%s::bigint[]) AS x(id)
 CROSS JOIN LATERAL (SELECT * FROM readings WHERE inverter_id = x.id
                      ORDER BY time DESC LIMIT 1) r
"""


def inverters(
    conn: psycopg.Connection,
    *,
    county: str | None = None,
    station: str | None = None,
    state: str | None = None,
    serial: str | None = None,
    limit: int = 100,
    offset: int = 0,
    latest: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Inverters with health (and, if asked, the latest reading under ``latest``)."""
    params = {
        "county": county,
        "station": station,
        "state": state,
        "serial": serial,
        "limit": limit,
        "offset": offset,
    }
    rows = _rows(conn, _INVERTERS, params)
    if not rows and offset > 0:
        count = _rows(conn, _INVERTERS, {**params, "limit": 1, "offset": 0})
        return [], int(count[0]["total"]) if count else 0
    rows, total = _page(rows)
    if latest:
        by_id = {r["inverter_id"]: r for r in _rows(conn, _LATEST, ([r["id"] for r in rows],))}
        for r in rows:
            r["latest"] = by_id.get(r["id"])
    return rows, total


def inverter_detail(conn: psycopg.Connection, serial: str) -> dict[str, Any] | None:
    """One inverter with health, latest reading and what the collector learned about its
    endpoint, or None."""
    rows, _total = inverters(conn, serial=serial, limit=1, latest=True)
    if not rows:
        return None
    row = rows[0]
    row["endpoint_learned"] = _rows(
        conn,
        "SELECT setting, value, why, learned_at FROM endpoint_learned "
        "WHERE host = %s AND port = %s ORDER BY setting",
        (row["host"], row["port"]),
    )
    return row


# Energy [Wh] of the local day, month and year so far: the sum of ``energy_daily`` over
# those days. The view reads each inverter's final days where they are kept (migration
# 0024) and computes only the days after them.
_PERIOD_ENERGY = """
WITH d AS (SELECT (now() AT TIME ZONE %(tz)s)::date AS today)
SELECT coalesce(sum(e.energy_wh) FILTER (WHERE e.day = d.today), 0)::bigint,
       coalesce(sum(e.energy_wh) FILTER (
           WHERE e.day >= date_trunc('month', d.today)::date), 0)::bigint,
       coalesce(sum(e.energy_wh), 0)::bigint
  FROM d JOIN energy_daily e
    ON e.day >= date_trunc('year', d.today)::date AND e.day <= d.today
 {where}
"""


def fleet_summary(conn: psycopg.Connection, *, county: str | None) -> dict[str, Any]:
    """Counts by state, current power [W] and online ratio, now (the energy of the day,
    month and year is :func:`period_energy`)."""
    params = {"county": county, "tz": LOCAL_TZ}
    scope = """
        WITH sc AS (
            SELECT s.id AS station_id, s.capacity_kwp FROM stations s
              JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
              JOIN counties c ON c.id = tw.county_id
             WHERE %(county)s::text IS NULL OR c.code = %(county)s
        ), inv AS (
            SELECT i.id, i.station_id, coalesce(h.state, 'unknown') AS state
              FROM inverters i JOIN sc USING (station_id)
              LEFT JOIN inverter_health h ON h.inverter_id = i.id
        )"""
    # one statement: the scope is looked up once (three statements took twice as long)
    head = conn.execute(
        scope
        + f""", st AS (
            SELECT max({_STATE_RANK}) AS rank FROM inv h GROUP BY h.station_id)
        SELECT now(), (SELECT count(*) FROM sc), (SELECT count(*) FROM inv),
               (SELECT coalesce(sum(capacity_kwp), 0)::float8 FROM sc),
               (SELECT coalesce(avg(CASE WHEN state IN ('online', 'sleeping') THEN 1.0
                                    ELSE 0.0 END), 0)::float8 FROM inv),
               (SELECT coalesce(sum(r.ac_power_w), 0)::float8 FROM inv CROSS JOIN LATERAL (
                    SELECT x.ac_power_w FROM readings x
                     WHERE x.inverter_id = inv.id AND x.time <= now()
                       AND x.time > now() - INTERVAL '15 minutes'
                     ORDER BY x.time DESC LIMIT 1) r),
               (SELECT coalesce(jsonb_object_agg(a.state, a.n), '{{}}')
                  FROM (SELECT state, count(*) AS n FROM inv GROUP BY 1) a),
               (SELECT coalesce(jsonb_object_agg(b.state, b.n), '{{}}')
                  FROM (SELECT {_RANK_STATE} AS state, count(*) AS n FROM st GROUP BY 1) b)""",
        params,
    ).fetchone()
    assert head is not None
    by_inv: dict[Any, Any] = head[6]
    by_station: dict[Any, Any] = head[7]
    return {
        "as_of": head[0],
        "county": county,
        "stations": int(head[1]),
        "inverters": int(head[2]),
        "capacity_kwp": float(head[3]),
        "online_ratio": float(head[4]),
        "power_w": float(head[5]),
        "inverters_by_state": {str(k): int(v) for k, v in by_inv.items()},
        "stations_by_state": {str(k): int(v) for k, v in by_station.items()},
    }


def period_energy(conn: psycopg.Connection, *, county: str | None) -> dict[str, Any]:
    """Energy of the local day, month and year to now [Wh] (from the daily rollup), of
    the fleet or one county, and when it was computed (``as_of``)."""
    params: dict[str, Any] = {"tz": LOCAL_TZ}
    where = ""
    if county is not None:  # the county's inverters, as ids (carried into the view)
        params["inverters"] = _inverter_ids(conn, _IN_COUNTY, {"county": county})
        where = "WHERE e.inverter_id = ANY(%(inverters)s)"
    energy = conn.execute(
        "SELECT now(), e.* FROM (" + _PERIOD_ENERGY.format(where=where) + ") e", params
    ).fetchone()
    assert energy is not None
    as_of, today_wh, month_wh, year_wh = energy
    return {
        "as_of": as_of,
        "today_wh": int(today_wh),
        "month_wh": int(month_wh),
        "year_wh": int(year_wh),
        "today_kwh": today_wh / 1000,
        "month_kwh": month_wh / 1000,
        "year_kwh": year_wh / 1000,
    }


def station_energy(conn: psycopg.Connection, station_id: int) -> dict[str, Any]:
    """Today's and this year's energy of a station [Wh], latest reading time, power now."""
    row = conn.execute(
        """
        WITH d AS (SELECT (now() AT TIME ZONE %(tz)s)::date AS today)
        SELECT coalesce(sum(e.energy_wh) FILTER (WHERE e.day = d.today), 0)::bigint,
               coalesce(sum(e.energy_wh), 0)::bigint, date_trunc('year', d.today)::date,
               d.today
          FROM d LEFT JOIN energy_daily e
            ON e.station_id = %(s)s AND e.day >= date_trunc('year', d.today)::date
           AND e.day <= d.today
         GROUP BY d.today""",
        {"s": station_id, "tz": LOCAL_TZ},
    ).fetchone()
    assert row is not None
    return {"today_wh": int(row[0]), "year_wh": int(row[1]), "year_start": row[2], "today": row[3]}


def expected_yield(conn: psycopg.Connection, station_id: int) -> float | None:
    """Stored expected specific yield of a station [kWh/kWp/year], if computed."""
    row = conn.execute(
        "SELECT kwh_per_kwp_year::float8 FROM station_expected_yield WHERE station_id = %s",
        (station_id,),
    ).fetchone()
    return float(row[0]) if row else None


_IN_COUNTY = """i.station_id IN (
    SELECT s.id FROM stations s JOIN villages v ON v.id = s.village_id
      JOIN townships tw ON tw.id = v.township_id JOIN counties c ON c.id = tw.county_id
     WHERE c.code = %(county)s)"""


def _inverter_ids(conn: psycopg.Connection, where: str, params: dict[str, Any]) -> list[int]:
    """The inverters ``where`` picks, as ids: the energy views are asked for these ids
    themselves, which the planner carries into the views (a join on the inverters lets
    it compute every inverter's days first: seconds on a year of 2,000 inverters)."""
    return [int(r[0]) for r in conn.execute(f"SELECT i.id FROM inverters i WHERE {where}", params)]


def series(
    conn: psycopg.Connection,
    *,
    station_id: int | None = None,
    inverter_id: int | None = None,
    bucket: str,
    start: datetime,
    end: datetime,
) -> tuple[str, list[dict[str, Any]]]:
    """Energy [Wh], the part of it estimated across gaps [Wh] and mean sampled power [W]
    per bucket in ``[start, end)``; energy is None for a day nothing is known of.

    Sub-hour buckets come from raw readings (``date_bin``; energy is the counter's rise
    since the previous bucket's last reading, a fall counts from the bucket's first);
    hourly from ``energy_hourly``; day, week and month from ``energy_daily`` (local days).
    Returns the source relation and the points.
    """
    where = "i.station_id = %(sid)s" if station_id is not None else "i.id = %(iid)s"
    params: dict[str, Any] = {
        "sid": station_id,
        "iid": inverter_id,
        "start": start,
        "end": end,
        "tz": LOCAL_TZ,
    }
    if bucket in RAW_BUCKETS:
        params["step"] = BUCKETS[bucket]
        query = f"""
        WITH b AS (
            SELECT r.inverter_id,
                   date_bin(%(step)s, r.time, TIMESTAMPTZ '2000-01-01 00:00+00') AS t,
                   avg(r.ac_power_w) AS w,
                   (array_agg(r.energy_wh ORDER BY r.time)
                       FILTER (WHERE r.energy_wh IS NOT NULL))[1] AS first_wh,
                   (array_agg(r.energy_wh ORDER BY r.time DESC)
                       FILTER (WHERE r.energy_wh IS NOT NULL))[1] AS last_wh
              FROM readings r JOIN inverters i ON i.id = r.inverter_id
             WHERE {where} AND r.time >= %(start)s::timestamptz - %(step)s
               AND r.time < %(end)s
             GROUP BY 1, 2
        ), e AS (
            SELECT t, w, CASE WHEN p IS NULL OR last_wh < p THEN last_wh - first_wh
                              ELSE last_wh - p END AS wh
              FROM (SELECT b.*, lag(last_wh) OVER (PARTITION BY inverter_id ORDER BY t) AS p
                      FROM b) x
        )
        SELECT t AS time, coalesce(sum(greatest(wh, 0)), 0)::bigint AS energy_wh,
               0::bigint AS estimated_wh, sum(w)::float8 AS power_avg_w
          FROM e WHERE t >= %(start)s GROUP BY t ORDER BY t"""
        source = "readings"
    elif bucket == "1h":
        params["inverters"] = _inverter_ids(conn, where, params)
        query = """
        SELECT e.bucket_start AS time, sum(e.energy_wh)::bigint AS energy_wh,
               coalesce(sum(e.estimated_wh), 0)::bigint AS estimated_wh,
               sum(e.power_avg_w)::float8 AS power_avg_w
          FROM energy_hourly e
         WHERE e.inverter_id = ANY(%(inverters)s)
           AND e.bucket_start >= %(start)s AND e.bucket_start < %(end)s
         GROUP BY 1 ORDER BY 1"""
        source = "energy_hourly"
    else:
        unit = {"1d": "day", "1w": "week", "1mo": "month"}[bucket]
        params["inverters"] = _inverter_ids(conn, where, params)
        query = f"""
        WITH d AS (
            SELECT e.day, sum(e.energy_wh) AS wh, sum(e.estimated_wh) AS est,
                   sum(e.power_avg_w) AS w
              FROM energy_daily e
             WHERE e.inverter_id = ANY(%(inverters)s)
               AND e.day >= (%(start)s::timestamptz AT TIME ZONE %(tz)s)::date
               AND e.day < ((%(end)s::timestamptz - INTERVAL '1 microsecond')
                            AT TIME ZONE %(tz)s)::date + 1
             GROUP BY e.day
        )
        SELECT (date_trunc('{unit}', d.day)::timestamp AT TIME ZONE %(tz)s) AS time,
               sum(d.wh)::bigint AS energy_wh, coalesce(sum(d.est), 0)::bigint AS estimated_wh,
               avg(d.w)::float8 AS power_avg_w
          FROM d GROUP BY 1 ORDER BY 1"""
        source = "energy_daily"
    rows = (_rows if bucket in RAW_BUCKETS else _rows_planned_once)(conn, query, params)
    for r in rows:
        r["energy_kwh"] = None if r["energy_wh"] is None else r["energy_wh"] / 1000
    return source, rows


_ALARMS = """
SELECT a.id, s.code AS station, i.serial AS inverter, a.kind, a.opened_at, a.closed_at,
       a.reason, a.close_reason, a.acknowledged_at, a.acknowledged_by, a.ack_comment,
       tw.county_id, count(*) OVER () AS total
  FROM alarms a
  JOIN stations s ON s.id = a.station_id
  JOIN villages v ON v.id = s.village_id
  JOIN townships tw ON tw.id = v.township_id
  JOIN counties c ON c.id = tw.county_id
  LEFT JOIN inverters i ON i.id = a.inverter_id
 WHERE (%(county)s::text IS NULL OR c.code = %(county)s)
   AND (%(station)s::text IS NULL OR s.code = %(station)s)
   AND (%(inverter)s::text IS NULL OR i.serial = %(inverter)s)
   AND (%(kind)s::text IS NULL OR a.kind = %(kind)s)
   AND (%(status)s::text IS NULL OR (%(status)s = 'open') = (a.closed_at IS NULL))
   AND (%(acknowledged)s::boolean IS NULL
        OR %(acknowledged)s = (a.acknowledged_at IS NOT NULL))
   AND (%(since)s::timestamptz IS NULL OR a.opened_at >= %(since)s)
   AND (%(until)s::timestamptz IS NULL OR a.opened_at < %(until)s)
   AND (%(id)s::bigint IS NULL OR a.id = %(id)s)
 ORDER BY a.opened_at DESC, a.id DESC
 LIMIT %(limit)s OFFSET %(offset)s
"""


def alarms(conn: psycopg.Connection, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """Alarms matching ``filters`` (county, station, inverter, kind, status, acknowledged,
    since, until, limit, offset), newest first."""
    params = {
        "county": None,
        "station": None,
        "inverter": None,
        "kind": None,
        "status": None,
        "acknowledged": None,
        "since": None,
        "until": None,
        "id": None,
        "limit": 100,
        "offset": 0,
        **filters,
    }
    rows = _rows(conn, _ALARMS, params)
    if not rows and params["offset"] > 0:
        count = _rows(conn, _ALARMS, {**params, "limit": 1, "offset": 0})
        return [], int(count[0]["total"]) if count else 0
    return _page(rows)


def alarm(conn: psycopg.Connection, alarm_id: int) -> dict[str, Any] | None:
    """One alarm with its county id, or None."""
    rows, _ = alarms(conn, id=alarm_id, limit=1)
    return rows[0] if rows else None


def places(
    conn: psycopg.Connection, *, county: str | None, level: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Counties, townships and villages (code order within each level)."""
    query = """
    WITH p AS (
        SELECT 'county' AS level, 0 AS o, c.code, c.name, NULL::text AS parent, c.code AS county
          FROM counties c
        UNION ALL
        SELECT 'township', 1, t.code, t.name, c.code, c.code
          FROM townships t JOIN counties c ON c.id = t.county_id
        UNION ALL
        SELECT 'village', 2, v.code, v.name, t.code, c.code
          FROM villages v JOIN townships t ON t.id = v.township_id
          JOIN counties c ON c.id = t.county_id
    )
    SELECT level, code, name, parent, count(*) OVER () AS total FROM p
     WHERE (%(county)s::text IS NULL OR county = %(county)s)
       AND (%(level)s::text IS NULL OR level = %(level)s)
     ORDER BY o, code LIMIT %(limit)s OFFSET %(offset)s"""
    params = {"county": county, "level": level, "limit": limit, "offset": offset}
    rows = _rows(conn, query, params)
    if not rows and offset > 0:
        count = _rows(conn, query, {**params, "limit": 1, "offset": 0})
        return [], int(count[0]["total"]) if count else 0
    return _page(rows)
