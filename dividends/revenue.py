"""Revenue as data: the energy basis per station and period, and revenue lines by part.

Energy basis (``station_period_energy``) is either computed from metered daily energy
(``station_energy_daily``; days without data are filled from the station's expected
yield and counted as estimated days) or **fed** directly with :func:`feed_energy`
(benchmarks, imported meter readings, later grid settlements). A fed row is never
overwritten by the computation.

Revenue lines (``revenue_lines``) are energy × price per part:

- ``benchmark``: energy [kWh] × the province's coal benchmark [yuan/kWh];
- ``subsidy``: energy [kWh] × max(0, station tariff − benchmark) [yuan/kWh];

each once for metered energy (source ``metered``) and once for estimated energy (source
``estimated``, ``estimated = true``). Amounts are rounded half away from zero to the
fen, per line. Prices are the schedule entries in force on the period's first day. The
cash side (issue "county cash") adds lines with sources ``settled``/``received``; the
run uses :data:`ACCRUAL_SOURCES` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

from dividends.errors import MissingPriceError
from dividends.periods import Period
from pvmon.errors import DatabaseError, ValidationError

__all__ = [
    "ACCRUAL_SOURCES",
    "EnergyFeed",
    "compute_energy_basis",
    "feed_energy",
    "stations_needing_energy",
    "write_revenue_lines",
]

ACCRUAL_SOURCES = ("metered", "estimated")

EnergyFeed = tuple[int, int, int, int]  # station_id, metered_wh, estimated_wh, estimated_days


def feed_energy(conn: psycopg.Connection, period: Period, rows: Iterable[EnergyFeed]) -> int:
    """Store period energy per station directly [Wh] (source ``fed``); returns rows written.

    Rows are ``(station_id, metered_wh, estimated_wh, estimated_days)``. Replaces earlier
    rows of the same station and period. Uses COPY, so a million stations take seconds.
    """
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _div_feed (station_id bigint, metered_wh bigint,"
                " estimated_wh bigint, estimated_days integer) ON COMMIT DELETE ROWS"
            )
            count = 0
            with conn.cursor().copy(
                "COPY _div_feed (station_id, metered_wh, estimated_wh, estimated_days) FROM STDIN"
            ) as copy:
                for row in rows:
                    if row[1] < 0 or row[2] < 0:
                        raise ValidationError(f"station {row[0]}: energy must not be negative")
                    copy.write_row(row)
                    count += 1
            conn.execute(
                """
                INSERT INTO station_period_energy AS e (station_id, period_start, period_end,
                       metered_wh, estimated_wh, metered_days, estimated_days, source)
                SELECT station_id, %(s)s, %(e)s, metered_wh, estimated_wh,
                       %(days)s - estimated_days, estimated_days, 'fed'
                  FROM _div_feed
                ON CONFLICT (station_id, period_start, period_end) DO UPDATE
                   SET metered_wh = excluded.metered_wh, estimated_wh = excluded.estimated_wh,
                       metered_days = excluded.metered_days,
                       estimated_days = excluded.estimated_days,
                       source = 'fed', computed_at = now()
                """,
                {"s": period.start, "e": period.end, "days": period.days},
            )
    except psycopg.Error as exc:
        raise DatabaseError(f"feeding energy for {period.label} failed: {exc}") from exc
    return count


def compute_energy_basis(conn: psycopg.Connection, period: Period) -> int:
    """Energy basis from metered daily energy for the stations in ``_div_need``.

    ``_div_need`` (a temporary table of ``station_id``) holds the scope's stations that
    have no fed energy for the period (see :func:`stations_needing_energy`).

    Days from the later of the period start and the station's grid connection (or
    commissioning) count as expected days; expected days without a daily row are filled
    with the expected daily yield [Wh] = capacity [kWp] × yield [kWh/kWp/year] × 1000 / 365
    × (1 − degradation)^(years since commissioning). Fed rows are left alone. Returns the
    number of stations computed.
    """
    cur = conn.execute(
        """
        WITH metered AS (
            SELECT d.station_id, sum(d.energy_wh)::bigint AS wh, count(*) AS days
              FROM station_energy_daily d
             WHERE d.station_id IN (SELECT station_id FROM _div_need)
               AND d.day >= %(s)s AND d.day < %(e)s
             GROUP BY d.station_id
        ), expected AS (
            SELECT s.id AS station_id,
                   greatest(0, %(e)s::date - greatest(%(s)s::date,
                       coalesce(s.grid_connected_on, s.commissioned_on, %(s)s::date))) AS days,
                   s.capacity_kwp * coalesce(y.kwh_per_kwp_year, 0) * 1000 / 365.0
                   * power(1 - coalesce(y.degradation_per_year, 0.005),
                           greatest(0, extract(year FROM %(s)s::date)
                                     - extract(year FROM coalesce(s.commissioned_on,
                                                                  %(s)s::date)))) AS daily_wh
              FROM stations s
              JOIN _div_need sc ON sc.station_id = s.id
              LEFT JOIN station_expected_yield y ON y.station_id = s.id
        )
        INSERT INTO station_period_energy AS pe (station_id, period_start, period_end,
               metered_wh, estimated_wh, metered_days, estimated_days, source)
        SELECT x.station_id, %(s)s, %(e)s, coalesce(m.wh, 0),
               round(greatest(0, x.days - coalesce(m.days, 0)) * x.daily_wh)::bigint,
               coalesce(m.days, 0), greatest(0, x.days - coalesce(m.days, 0)), 'readings'
          FROM expected x LEFT JOIN metered m ON m.station_id = x.station_id
        ON CONFLICT (station_id, period_start, period_end) DO UPDATE
           SET metered_wh = excluded.metered_wh, estimated_wh = excluded.estimated_wh,
               metered_days = excluded.metered_days, estimated_days = excluded.estimated_days,
               computed_at = now()
         WHERE pe.source = 'readings'
        """,
        {"s": period.start, "e": period.end},
    )
    return cur.rowcount


def stations_needing_energy(conn: psycopg.Connection, period: Period) -> int:
    """Fill temporary ``_div_need`` with the ``_div_scope`` stations lacking fed energy."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _div_need (station_id bigint PRIMARY KEY)")
    conn.execute("TRUNCATE _div_need")
    cur = conn.execute(
        """
        INSERT INTO _div_need (station_id)
        SELECT sc.station_id FROM _div_scope sc
         WHERE NOT EXISTS (SELECT 1 FROM station_period_energy e
                            WHERE e.station_id = sc.station_id AND e.period_start = %(s)s
                              AND e.period_end = %(e)s AND e.source = 'fed')
        """,
        {"s": period.start, "e": period.end},
    )
    return cur.rowcount


