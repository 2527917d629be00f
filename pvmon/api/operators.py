"""Operators' endpoints: fleet summary, stations, inverters, time series, alarms, registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Body, Depends, Path, Query, Request

from collectors.alarms import acknowledge
from pvmon.api import queries
from pvmon.api.auth import ForbiddenError, Principal, list_keys
from pvmon.api.deps import Conn, Paging, access, county_filter, heavy, paging
from pvmon.api.models import (
    Alarm,
    AlarmAck,
    ExpectedVsActual,
    FleetSummary,
    ImportResult,
    InverterDetail,
    InverterPatch,
    InverterRow,
    KeyRow,
    Page,
    Place,
    SeriesOut,
    StationDetail,
    StationPatch,
    StationRow,
)
from pvmon.db.connect import open_database
from pvmon.errors import NotFoundError, ValidationError
from pvmon.registry import store_fleet
from pvmon.registry.models import FleetFile

__all__ = ["MAX_POINTS", "router"]

router = APIRouter(prefix="/v1")
MAX_POINTS = 20_000

Reader = Annotated[Principal, Depends(access("read"))]
Operator = Annotated[Principal, Depends(access("operate"))]
Admin = Annotated[Principal, Depends(access("admin"))]
Pager = Annotated[Paging, Depends(paging)]
CodeQ = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CodeP = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
IdP = Annotated[int, Path(ge=1, le=2**53)]
State = Literal["online", "sleeping", "offline", "fault", "unknown"]
Bucket = Literal["5min", "10min", "15min", "30min", "1h", "1d", "1w", "1mo"]


def _station_access(conn: psycopg.Connection, who: Principal, code: str) -> int:
    found = queries.station_county(conn, station=code)
    if found is None:
        raise NotFoundError(f"station {code!r}: not found")
    who.require_county(found[1], f"station {code!r}")
    return found[0]


def _inverter_access(conn: psycopg.Connection, who: Principal, serial: str) -> None:
    found = queries.station_county(conn, inverter=serial)
    if found is None:
        raise NotFoundError(f"inverter {serial!r}: not found")
    who.require_county(found[1], f"inverter {serial!r}")


AlarmKind = Literal["offline", "no_output", "fault_code", "underperforming", "misconfigured"]


@router.get(
    "/fleet/summary",
    tags=["operators"],
    response_model=FleetSummary,
    summary="Fleet summary: states, power now, energy today/month/year",
    dependencies=[Depends(heavy)],
)
def fleet_summary(
    who: Reader, conn: Conn, request: Request, county: CodeQ = None
) -> dict[str, Any]:
    """Stations and inverters by state, the current total power, energy of the local day,
    month and year, and the online ratio, for the whole fleet or one county. States and
    power are at most ``PVMON_API_SUMMARY_MAX_AGE_S`` old (``as_of``), the energy figures
    at most ``PVMON_API_ENERGY_MAX_AGE_S`` (``energy.as_of``), renewed in the background."""
    place = county_filter(who, county)
    state = request.app.state

    def own(read: Callable[[psycopg.Connection], dict[str, Any]]) -> Callable[[], Any]:
        def renew() -> dict[str, Any]:  # its own connection: the pool's serve requests
            with open_database(state.pool.conninfo, autocommit=True) as mine:
                mine.execute("SET statement_timeout = 120000")
                return read(mine)

        return renew

    def energy(c: psycopg.Connection) -> dict[str, Any]:
        return queries.period_energy(c, county=place)

    def states(c: psycopg.Connection) -> dict[str, Any]:
        return queries.fleet_summary(c, county=place)

    day = datetime.now(ZoneInfo(queries.LOCAL_TZ)).date()
    kept_energy = state.energy.get((place, day), lambda: energy(conn), renew=own(energy))
    kept_states = state.summary.get(place, lambda: states(conn), renew=own(states))
    return {**kept_states, "energy": kept_energy}


@router.get(
    "/stations", tags=["operators"], response_model=Page[StationRow], summary="Stations, filtered"
)
def list_stations(
    who: Reader,
    conn: Conn,
    pages: Pager,
    county: CodeQ = None,
    township: CodeQ = None,
    village: CodeQ = None,
    kind: Literal["household", "village", "joint"] | None = None,
    state: State | None = None,
) -> dict[str, Any]:
    """Stations by code, with the worst state of their inverters."""
    rows, total = queries.stations(
        conn,
        county=county_filter(who, county),
        township=township,
        village=village,
        kind=kind,
        state=state,
        limit=pages.limit,
        offset=pages.offset,
        reveal=who.reveals_personal_data,
    )
    return pages.page(rows, total)


@router.get(
    "/stations/{code}",
    tags=["operators"],
    response_model=StationDetail,
    summary="One station: inverters, latest readings, today's energy, expected",
)
def get_station(who: Reader, conn: Conn, code: CodeP) -> dict[str, Any]:
    """A station with its inverters (health and latest reading), today's energy and its
    year-to-date energy beside the expected yield (typical year spread evenly)."""
    station_id = _station_access(conn, who, code)
    rows, _ = queries.stations(conn, code=code, limit=1, reveal=who.reveals_personal_data)
    station = rows[0]
    invs, _ = queries.inverters(conn, station=code, limit=1000, latest=True)
    energy = queries.station_energy(conn, station_id)
    specific = queries.expected_yield(conn, station_id)
    if specific is None:
        from dividends.schedule import expected_specific_yield

        specific = expected_specific_yield(
            station["latitude"],
            station["longitude"],
            tilt_deg=station["tilt_deg"],
            azimuth_deg=station["azimuth_deg"],
        )
    year_start: date = energy["year_start"]
    today: date = energy["today"]
    days_in_year = (date(year_start.year + 1, 1, 1) - year_start).days
    elapsed = (today - year_start).days + 1
    expected_kwh = station["capacity_kwp"] * specific * elapsed / days_in_year
    actual_kwh = energy["year_wh"] / 1000
    now = datetime.now(UTC)
    recent = [
        i["latest"]
        for i in invs
        if i["latest"] and i["latest"]["time"] > now - timedelta(minutes=15)
    ]
    latest_times = [i["latest"]["time"] for i in invs if i["latest"]]
    return {
        **station,
        "power_w": float(sum(r["ac_power_w"] or 0 for r in recent)),
        "latest_reading_at": max(latest_times) if latest_times else None,
        "energy_today_wh": energy["today_wh"],
        "energy_today_kwh": energy["today_wh"] / 1000,
        "expected_vs_actual": ExpectedVsActual(
            period_start=year_start,
            period_end=today,
            expected_kwh=round(expected_kwh, 3),
            actual_kwh=actual_kwh,
            ratio=round(actual_kwh / expected_kwh, 4) if expected_kwh > 0 else None,
        ),
        "inverter_list": invs,
    }


@router.patch(
    "/stations/{code}",
    tags=["registry"],
    response_model=StationRow,
    summary="Edit a station (admin)",
)
def patch_station(
    who: Admin, conn: Conn, code: CodeP, patch: Annotated[StationPatch, Body()]
) -> dict[str, Any]:
    """Change a station's name, orientation, commissioning date or tariff reference."""
    _station_access(conn, who, code)
    values = patch.model_dump(exclude_unset=True)
    if values:
        sets = ", ".join(f"{k} = %({k})s" for k in values)
        conn.execute(f"UPDATE stations SET {sets} WHERE code = %(code)s", {**values, "code": code})
    rows, _ = queries.stations(conn, code=code, limit=1, reveal=who.reveals_personal_data)
    return rows[0]


