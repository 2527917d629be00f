"""Availability and lost energy per inverter, station, day and O&M contractor (issue 23).

:mod:`pvmon.availability.core` decides (pure); :mod:`pvmon.availability.queries` reads
and writes the database; this module joins them for the doors (API, CLI, the monthly
report): :func:`station_month`, :func:`station_days`, :func:`contractor_month`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from pvmon.availability.core import (
    CAUSES,
    PENALTY_CAUSES,
    InverterDay,
    InverterInput,
    Loss,
    Totals,
    assess,
    local_days,
    lost_revenue_fen,
    totals,
)
from pvmon.availability.queries import (
    MaintenanceWindow,
    ScopeStation,
    actual_wh,
    inverter_inputs,
    maintenance_windows,
    scope_stations,
    sun_between,
)
from pvmon.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "CAUSES",
    "PENALTY_CAUSES",
    "AvailabilityOptions",
    "ContractorAvailability",
    "StationAvailability",
    "StationDays",
    "contractor_month",
    "month_days",
    "station_days",
    "station_month",
    "store_days",
]

_LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class AvailabilityOptions:
    """The limits of the computation (``Settings.availability_*``)."""

    comm_share: Decimal = Decimal("0.5")
    sun_altitude_deg: float = 4.0
    yield_kwh_per_kwp_year: Decimal = Decimal("1300")
    max_days: int = 92

    @classmethod
    def from_settings(cls, settings: object) -> AvailabilityOptions:
        return cls(
            comm_share=settings.availability_comm_share,  # type: ignore[attr-defined]
            sun_altitude_deg=settings.availability_sun_altitude_deg,  # type: ignore[attr-defined]
            yield_kwh_per_kwp_year=settings.availability_yield_kwh_per_kwp_year,  # type: ignore[attr-defined]
            max_days=settings.availability_max_days,  # type: ignore[attr-defined]
        )


@dataclass(frozen=True)
class StationAvailability:
    """A station over a span (a month): availability (0..1, None without a production
    period / energy), actual and lost energy [Wh] and the revenue lost [fen] by cause
    (None without a tariff). ``penalty_base_fen``: the part lost to causes the O&M
    contractor answers for (:data:`PENALTY_CAUSES`)."""

    station_code: str
    om_contractor: str | None
    time_availability: Decimal | None
    energy_availability: Decimal | None
    actual_wh: int
    lost_wh_by_cause: dict[str, int]
    lost_revenue_fen: int | None
    lost_revenue_fen_by_cause: dict[str, int] = field(default_factory=dict)
    penalty_base_fen: int | None = None


@dataclass(frozen=True)
class ContractorAvailability:
    """An O&M contractor's stations over a month (None: stations without a contractor)."""

    om_contractor: str | None
    stations: int
    time_availability: Decimal | None
    energy_availability: Decimal | None
    actual_wh: int
    lost_wh_by_cause: dict[str, int]
    lost_revenue_fen: int | None
    lost_revenue_fen_by_cause: dict[str, int]
    penalty_base_fen: int | None


@dataclass(frozen=True)
class StationDays:
    """A station over a span of days: the summary, each day's and each loss."""

    summary: StationAvailability
    days: list[tuple[date, Totals]]
    losses: list[Loss]
    maintenance: list[MaintenanceWindow]


def month_days(month: date) -> tuple[date, date]:
    """First and last day of the month holding ``month``."""
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_LOCAL).astimezone(UTC)


@dataclass(frozen=True)
class _Run:
    stations: list[ScopeStation]
    inverters: list[InverterInput]
    days: list[InverterDay]
    windows: list[MaintenanceWindow]


