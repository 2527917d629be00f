"""Availability doors: a station's availability over days, each O&M contractor's month,
and operators' maintenance windows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from pvmon.api import queries
from pvmon.api.auth import Principal
from pvmon.api.deps import Conn, access, county_filter, heavy
from pvmon.availability import (
    AvailabilityOptions,
    contractor_month,
    station_days,
)
from pvmon.availability.queries import add_maintenance
from pvmon.errors import NotFoundError, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/v1")
Reader = Annotated[Principal, Depends(access("read"))]
Operator = Annotated[Principal, Depends(access("operate"))]
CodeP = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CodeQ = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Month = Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LossOut(_Out):
    inverter_id: int
    start: datetime
    end: datetime
    cause: str = Field(description="grid, inverter_fault, communication or maintenance")
    lost_wh: int
    basis: str = Field(description="neighbours, expected or none")


class Figures(_Out):
    time_availability: Decimal | None = Field(description="0..1; None without daylight")
    energy_availability: Decimal | None = Field(description="actual / (actual + lost)")
    actual_wh: int
    lost_wh_by_cause: dict[str, int]


class DayOut(Figures):
    day: date


class MaintenanceOut(_Out):
    id: int
    station: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str


class StationAvailabilityOut(Figures):
    station: str
    om_contractor: str | None
    first: date
    last: date
    lost_revenue_fen: int | None = Field(description="None without a tariff")
    lost_revenue_fen_by_cause: dict[str, int]
    days: list[DayOut]
    losses: list[LossOut]
    maintenance: list[MaintenanceOut]


class ContractorOut(Figures):
    om_contractor: str | None = Field(description="None: stations without a contractor")
    stations: int
    lost_revenue_fen: int | None
    lost_revenue_fen_by_cause: dict[str, int]
    penalty_base_fen: int | None = Field(
        description="revenue lost to causes the contractor answers for (not grid, not "
        "communication) [fen]: an input for a contract penalty"
    )


class ContractorsOut(_Out):
    month: str
    county: str | None
    items: list[ContractorOut]


class MaintenanceIn(_Out):
    station: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    starts_at: datetime = Field(alias="from")
    ends_at: datetime = Field(alias="to")
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _options(request: Request) -> AvailabilityOptions:
    found = getattr(request.app.state, "availability", None)
    return found if isinstance(found, AvailabilityOptions) else AvailabilityOptions()


def _station_county(conn: psycopg.Connection, who: Principal, code: str) -> None:
    found = queries.station_county(conn, station=code)
    if found is None:
        raise NotFoundError(f"station {code!r}: not found")
    who.require_county(found[1], f"station {code!r}")


def _month(text: str) -> date:
    from pvmon.report import parse_month

    return parse_month(text)


@router.get(
    "/stations/{code}/availability",
    tags=["operators"],
    response_model=StationAvailabilityOut,
    summary="A station's availability and lost energy by day and cause",
    dependencies=[Depends(heavy)],
)
def station_availability(
    request: Request,
    who: Reader,
    conn: Conn,
    code: CodeP,
    first: Annotated[date, Query(alias="from", description="first local day")],
    last: Annotated[date, Query(alias="to", description="last local day (inclusive)")],
) -> dict[str, Any]:
    """Time-based availability (the share of the daylight hours the inverters could
    produce), energy-based availability, and each loss with its cause and lost energy."""
    _station_county(conn, who, code)
    found = station_days(conn, station=code, first=first, last=last, options=_options(request))
    s = found.summary
    return {
        "station": s.station_code,
        "om_contractor": s.om_contractor,
        "first": first,
        "last": last,
        "time_availability": s.time_availability,
        "energy_availability": s.energy_availability,
        "actual_wh": s.actual_wh,
        "lost_wh_by_cause": s.lost_wh_by_cause,
        "lost_revenue_fen": s.lost_revenue_fen,
        "lost_revenue_fen_by_cause": s.lost_revenue_fen_by_cause,
        "days": [
            {
                "day": day,
                "time_availability": t.time_availability,
                "energy_availability": t.energy_availability,
                "actual_wh": t.actual_wh,
                "lost_wh_by_cause": dict(t.lost_wh_by_cause),
            }
            for day, t in found.days
        ],
        "losses": [vars(x) for x in found.losses],
        "maintenance": [vars(w) for w in found.maintenance],
    }


@router.get(
    "/availability/contractors",
    tags=["operators"],
    response_model=ContractorsOut,
    summary="Each O&M contractor's availability, lost energy and lost revenue in a month",
    dependencies=[Depends(heavy)],
)
def contractors(
    request: Request, who: Reader, conn: Conn, month: Month, county: CodeQ = None
) -> dict[str, Any]:
    """Per contractor: availability (time and energy based), lost energy by cause [Wh],
    the revenue it cost at each station's tariff [fen], and the part lost to causes the
    contractor answers for (``penalty_base_fen``)."""
    found = contractor_month(
        conn, month=_month(month), county=county_filter(who, county), options=_options(request)
    )
    return {
        "month": month,
        "county": county_filter(who, county),
        "items": [
            {
                "om_contractor": c.om_contractor,
                "stations": c.stations,
                "time_availability": c.time_availability,
                "energy_availability": c.energy_availability,
                "actual_wh": c.actual_wh,
                "lost_wh_by_cause": c.lost_wh_by_cause,
                "lost_revenue_fen": c.lost_revenue_fen,
                "lost_revenue_fen_by_cause": c.lost_revenue_fen_by_cause,
                "penalty_base_fen": c.penalty_base_fen,
            }
            for c in found
        ],
    }


@router.post(
    "/maintenance",
    tags=["operators"],
    response_model=MaintenanceOut,
    status_code=201,
    summary="Record a maintenance window at a station",
)
def maintenance(who: Operator, conn: Conn, body: MaintenanceIn) -> dict[str, Any]:
    """Losses inside the window are attributed to ``maintenance``. An unknown station
    is a rejected field of the body (422)."""
    found_station = queries.station_county(conn, station=body.station)
    if found_station is None:
        raise ValidationError(f"station: no station {body.station!r}")
    who.require_county(found_station[1], f"station {body.station!r}")
    if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
        raise ValidationError("from: give a time zone (e.g. 2025-06-03T08:00+08:00)")
    found = add_maintenance(
        conn,
        station=body.station,
        starts_at=body.starts_at.astimezone(UTC),
        ends_at=body.ends_at.astimezone(UTC),
        reason=body.reason,
        created_by=who.name,
    )
    return vars(found)