def _series(
    conn: psycopg.Connection,
    *,
    subject: str,
    code: str,
    bucket: str,
    start: datetime | None,
    end: datetime | None,
    station_id: int | None = None,
    inverter_id: int | None = None,
) -> dict[str, Any]:
    if end is None:
        end = datetime.now(UTC)
    elif end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    end = end.astimezone(UTC)
    if start is None:
        start = end - (
            timedelta(days=1)
            if bucket in queries.RAW_BUCKETS or bucket == "1h"
            else timedelta(days=365)
        )
    elif start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    start = start.astimezone(UTC)
    if end <= start:
        raise ValidationError("query.end: must be after start", ["query.end: must be after start"])
    if start.year < 2000 or end.year > 2100:
        raise ValidationError(
            "query.start: range must lie within 2000-2100",
            ["query.start: range must lie within 2000-2100"],
        )
    if (end - start) / queries.BUCKETS[bucket] > MAX_POINTS:
        msg = f"query.bucket: more than {MAX_POINTS} buckets in the range; choose a larger bucket"
        raise ValidationError(msg, [msg])
    source, points = queries.series(
        conn, station_id=station_id, inverter_id=inverter_id, bucket=bucket, start=start, end=end
    )
    return {
        "subject": subject,
        "code": code,
        "bucket": bucket,
        "start": start,
        "end": end,
        "source": source,
        "points": points,
    }