def _run(
    conn: psycopg.Connection,
    *,
    stations: list[ScopeStation],
    first: date,
    last: date,
    options: AvailabilityOptions,
    now: datetime | None,
) -> _Run:
    if last < first:
        raise ValidationError("to: the span ends before it starts")
    if (last - first).days + 1 > options.max_days:
        raise ValidationError(f"to: at most {options.max_days} days at once")
    start, end = _local_midnight(first), _local_midnight(last + timedelta(days=1))
    until = min(end, now or datetime.now(UTC))
    inverters = inverter_inputs(conn, stations, start=start, end=end)
    windows = maintenance_windows(conn, [s.station_id for s in stations], start=start, end=end)
    by_code = {s.code: s for s in stations}
    day_sun: dict[tuple[str, date], float] = {}

    def expected_wh(inv: InverterInput, a: datetime, b: datetime) -> float:
        """The site's expected yield between a and b [Wh]: its daily expected energy
        shared out by the clear-sky sun of the day."""
        s = by_code[inv.station]
        kwh_year = s.yield_kwh_per_kwp_year or options.yield_kwh_per_kwp_year
        daily_wh = float(kwh_year) * 1000 / 365 * inv.kwp
        wh = 0.0
        for day in local_days(a.astimezone(_LOCAL).date(), b.astimezone(_LOCAL).date()):
            d0, d1 = _local_midnight(day), _local_midnight(day + timedelta(days=1))
            key = (s.code, day)
            if key not in day_sun:
                day_sun[key] = sun_between(conn, s, d0, d1)
            if day_sun[key] > 0:
                part = sun_between(conn, s, max(a, d0), min(b, d1))
                wh += daily_wh * part / day_sun[key]
        return wh

    maintenance: dict[str, list[tuple[datetime, datetime]]] = {}
    for w in windows:
        maintenance.setdefault(w.station, []).append((w.starts_at, w.ends_at))
    days = assess(
        inverters=inverters,
        days=local_days(first, last),
        actual_wh=actual_wh(conn, stations, first=first, last=last),
        maintenance=maintenance,
        expected_wh=expected_wh,
        until=until,
        comm_share=options.comm_share,
        altitude_deg=options.sun_altitude_deg,
    )
    return _Run(stations, inverters, days, windows)


def _priced(t: Totals, price: Decimal | None) -> tuple[int | None, dict[str, int], int | None]:
    by_cause = lost_revenue_fen(t.lost_wh_by_cause, price)
    if price is None:
        return None, {}, None
    return (
        sum(by_cause.values()),
        by_cause,
        sum(v for c, v in by_cause.items() if c in PENALTY_CAUSES),
    )


def _station_summary(s: ScopeStation, days: Sequence[InverterDay]) -> StationAvailability:
    t = totals(d for d in days if d.station == s.code)
    fen, fen_by_cause, penalty = _priced(t, s.price_yuan_per_kwh)
    return StationAvailability(
        station_code=s.code,
        om_contractor=s.om_contractor,
        time_availability=t.time_availability,
        energy_availability=t.energy_availability,
        actual_wh=t.actual_wh,
        lost_wh_by_cause=dict(t.lost_wh_by_cause),
        lost_revenue_fen=fen,
        lost_revenue_fen_by_cause=fen_by_cause,
        penalty_base_fen=penalty,
    )


def station_month(
    conn: psycopg.Connection,
    *,
    county_code: str,
    month: date,
    options: AvailabilityOptions | None = None,
    now: datetime | None = None,
) -> list[StationAvailability]:
    """Each station of the county over the month holding ``month``, by station code.

    Days after ``now`` (default: the current time) do not count."""
    options = options or AvailabilityOptions()
    first, last = month_days(month)
    stations = scope_stations(conn, county=county_code, priced_on=first)
    if not stations:
        raise NotFoundError(f"county {county_code!r}: no stations")
    run = _run(conn, stations=stations, first=first, last=last, options=options, now=now)
    return [_station_summary(s, run.days) for s in stations]


def station_days(
    conn: psycopg.Connection,
    *,
    station: str,
    first: date,
    last: date,
    options: AvailabilityOptions | None = None,
    now: datetime | None = None,
) -> StationDays:
    """One station from ``first`` to ``last`` (local days): summary, days and losses.

    Computed with its village's other stations, whose output measures what an outage
    lost, so its figures are those of :func:`station_month` for the same days."""
    options = options or AvailabilityOptions()
    found = scope_stations(conn, station=station, priced_on=first)
    if not found:
        raise NotFoundError(f"station {station!r}: not found")
    peers = scope_stations(conn, village=found[0].village, priced_on=first)
    run = _run(conn, stations=peers, first=first, last=last, options=options, now=now)
    own = [d for d in run.days if d.station == station]
    per_day = [(day, totals(d for d in own if d.day == day)) for day in local_days(first, last)]
    losses = sorted((x for d in own for x in d.losses), key=lambda x: (x.start, x.inverter_id))
    windows = [w for w in run.windows if w.station == station]
    return StationDays(_station_summary(found[0], own), per_day, losses, windows)


