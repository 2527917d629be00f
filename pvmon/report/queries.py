"""The database edge of the monthly report: the scope, its stations, daily energy, alarms.

:func:`month_report` reads them, runs the site model (:mod:`pvmon.report.expected`) and
hands everything to the pure :func:`pvmon.report.data.build_month_report`. Stations are
named by their public label (``station_labels``): a household station, usually named
after its owner, appears as its village, ``户用电站`` and code.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg

from pvmon.availability import AvailabilityOptions, StationAvailability, station_month
from pvmon.errors import NotFoundError, ValidationError
from pvmon.report.data import (
    MonthReport,
    Scope,
    StationInput,
    build_month_report,
    report_window,
)
from pvmon.report.expected import month_days, site_days

__all__ = ["month_report", "report_scope"]

_TZ = "Asia/Shanghai"


def report_scope(
    conn: psycopg.Connection,
    *,
    county: str,
    township: str | None = None,
    village: str | None = None,
) -> Scope:
    """The scope named by codes; :class:`NotFoundError` for an unknown code or one
    outside ``county``."""
    if township is not None and village is not None:
        raise ValidationError("give --township or --village, not both")
    row = conn.execute("SELECT code, name FROM counties WHERE code = %s", (county,)).fetchone()
    if row is None:
        raise NotFoundError(f"county {county!r}: not found")
    county_code, county_name = row
    if township is not None:
        found = conn.execute(
            """SELECT t.code, t.name FROM townships t JOIN counties c ON c.id = t.county_id
                WHERE t.code = %s AND c.code = %s""",
            (township, county),
        ).fetchone()
        if found is None:
            raise NotFoundError(f"township {township!r}: not found in county {county!r}")
        return Scope("township", found[0], found[1], county_code, county_name)
    if village is not None:
        found = conn.execute(
            """SELECT v.code, v.name FROM villages v JOIN townships t ON t.id = v.township_id
                 JOIN counties c ON c.id = t.county_id WHERE v.code = %s AND c.code = %s""",
            (village, county),
        ).fetchone()
        if found is None:
            raise NotFoundError(f"village {village!r}: not found in county {county!r}")
        return Scope("village", found[0], found[1], county_code, county_name)
    return Scope("county", county_code, county_name, county_code, county_name)


_STATIONS = """
SELECT s.id, s.code, sl.label, s.kind, s.capacity_kwp, v.code, v.name, t.code, t.name,
       s.latitude, s.longitude, s.tilt_deg, s.azimuth_deg
  FROM stations s
  JOIN station_labels sl ON sl.station_id = s.id
  JOIN villages v ON v.id = s.village_id
  JOIN townships t ON t.id = v.township_id
  JOIN counties c ON c.id = t.county_id
 WHERE c.code = %(county)s
   AND (%(level)s <> 'township' OR t.code = %(code)s)
   AND (%(level)s <> 'village' OR v.code = %(code)s)
 ORDER BY s.code
"""


def month_report(
    conn: psycopg.Connection,
    *,
    county: str,
    month: date,
    township: str | None = None,
    village: str | None = None,
    losers: int = 10,
    availability: AvailabilityOptions | None = None,
) -> MonthReport:
    """The monthly report of a county (or one township or village of it), with each
    station's availability and lost energy over the days it covers (``availability``:
    the limits of that computation)."""
    scope = report_scope(conn, county=county, township=township, village=village)
    params = {"county": county, "level": scope.level, "code": scope.code, "tz": _TZ}
    head = conn.execute("SELECT now(), (now() AT TIME ZONE %(tz)s)::date", params).fetchone()
    assert head is not None
    generated_at: datetime = head[0]
    today: date = head[1]
    days = month_days(month)
    stations = []
    for row in conn.execute(_STATIONS, params).fetchall():
        modelled = site_days(row[9], row[10], tilt_deg=row[11], azimuth_deg=row[12],
                             month_start=month)  # fmt: skip
        stations.append(
            StationInput(
                station_id=row[0],
                code=row[1],
                label=row[2],
                kind=row[3],
                capacity_kwp=Decimal(row[4]),
                village_code=row[5],
                village_name=row[6],
                township_code=row[7],
                township_name=row[8],
                irradiation_wh_m2=dict(zip(days, modelled.irradiation_wh_m2, strict=True)),
                expected_wh_per_kwp=dict(zip(days, modelled.expected_wh_per_kwp, strict=True)),
            )
        )
    ids = [s.station_id for s in stations]
    daily = conn.execute(
        """SELECT station_id, day, energy_wh, estimated_wh FROM station_energy_daily
            WHERE station_id = ANY(%(ids)s) AND day >= %(first)s AND day <= %(last)s""",
        {"ids": ids, "first": days[0], "last": days[-1]},
    ).fetchall()
    alarms = conn.execute(
        """SELECT a.station_id, i.serial, a.kind, a.opened_at, a.closed_at, a.reason
             FROM alarms a LEFT JOIN inverters i ON i.id = a.inverter_id
            WHERE a.station_id = ANY(%(ids)s)
              AND a.opened_at < (%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s
              AND (a.closed_at IS NULL
                   OR a.closed_at >= %(first)s::date::timestamp AT TIME ZONE %(tz)s)""",
        {"ids": ids, "first": days[0], "last": days[-1], "tz": _TZ},
    ).fetchall()
    window = report_window(month, today, (r[1] for r in daily if r[2] is not None))
    by_code: dict[str, StationAvailability] = {}
    if window is not None:  # availability over the same days: to the window's end
        end = datetime.combine(window[1] + timedelta(days=1), time(), ZoneInfo(_TZ))
        by_code = {
            a.station_code: a
            for a in station_month(
                conn, county_code=county, month=month, options=availability, now=end
            )
        }
    return build_month_report(
        scope=scope,
        month=month,
        today=today,
        generated_at=generated_at,
        stations=stations,
        daily=daily,
        alarms=alarms,
        availability=by_code,
        losers=losers,
    )
