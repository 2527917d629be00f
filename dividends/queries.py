"""Database edge of the schedules: a station's figures and actuals, a payee's dividends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg

from dividends.schedule import ScheduleYear, YearActual, build_schedule, expected_specific_yield
from pvmon.errors import NotFoundError

__all__ = ["PayeeYear", "StationSchedule", "payee_schedule", "station_schedule"]


@dataclass(frozen=True)
class StationSchedule:
    """A station's 20/25-year schedule and the assumptions behind it."""

    station: str
    kind: str
    capacity_kwp: Decimal
    specific_yield: Decimal
    tariff: Decimal
    deduction_rate: Decimal
    first_year: int
    years: list[ScheduleYear]

    @property
    def years_at_risk(self) -> list[int]:
        return [y.year for y in self.years if y.at_risk]


def station_schedule(
    conn: psycopg.Connection, code: str, *, today: date | None = None
) -> StationSchedule:
    """Schedule of station ``code``: expected energy, revenue, obligations, coverage per year,
    with actuals (approved runs) beside past years."""
    today = today or date.today()
    row = conn.execute(
        """SELECT s.id, s.kind, s.capacity_kwp, s.latitude, s.longitude, s.tilt_deg,
                  s.azimuth_deg, s.tariff_ref, s.commissioned_on, y.kwh_per_kwp_year,
                  y.degradation_per_year, tw.county_id
             FROM stations s LEFT JOIN station_expected_yield y ON y.station_id = s.id
             JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
            WHERE s.code = %s""",
        (code,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"station {code!r}: not found")
    (sid, kind, capacity, lat, lon, tilt, az, tariff_ref, commissioned, spec_yield, deg,
     county_id) = row  # fmt: skip
    if spec_yield is None:
        spec_yield = Decimal(str(round(expected_specific_yield(lat, lon, tilt_deg=tilt,
                                                               azimuth_deg=az), 3)))  # fmt: skip
    tariff = conn.execute(
        """SELECT yuan_per_kwh FROM station_tariffs WHERE tariff_ref = %s
            AND effective_from <= %s ORDER BY effective_from DESC LIMIT 1""",
        (tariff_ref, today),
    ).fetchone()
    rules = conn.execute(
        """SELECT coalesce(sum(rate), 0), coalesce(sum(yearly_fen), 0)::bigint
             FROM deduction_rules d
            WHERE (d.station_id = %(s)s OR (d.county_id = %(c)s AND NOT EXISTS (
                   SELECT 1 FROM deduction_rules o
                    WHERE o.station_id = %(s)s AND o.kind = d.kind)))
              AND (d.effective_to IS NULL OR d.effective_to > %(t)s)""",
        {"s": sid, "c": county_id, "t": today},
    ).fetchone()
    slots = conn.execute(
        """SELECT min(sl.first_dividend_on), max(sc.years),
                  coalesce(sum(CASE c.basis WHEN 'fixed' THEN c.yearly_fen
                                 WHEN 'per_person' THEN c.yearly_fen * coalesce(h.members, 1)
                                 ELSE 0 END), 0)::bigint
             FROM station_slots sl
             JOIN LATERAL (SELECT * FROM dividend_enrolments e WHERE e.slot_id = sl.id
                            ORDER BY e.starts_on DESC LIMIT 1) en ON true
             JOIN dividend_schemes sc ON sc.id = en.scheme_id
             JOIN dividend_scheme_components c ON c.scheme_id = sc.id
             LEFT JOIN households h ON h.id = en.household_id
            WHERE sl.station_id = %s""",
        (sid,),
    ).fetchone()
    first_on = slots[0] if slots and slots[0] else (commissioned or today)
    actual_rows = conn.execute(
        """SELECT extract(year FROM r.period_start)::int, sum(u.energy_wh)::bigint,
                  sum(u.revenue_benchmark_fen + u.revenue_subsidy_fen)::bigint,
                  sum(u.paid_fen + u.arrears_paid_fen)::bigint
             FROM dividend_run_units u JOIN dividend_runs r ON r.id = u.run_id
            WHERE u.station_id = %s AND r.status <> 'draft' AND r.kind = 'regular'
            GROUP BY 1""",
        (sid,),
    ).fetchall()
    actuals = {int(y): YearActual(int(e), int(rv), int(p)) for y, e, rv, p in actual_rows}
    years = build_schedule(
        first_year=first_on.year,
        capacity_kwp=Decimal(capacity),
        specific_yield_kwh_per_kwp=Decimal(spec_yield),
        degradation_per_year=Decimal(deg) if deg is not None else Decimal("0.005"),
        degradation_from_year=commissioned.year if commissioned else None,
        tariff_yuan_per_kwh=Decimal(tariff[0]) if tariff else Decimal(0),
        deduction_rate=Decimal(rules[0]) if rules else Decimal(0),
        deduction_fixed_fen_per_year=int(rules[1]) if rules else 0,
        obligations_fen_per_year=int(slots[2]) if slots and slots[2] else 0,
        dividend_years=int(slots[1]) if slots and slots[1] else 20,
        horizon_years=25,
        actuals=actuals,
    )
    return StationSchedule(
        station=code,
        kind=kind,
        capacity_kwp=Decimal(capacity),
        specific_yield=Decimal(spec_yield),
        tariff=Decimal(tariff[0]) if tariff else Decimal(0),
        deduction_rate=Decimal(rules[0]) if rules else Decimal(0),
        first_year=first_on.year,
        years=years,
    )


@dataclass(frozen=True)
class PayeeYear:
    """One year of a payee's dividends [fen]: the scheme's amount and what runs paid."""

    year: int
    scheme: str
    component: str
    expected_fen: int
    paid_fen: int


def payee_schedule(conn: psycopg.Connection, file_no: str) -> list[PayeeYear]:
    """A household's dividend years: the scheme amount per year for its enrolments' dividend
    window, beside what approved runs (and adjustments) paid."""
    hh = conn.execute("SELECT id FROM households WHERE file_no = %s", (file_no,)).fetchone()
    if hh is None:
        raise NotFoundError(f"household {file_no!r}: not found")
    rows = conn.execute(
        """
        WITH en AS (
            SELECT e.*, sl.first_dividend_on, sc.years, sc.code
              FROM dividend_enrolments e JOIN station_slots sl ON sl.id = e.slot_id
              JOIN dividend_schemes sc ON sc.id = e.scheme_id
             WHERE e.household_id = %(h)s
        ), yrs AS (
            SELECT en.code, c.component, c.yearly_fen, y::int AS year
              FROM en JOIN dividend_scheme_components c ON c.scheme_id = en.scheme_id
             CROSS JOIN generate_series(extract(year FROM en.first_dividend_on)::int,
                                        extract(year FROM en.first_dividend_on)::int
                                        + en.years - 1) y
             WHERE c.payee_role = 'enrollee'
        ), paid AS (
            SELECT extract(year FROM l.period_start)::int AS year, l.component,
                   sum(l.amount_fen)::bigint AS fen
              FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
             WHERE l.payee_kind = 'household' AND l.payee_id = %(h)s AND r.status <> 'draft'
             GROUP BY 1, 2
        )
        SELECT yrs.year, yrs.code, yrs.component, sum(yrs.yearly_fen)::bigint,
               coalesce(max(paid.fen), 0)
          FROM yrs LEFT JOIN paid ON paid.year = yrs.year AND paid.component = yrs.component
         GROUP BY 1, 2, 3 ORDER BY 1
        """,
        {"h": hh[0]},
    ).fetchall()
    return [PayeeYear(int(y), c, comp, int(e), int(p)) for y, c, comp, e, p in rows]