def _check_prices(conn: psycopg.Connection, on: date) -> None:
    missing = conn.execute(
        """
        SELECT s.code, c.province, s.tariff_ref,
               (SELECT count(*) FROM benchmark_prices b
                 WHERE b.province = c.province AND b.effective_from <= %(on)s) AS nb,
               (SELECT count(*) FROM station_tariffs t
                 WHERE t.tariff_ref = s.tariff_ref AND t.effective_from <= %(on)s) AS nt
          FROM stations s JOIN _div_scope sc ON sc.station_id = s.id
          JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
          JOIN counties c ON c.id = tw.county_id
         WHERE NOT EXISTS (SELECT 1 FROM benchmark_prices b
                            WHERE b.province = c.province AND b.effective_from <= %(on)s)
            OR NOT EXISTS (SELECT 1 FROM station_tariffs t
                            WHERE t.tariff_ref = s.tariff_ref AND t.effective_from <= %(on)s)
         ORDER BY s.code LIMIT 20
        """,
        {"on": on},
    ).fetchall()
    if missing:
        problems = [
            f"station {code}: "
            + ("no benchmark_prices for province " + repr(prov) if not nb else "")
            + ("; " if not nb and not nt else "")
            + ("no station_tariffs for tariff_ref " + repr(ref) if not nt else "")
            + f" in force on {on}"
            for code, prov, ref, nb, nt in missing
        ]
        raise MissingPriceError(problems[0], problems)


def write_revenue_lines(conn: psycopg.Connection, period: Period) -> int:
    """Replace the accrual revenue lines of the ``_div_scope`` stations for ``period``."""
    _check_prices(conn, period.start)
    conn.execute(
        """
        DELETE FROM revenue_lines r USING _div_scope sc
         WHERE r.station_id = sc.station_id AND r.period_start = %(s)s AND r.period_end = %(e)s
           AND r.source IN ('metered', 'estimated')
        """,
        {"s": period.start, "e": period.end},
    )
    cur = conn.execute(
        """
        WITH bench AS (
            SELECT DISTINCT ON (province) province, yuan_per_kwh FROM benchmark_prices
             WHERE effective_from <= %(s)s ORDER BY province, effective_from DESC
        ), tariff AS (
            SELECT DISTINCT ON (tariff_ref) tariff_ref, yuan_per_kwh FROM station_tariffs
             WHERE effective_from <= %(s)s ORDER BY tariff_ref, effective_from DESC
        ), p AS (
            SELECT s.id AS station_id, e.metered_wh, e.estimated_wh,
                   b.yuan_per_kwh AS bench, t.yuan_per_kwh AS tariff
              FROM station_period_energy e
              JOIN _div_scope sc ON sc.station_id = e.station_id
              JOIN stations s ON s.id = e.station_id
              JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
              JOIN counties c ON c.id = tw.county_id
              JOIN bench b ON b.province = c.province
              JOIN tariff t ON t.tariff_ref = s.tariff_ref
             WHERE e.period_start = %(s)s AND e.period_end = %(e)s
        ), parts AS (
            SELECT station_id, 'benchmark' AS part, bench AS price, metered_wh, estimated_wh
              FROM p
            UNION ALL
            SELECT station_id, 'subsidy', greatest(0, tariff - bench), metered_wh, estimated_wh
              FROM p
        )
        INSERT INTO revenue_lines (station_id, period_start, period_end, part, source,
                                   energy_wh, yuan_per_kwh, amount_fen, estimated)
        SELECT station_id, %(s)s, %(e)s, part, src.source, src.wh, price,
               round(src.wh * price / 10)::bigint, src.source = 'estimated'
          FROM parts
         CROSS JOIN LATERAL (VALUES ('metered', metered_wh), ('estimated', estimated_wh))
               AS src (source, wh)
         WHERE src.source = 'metered' OR src.wh > 0
        """,
        {"s": period.start, "e": period.end},
    )
    return cur.rowcount
