"""The SQL edge of availability: what the pure core needs, read in a few queries, and
operators' maintenance windows written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from pvmon.availability.core import InverterInput, Outage, Sample
from pvmon.errors import DatabaseError, NotFoundError, ValidationError

__all__ = [
    "MaintenanceWindow",
    "ScopeStation",
    "actual_wh",
    "add_maintenance",
    "inverter_inputs",
    "maintenance_windows",
    "scope_stations",
    "sun_between",
]

#: the inverter reports a grid disconnect (SunSpec Evt1 bit 4; the simulators' GRID_DISCONNECT)
_GRID_DISCONNECT = 1 << 4


@dataclass(frozen=True)
class ScopeStation:
    """A station in scope: site, rating [kWp], contractor, county, price [yuan/kWh]."""

    station_id: int
    code: str
    village: str
    county: str
    latitude: float
    longitude: float
    tilt_deg: float
    azimuth_deg: float
    capacity_kwp: Decimal
    om_contractor: str | None
    yield_kwh_per_kwp_year: Decimal | None
    price_yuan_per_kwh: Decimal | None


@dataclass(frozen=True)
class MaintenanceWindow:
    id: int
    station: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str


def scope_stations(
    conn: psycopg.Connection,
    *,
    county: str | None = None,
    station: str | None = None,
    village: str | None = None,
    priced_on: date,
) -> list[ScopeStation]:
    """Stations of a county (or a village, or one station), with the price in force on
    ``priced_on``:
    the station tariff, or the province's coal benchmark where that is higher (the
    revenue lines' benchmark part plus subsidy part)."""
    rows = conn.execute(
        """
        SELECT s.id, s.code, v.code, c.code, s.latitude, s.longitude, s.tilt_deg,
               s.azimuth_deg, s.capacity_kwp, s.om_contractor, y.kwh_per_kwp_year,
               greatest(t.yuan_per_kwh, b.yuan_per_kwh)
          FROM stations s
          JOIN villages v ON v.id = s.village_id
          JOIN townships tw ON tw.id = v.township_id
          JOIN counties c ON c.id = tw.county_id
          LEFT JOIN station_expected_yield y ON y.station_id = s.id
          LEFT JOIN LATERAL (SELECT yuan_per_kwh FROM station_tariffs
                              WHERE tariff_ref = s.tariff_ref AND effective_from <= %(d)s
                              ORDER BY effective_from DESC LIMIT 1) t ON true
          LEFT JOIN LATERAL (SELECT yuan_per_kwh FROM benchmark_prices
                              WHERE province = c.province AND effective_from <= %(d)s
                              ORDER BY effective_from DESC LIMIT 1) b ON t.yuan_per_kwh IS NOT NULL
         WHERE (%(county)s::text IS NULL OR c.code = %(county)s)
           AND (%(station)s::text IS NULL OR s.code = %(station)s)
           AND (%(village)s::text IS NULL OR v.code = %(village)s)
         ORDER BY s.code
        """,
        {"county": county, "station": station, "village": village, "d": priced_on},
    ).fetchall()
    return [ScopeStation(*r) for r in rows]