_SERIES_DOC = """Energy per bucket from the lifetime counter [Wh] and the mean sampled AC
power [W], over ``[start, end)`` (default: the last day for buckets up to 1 h, the last
year beyond). 5-30 min buckets come from raw readings, 1 h from the hourly rollup,
1 d / 1 w / 1 mo from the daily rollup (China Standard Time days, weeks and months)."""


@router.get(
    "/stations/{code}/series",
    tags=["operators"],
    response_model=SeriesOut,
    summary="Power and energy of a station over time",
    description=_SERIES_DOC,
)
def station_series(
    who: Reader,
    conn: Conn,
    code: CodeP,
    bucket: Bucket = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    station_id = _station_access(conn, who, code)
    return _series(
        conn,
        subject="station",
        code=code,
        bucket=bucket,
        start=start,
        end=end,
        station_id=station_id,
    )


@router.get(
    "/inverters",
    tags=["operators"],
    response_model=Page[InverterRow],
    summary="Inverters with their health, filtered",
)
def list_inverters(
    who: Reader,
    conn: Conn,
    pages: Pager,
    county: CodeQ = None,
    station: CodeQ = None,
    state: State | None = None,
) -> dict[str, Any]:
    """Inverters by serial with the collector's health state."""
    rows, total = queries.inverters(
        conn,
        county=county_filter(who, county),
        station=station,
        state=state,
        limit=pages.limit,
        offset=pages.offset,
    )
    return pages.page(rows, total)


@router.get(
    "/inverters/{serial}",
    tags=["operators"],
    response_model=InverterDetail,
    summary="One inverter: connection, health, latest reading",
)
def get_inverter(who: Reader, conn: Conn, serial: CodeP) -> dict[str, Any]:
    _inverter_access(conn, who, serial)
    row = queries.inverter_detail(conn, serial)
    assert row is not None
    return row


@router.patch(
    "/inverters/{serial}",
    tags=["registry"],
    response_model=InverterDetail,
    summary="Edit an inverter's connection (admin)",
)
def patch_inverter(
    who: Admin, conn: Conn, serial: CodeP, patch: Annotated[InverterPatch, Body()]
) -> dict[str, Any]:
    """Change host, port, unit id or poll interval; (host, port, unit id) stays unique."""
    _inverter_access(conn, who, serial)
    values = patch.model_dump(exclude_unset=True)
    if values:
        sets = ", ".join(f"{k} = %({k})s" for k in values)
        try:
            conn.execute(
                f"UPDATE inverters SET {sets} WHERE serial = %(serial)s",
                {**values, "serial": serial},
            )
        except psycopg.errors.UniqueViolation as exc:
            msg = "body.host: another inverter uses this host, port and unit id"
            raise ValidationError(msg, [msg]) from exc
    row = queries.inverter_detail(conn, serial)
    assert row is not None
    return row


@router.get(
    "/inverters/{serial}/series",
    tags=["operators"],
    response_model=SeriesOut,
    summary="Power and energy of an inverter over time",
    description=_SERIES_DOC,
)
def inverter_series(
    who: Reader,
    conn: Conn,
    serial: CodeP,
    bucket: Bucket = "1h",
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Any]:
    _inverter_access(conn, who, serial)
    row = conn.execute("SELECT id FROM inverters WHERE serial = %s", (serial,)).fetchone()
    assert row is not None
    return _series(
        conn,
        subject="inverter",
        code=serial,
        bucket=bucket,
        start=start,
        end=end,
        inverter_id=int(row[0]),
    )


@router.get(
    "/alarms",
    tags=["operators"],
    response_model=Page[Alarm],
    summary="Alarms, open or closed, filtered",
)
def list_alarms(
    who: Reader,
    conn: Conn,
    pages: Pager,
    status: Literal["open", "closed"] | None = None,
    county: CodeQ = None,
    station: CodeQ = None,
    inverter: CodeQ = None,
    kind: Literal["offline", "no_output", "fault_code", "underperforming", "misconfigured"]
    | None = None,
    acknowledged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Alarms newest first; ``since``/``until`` filter on the opening time."""
    rows, total = queries.alarms(
        conn,
        county=county_filter(who, county),
        station=station,
        inverter=inverter,
        kind=kind,
        status=status,
        acknowledged=acknowledged,
        since=since,
        until=until,
        limit=pages.limit,
        offset=pages.offset,
    )
    return pages.page(rows, total)


def _alarm(conn: psycopg.Connection, who: Principal, alarm_id: int) -> dict[str, Any]:
    row = queries.alarm(conn, alarm_id)
    if row is None:
        raise NotFoundError(f"alarm {alarm_id}: not found")
    who.require_county(row["county_id"], f"alarm {alarm_id}")
    return row


@router.get("/alarms/{alarm_id}", tags=["operators"], response_model=Alarm, summary="One alarm")
def get_alarm(who: Reader, conn: Conn, alarm_id: IdP) -> dict[str, Any]:
    return _alarm(conn, who, alarm_id)


@router.post(
    "/alarms/{alarm_id}/ack",
    tags=["operators"],
    response_model=Alarm,
    summary="Acknowledge an alarm with a comment (operator); it is then not escalated",
)
@router.post(
    "/alarms/{alarm_id}/acknowledge",
    tags=["operators"],
    response_model=Alarm,
    summary="Acknowledge an alarm with a comment (operator); the same as .../ack",
)
def acknowledge_alarm(
    who: Operator, conn: Conn, alarm_id: IdP, body: Annotated[AlarmAck, Body()]
) -> dict[str, Any]:
    """Record who acknowledged the alarm, when, and their comment (again: overwritten)."""
    _alarm(conn, who, alarm_id)
    acknowledge(conn, alarm_id=alarm_id, by=who.name, comment=body.comment)
    return _alarm(conn, who, alarm_id)


@router.get(
    "/places",
    tags=["registry"],
    response_model=Page[Place],
    summary="Counties, townships and villages",
)
def list_places(
    who: Reader,
    conn: Conn,
    pages: Pager,
    county: CodeQ = None,
    level: Literal["county", "township", "village"] | None = None,
) -> dict[str, Any]:
    rows, total = queries.places(
        conn, county=county_filter(who, county), level=level, limit=pages.limit, offset=pages.offset
    )
    return pages.page(rows, total)


@router.post(
    "/registry/import",
    tags=["registry"],
    response_model=ImportResult,
    summary="Import a fleet (admin): upsert by code, all or nothing",
)
def import_fleet(who: Admin, conn: Conn, fleet: Annotated[FleetFile, Body()]) -> dict[str, Any]:
    """The JSON form of a fleet file (see the README); every problem is reported at once
    and nothing is written unless the whole import is valid."""
    if who.county_code is not None:
        raise ForbiddenError("a registry import needs an admin key for every county")
    summary = store_fleet(conn, fleet)
    return {"inserted": summary.inserted, "updated": summary.updated, "changed": summary.changed}


@router.get(
    "/keys",
    tags=["access"],
    response_model=Page[KeyRow],
    summary="API keys without their secrets (admin)",
)
def get_keys(who: Admin, conn: Conn, pages: Pager) -> dict[str, Any]:
    """Keys are created and revoked with ``pvmon keys``; this lists them with when each
    was last used (to the minute)."""
    keys = [
        k for k in list_keys(conn) if who.county_code is None or k.county_code == who.county_code
    ]
    items = [
        {
            "name": k.name,
            "role": k.role,
            "county": k.county_code,
            "key_prefix": k.key_prefix,
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
            "last_used_at": k.last_used_at,
        }
        for k in keys[pages.offset : pages.offset + pages.limit]
    ]
    return pages.page(items, len(keys))