def store_days(
    conn: psycopg.Connection,
    *,
    first: date,
    last: date,
    county: str | None = None,
    options: AvailabilityOptions | None = None,
    now: datetime | None = None,
) -> int:
    """Compute each station's availability per local day from ``first`` to ``last`` (of
    one county, or all) and keep it in ``station_availability_daily`` (replacing what
    was there) for dashboards; at most ``options.max_days`` days at once. Returns the
    station-days stored."""
    options = options or AvailabilityOptions()
    stations = scope_stations(conn, county=county, priced_on=first)
    if not stations:
        return 0
    run = _run(conn, stations=stations, first=first, last=last, options=options, now=now)
    by_day: dict[tuple[str, date], list[InverterDay]] = {}
    for d in run.days:
        by_day.setdefault((d.station, d.day), []).append(d)
    ids = {s.code: s.station_id for s in stations}
    rows = []
    for (code, day), days in sorted(by_day.items()):
        t = totals(days)
        lost = t.lost_wh_by_cause
        rows.append((ids[code], day, t.period_s, t.available_s, t.actual_wh,
                     *(lost.get(c, 0) for c in _STORED_CAUSES)))  # fmt: skip
    try:
        with conn.transaction():
            conn.cursor().executemany(
                f"""INSERT INTO station_availability_daily (station_id, day, period_s,
                       available_s, actual_wh, {", ".join(f"lost_{c}_wh" for c in _STORED_CAUSES)})
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (station_id, day) DO UPDATE SET
                       period_s = EXCLUDED.period_s, available_s = EXCLUDED.available_s,
                       actual_wh = EXCLUDED.actual_wh,
                       {", ".join(f"lost_{c}_wh = EXCLUDED.lost_{c}_wh" for c in _STORED_CAUSES)},
                       computed_at = now()""",
                rows,
            )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"storing availability failed: {exc}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"storing availability failed: {exc}") from exc
    return len(rows)


_STORED_CAUSES = ("grid", "inverter_fault", "communication", "maintenance")


def contractor_month(
    conn: psycopg.Connection,
    *,
    month: date,
    county: str | None = None,
    options: AvailabilityOptions | None = None,
    now: datetime | None = None,
) -> list[ContractorAvailability]:
    """Each O&M contractor's stations over the month (of one county, or all), by name;
    revenue priced at each station's own tariff and summed."""
    options = options or AvailabilityOptions()
    first, last = month_days(month)
    stations = scope_stations(conn, county=county, priced_on=first)
    run = _run(conn, stations=stations, first=first, last=last, options=options, now=now)
    groups: dict[str | None, list[ScopeStation]] = {}
    for s in stations:
        groups.setdefault(s.om_contractor, []).append(s)
    out = []
    for name in sorted(groups, key=lambda n: (n is None, n or "")):
        members = groups[name]
        codes = {s.code for s in members}
        t = totals(d for d in run.days if d.station in codes)
        summaries = [_station_summary(s, run.days) for s in members]
        priced = all(x.lost_revenue_fen is not None for x in summaries)
        fen_by_cause: dict[str, int] = dict.fromkeys(CAUSES, 0)
        for x in summaries:
            for cause, fen in x.lost_revenue_fen_by_cause.items():
                fen_by_cause[cause] += fen
        out.append(
            ContractorAvailability(
                om_contractor=name,
                stations=len(members),
                time_availability=t.time_availability,
                energy_availability=t.energy_availability,
                actual_wh=t.actual_wh,
                lost_wh_by_cause=dict(t.lost_wh_by_cause),
                lost_revenue_fen=sum(fen_by_cause.values()) if priced else None,
                lost_revenue_fen_by_cause=fen_by_cause if priced else {},
                penalty_base_fen=(
                    sum(v for c, v in fen_by_cause.items() if c in PENALTY_CAUSES)
                    if priced
                    else None
                ),
            )
        )
    return out