def inverter_inputs(
    conn: psycopg.Connection,
    stations: Sequence[ScopeStation],
    *,
    start: datetime,
    end: datetime,
    margin_s: int = 86_400,
) -> list[InverterInput]:
    """Every inverter of ``stations`` with its outages overlapping [start, end) and, for
    the villages that had any, the counter samples from ``margin_s`` [s] either side."""
    by_id = {s.station_id: s for s in stations}
    if not by_id:
        return []
    ids = list(by_id)
    inverters = conn.execute(
        "SELECT id, station_id, count(*) OVER (PARTITION BY station_id) FROM inverters"
        " WHERE station_id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()
    outages: dict[int, list[Outage]] = {}
    for inv_id, kind, opened, closed, event in conn.execute(
        """
        SELECT inverter_id, kind, opened_at, closed_at, (details ->> 'event_code')::bigint
          FROM alarms
         WHERE station_id = ANY(%s) AND inverter_id IS NOT NULL
           AND kind IN ('offline', 'no_output', 'fault_code')
           AND opened_at < %s AND (closed_at IS NULL OR closed_at > %s)
         ORDER BY opened_at
        """,
        (ids, end, start),
    ):
        grid = kind == "fault_code" and bool((event or 0) & _GRID_DISCONNECT)
        outages.setdefault(inv_id, []).append(Outage(kind, opened, closed, grid))
    stations_of = {inv_id: sid for inv_id, sid, _ in inverters}
    villages = {by_id[stations_of[i]].village for i in outages}
    wanted = [i for i, sid, _ in inverters if by_id[sid].village in villages]
    samples: dict[int, list[Sample]] = {}
    if wanted:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT inverter_id, time, energy_wh FROM readings"
                " WHERE inverter_id = ANY(%s) AND energy_wh IS NOT NULL"
                " AND time >= %s - make_interval(secs => %s)"
                " AND time < %s + make_interval(secs => %s) ORDER BY inverter_id, time",
                (wanted, start, margin_s, end, margin_s),
            )
            for inv_id, t, wh in cur:
                samples.setdefault(inv_id, []).append(Sample(t, wh))
    out = []
    for inv_id, sid, count in inverters:
        s = by_id[sid]
        out.append(
            InverterInput(
                inverter_id=inv_id,
                station=s.code,
                village=s.village,
                latitude=s.latitude,
                longitude=s.longitude,
                kwp=float(s.capacity_kwp) / count,
                samples=tuple(samples.get(inv_id, ())),
                outages=tuple(outages.get(inv_id, ())),
            )
        )
    return out


def actual_wh(
    conn: psycopg.Connection, stations: Sequence[ScopeStation], *, first: date, last: date
) -> dict[tuple[int, date], int]:
    """Energy per (inverter, local day) from the energy views [Wh] (gaps split by the sun)."""
    rows = conn.execute(
        "SELECT inverter_id, day, energy_wh FROM energy_daily"
        " WHERE station_id = ANY(%s) AND day BETWEEN %s AND %s AND energy_wh IS NOT NULL",
        ([s.station_id for s in stations], first, last),
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def sun_between(conn: psycopg.Connection, station: ScopeStation, a: datetime, b: datetime) -> float:
    """Clear-sky sun on the station's panel plane between ``a`` and ``b`` [sun-hours]."""
    row = conn.execute(
        "SELECT pvmon_sun_between(%s, %s, %s, %s, %s, %s)",
        (station.latitude, station.longitude, station.tilt_deg, station.azimuth_deg, a, b),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def maintenance_windows(
    conn: psycopg.Connection, station_ids: Sequence[int], *, start: datetime, end: datetime
) -> list[MaintenanceWindow]:
    """Windows of ``station_ids`` overlapping [start, end), oldest first."""
    rows = conn.execute(
        "SELECT m.id, s.code, m.starts_at, m.ends_at, m.reason, m.created_by"
        " FROM maintenance_windows m JOIN stations s ON s.id = m.station_id"
        " WHERE m.station_id = ANY(%s) AND m.starts_at < %s AND m.ends_at > %s"
        " ORDER BY m.starts_at, m.id",
        (list(station_ids), end, start),
    ).fetchall()
    return [MaintenanceWindow(*r) for r in rows]


def add_maintenance(
    conn: psycopg.Connection,
    *,
    station: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str,
) -> MaintenanceWindow:
    """Record a maintenance window at ``station``; its county id is checked by the caller
    (:func:`station_county`)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationError("from/to: give a time zone (e.g. 2025-06-03T08:00+08:00)")
    if ends_at <= starts_at:
        raise ValidationError("to: the window must end after it starts")
    reason = reason.strip()
    if not 1 <= len(reason) <= 500 or any(ord(ch) < 32 for ch in reason):
        raise ValidationError("reason: 1 to 500 characters, no control characters")
    try:
        row = conn.execute(
            "INSERT INTO maintenance_windows (station_id, starts_at, ends_at, reason, created_by)"
            " SELECT id, %s, %s, %s, %s FROM stations WHERE code = %s"
            " RETURNING id, starts_at, ends_at",
            (starts_at, ends_at, reason, created_by, station),
        ).fetchone()
    except psycopg.Error as exc:
        raise DatabaseError("the maintenance window could not be stored") from exc
    if row is None:
        raise NotFoundError(f"station {station!r}: not found")
    return MaintenanceWindow(row[0], station, row[1], row[2], reason, created_by)
