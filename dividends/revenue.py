"""Revenue as data: the energy basis per station and period, and revenue lines by part.

Energy basis (``station_period_energy``) is, per station and period, the **settled**
energy of the grid's statements where they cover the whole period
(:func:`write_settled_energy`, source ``settled``), else computed from metered daily
energy (``station_energy_daily``; days without data are filled from the station's
expected yield and counted as estimated days), unless it was **fed** directly with
:func:`feed_energy` (benchmarks, imported meter readings). A fed row is never
overwritten; a settled row only by newer statements.

Revenue lines (``revenue_lines``) are energy × price per part:

- ``benchmark``: energy [kWh] × the province's coal benchmark [yuan/kWh];
- ``subsidy``: energy [kWh] × max(0, station tariff − benchmark) [yuan/kWh];

each once for metered energy (source ``metered``) and once for estimated energy (source
``estimated``, ``estimated = true``). Amounts are rounded half away from zero to the
fen, per line. Prices are the schedule entries in force on the period's first day. The
cash side (issue "county cash") adds lines with source ``settled``.

Revenue basis (:func:`write_revenue_basis`): what a run allocates per station and part
[fen], on the station's **allocation basis** (``cash_allocation_basis``, set with
:func:`dividends.cash.ledger.set_basis`; see :func:`station_basis_sql`):

- ``accrued`` (the default): the accrual revenue lines (:data:`ACCRUAL_SOURCES`) of the
  period: what the output earned, whether or not the cash has come;
- ``received``: the cash of the period: the grid's settled benchmark amounts for
  settlement periods within the run period (``grid_settlements``) and the subsidy batches
  *received* within it (``subsidy_receipts.received_on``), whatever generation period they
  pay (``subsidy_receipt_lines``); ``late_fen`` is the part that pays generation periods
  before the run's, which pays their carry-forward arrears first
  (:func:`dividends.runs`, step 5).

The run's deductions and allocation both read this basis, so computing, recomputing and
adjusting a run all allocate the same money.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

from dividends.errors import MissingPriceError
from dividends.periods import Period
from pvmon.db.bulkcopy import analyze_grown, quick_analyze
from pvmon.errors import DatabaseError, ValidationError

__all__ = [
    "ACCRUAL_SOURCES",
    "BASES",
    "EnergyFeed",
    "compute_energy_basis",
    "feed_energy",
    "station_basis_sql",
    "stations_needing_energy",
    "write_revenue",
    "write_revenue_basis",
    "write_revenue_lines",
    "write_settled_energy",
]

ACCRUAL_SOURCES = ("metered", "estimated")
BASES = ("accrued", "received")

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


def write_settled_energy(conn: psycopg.Connection, period: Period) -> int:
    """Settled energy [Wh] as the energy basis (source ``settled``) of every ``_div_scope``
    station whose grid statements cover all of ``period``; replaces energy computed from
    readings (and earlier settled figures), never fed rows. Returns stations written.

    Their benchmark revenue line then carries the settled amount
    (:func:`write_revenue_lines`): the statement is what the grid paid."""
    cur = conn.execute(
        """
        INSERT INTO station_period_energy AS pe (station_id, period_start, period_end,
               metered_wh, estimated_wh, metered_days, estimated_days, source)
        SELECT g.station_id, %(s)s, %(e)s, sum(g.energy_wh)::bigint, 0, %(days)s, 0, 'settled'
          FROM grid_settlements g JOIN _div_scope sc ON sc.station_id = g.station_id
         WHERE g.period_start >= %(s)s AND g.period_end <= %(e)s
         GROUP BY g.station_id
        HAVING sum(g.period_end - g.period_start) = %(days)s
        ON CONFLICT (station_id, period_start, period_end) DO UPDATE
           SET metered_wh = excluded.metered_wh, estimated_wh = 0,
               metered_days = excluded.metered_days, estimated_days = 0, source = 'settled',
               computed_at = now()
         WHERE pe.source IN ('readings', 'settled')
        """,
        {"s": period.start, "e": period.end, "days": period.days},
    )
    return cur.rowcount


def stations_needing_energy(conn: psycopg.Connection, period: Period) -> int:
    """Fill temporary ``_div_need`` with the ``_div_scope`` stations lacking fed or
    settled energy."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _div_need (station_id bigint PRIMARY KEY)")
    conn.execute("TRUNCATE _div_need")
    cur = conn.execute(
        """
        INSERT INTO _div_need (station_id)
        SELECT sc.station_id FROM _div_scope sc
         WHERE NOT EXISTS (SELECT 1 FROM station_period_energy e
                            WHERE e.station_id = sc.station_id AND e.period_start = %(s)s
                              AND e.period_end = %(e)s AND e.source IN ('fed', 'settled'))
        """,
        {"s": period.start, "e": period.end},
    )
    return cur.rowcount


# every province and tariff that stations anywhere use has a price in force: no station
# of any scope can lack one (the per-station query below only runs when this fails)
_ALL_PRICED = """
SELECT NOT EXISTS (SELECT 1 FROM counties c
                    WHERE NOT EXISTS (SELECT 1 FROM benchmark_prices b
                                       WHERE b.province = c.province
                                         AND b.effective_from <= %(on)s))
   AND NOT EXISTS (SELECT 1 FROM (SELECT DISTINCT tariff_ref FROM stations) s
                    WHERE NOT EXISTS (SELECT 1 FROM station_tariffs t
                                       WHERE t.tariff_ref = s.tariff_ref
                                         AND t.effective_from <= %(on)s))
"""


def _check_prices(conn: psycopg.Connection, on: date) -> None:
    priced = conn.execute(_ALL_PRICED, {"on": on}).fetchone()
    if priced and priced[0]:
        return
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


_REVENUE_ROWS = """
WITH bench AS (
    SELECT DISTINCT ON (province) province, yuan_per_kwh FROM benchmark_prices
     WHERE effective_from <= %(s)s ORDER BY province, effective_from DESC
), tariff AS (
    SELECT DISTINCT ON (tariff_ref) tariff_ref, yuan_per_kwh FROM station_tariffs
     WHERE effective_from <= %(s)s ORDER BY tariff_ref, effective_from DESC
), settled AS (  -- settled energy: the benchmark part is what the grid's statements paid
    SELECT gs.station_id, sum(gs.amount_fen)::bigint AS fen
      FROM grid_settlements gs JOIN _div_scope sc ON sc.station_id = gs.station_id
     WHERE gs.period_start >= %(s)s AND gs.period_end <= %(e)s
     GROUP BY gs.station_id
)
INSERT INTO revenue_lines (station_id, period_start, period_end, part, source,
                           energy_wh, yuan_per_kwh, amount_fen, estimated)
SELECT * FROM (
SELECT p.station_id, %(s)s::date AS period_start, %(e)s::date AS period_end, k.part,
       k.source, k.wh AS energy_wh, k.price AS yuan_per_kwh,
       CASE WHEN k.part = 'benchmark' AND k.source = 'metered' AND p.settled_fen IS NOT NULL
            THEN p.settled_fen ELSE round(k.wh * k.price / 10)::bigint END AS amount_fen,
       k.source = 'estimated' AS estimated
  FROM (SELECT s.id AS station_id, e.metered_wh, e.estimated_wh,
               b.yuan_per_kwh AS bench, greatest(0, t.yuan_per_kwh - b.yuan_per_kwh)
                 AS subsidy,
               CASE WHEN e.source = 'settled' THEN g.fen END AS settled_fen
          FROM station_period_energy e
          JOIN _div_scope sc ON sc.station_id = e.station_id
          JOIN stations s ON s.id = e.station_id
          JOIN villages v ON v.id = s.village_id
          JOIN townships tw ON tw.id = v.township_id
          JOIN counties c ON c.id = tw.county_id
          JOIN bench b ON b.province = c.province
          JOIN tariff t ON t.tariff_ref = s.tariff_ref
          LEFT JOIN settled g ON g.station_id = s.id
         WHERE e.period_start = %(s)s AND e.period_end = %(e)s) p
 CROSS JOIN LATERAL (VALUES ('benchmark', 'metered', p.metered_wh, p.bench),
                            ('benchmark', 'estimated', p.estimated_wh, p.bench),
                            ('subsidy', 'metered', p.metered_wh, p.subsidy),
                            ('subsidy', 'estimated', p.estimated_wh, p.subsidy))
       AS k (part, source, wh, price)
 WHERE k.source = 'metered' OR k.wh > 0
) n
"""

# rewritten: only the lines whose figures changed are written again (a recompute on the
# same energy writes nothing, and leaves no dead rows for the statements after it); the
# unchanged ones are left out before the insert, as ON CONFLICT would lock each of them
_CHANGED_ONLY = """
 WHERE NOT EXISTS (SELECT 1 FROM revenue_lines r
                    WHERE r.station_id = n.station_id AND r.period_start = n.period_start
                      AND r.period_end = n.period_end AND r.part = n.part
                      AND r.source = n.source
                      AND (r.energy_wh, r.yuan_per_kwh, r.amount_fen, r.estimated)
                          IS NOT DISTINCT FROM (n.energy_wh, n.yuan_per_kwh, n.amount_fen,
                                                n.estimated))
ON CONFLICT (station_id, period_start, period_end, part, source) DO UPDATE
   SET energy_wh = EXCLUDED.energy_wh, yuan_per_kwh = EXCLUDED.yuan_per_kwh,
       amount_fen = EXCLUDED.amount_fen, estimated = EXCLUDED.estimated
 WHERE (revenue_lines.energy_wh, revenue_lines.yuan_per_kwh, revenue_lines.amount_fen,
        revenue_lines.estimated)
       IS DISTINCT FROM (EXCLUDED.energy_wh, EXCLUDED.yuan_per_kwh, EXCLUDED.amount_fen,
                         EXCLUDED.estimated)
"""

# the scope's accrual lines of the period that the energy basis no longer produces
_STALE = """
DELETE FROM revenue_lines r USING _div_scope sc
 WHERE r.station_id = sc.station_id AND r.period_start = %(s)s AND r.period_end = %(e)s
   AND r.source IN ('metered', 'estimated')
   AND NOT EXISTS (SELECT 1 FROM station_period_energy e
                    WHERE e.station_id = r.station_id AND e.period_start = %(s)s
                      AND e.period_end = %(e)s
                      AND (r.source = 'metered' OR e.estimated_wh > 0))
"""


def write_revenue_lines(conn: psycopg.Connection, period: Period) -> int:
    """Make the accrual revenue lines of the ``_div_scope`` stations for ``period`` what
    their energy basis and the prices say (settled energy: the benchmark part is what
    the grid's statements paid); returns the lines written. The first time they are
    inserted; after that only lines whose figures changed are written, and lines the
    energy basis no longer produces are deleted."""
    return _write_lines(conn, period, before=_lines_written_before(conn, period))


def _write_lines(conn: psycopg.Connection, period: Period, *, before: bool) -> int:
    """:func:`write_revenue_lines`, told whether the period has lines ``before``."""
    _check_prices(conn, period.start)
    params = {"s": period.start, "e": period.end}
    if before:
        conn.execute(_STALE, params)
        cur = conn.execute(_REVENUE_ROWS + _CHANGED_ONLY, params)
    else:
        cur = conn.execute(_REVENUE_ROWS, params)
    _analyze_lines(conn, cur.rowcount)
    return cur.rowcount


def _lines_written_before(conn: psycopg.Connection, period: Period) -> bool:
    """True when a ``_div_scope`` station has accrual revenue lines for ``period``."""
    found = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM revenue_lines r JOIN _div_scope sc"
        " ON sc.station_id = r.station_id WHERE r.period_start = %(s)s"
        " AND r.period_end = %(e)s AND r.source IN ('metered', 'estimated'))",
        {"s": period.start, "e": period.end},
    ).fetchone()
    return bool(found and found[0])


def _analyze_lines(conn: psycopg.Connection, written: int) -> None:
    analyze_grown(
        conn,
        "revenue_lines",
        written=written,
        columns=("station_id", "period_start", "period_end", "part", "source"),
    )


# the period's first lines and, summed from them as they are written, the accrued basis
_FIRST_LINES_AND_BASIS = """
WITH written AS (
{lines}
RETURNING station_id, part, amount_fen
), basis AS (
    INSERT INTO _div_revenue (station_id, basis, bench_fen, subsidy_fen, late_fen, accrued_fen)
    {sums} FROM written r GROUP BY r.station_id
)
SELECT count(*) FROM written
"""


def write_revenue(conn: psycopg.Connection, period: Period) -> int:
    """The revenue lines (:func:`write_revenue_lines`) and the revenue basis
    (:func:`write_revenue_basis`) of the ``_div_scope`` stations for ``period``; returns
    the number of ``received`` stations. A period's first lines, while nobody allocates
    on cash, are summed into the basis as they are written (one statement: a province's
    1.6 M lines are not read back)."""
    before = _lines_written_before(conn, period)
    if before or _any_received(conn):
        _write_lines(conn, period, before=before)
        return write_revenue_basis(conn, period)
    _check_prices(conn, period.start)
    _create_basis(conn)
    row = conn.execute(
        _FIRST_LINES_AND_BASIS.format(lines=_REVENUE_ROWS, sums=_ACCRUED_SUMS),
        {"s": period.start, "e": period.end},
    ).fetchone()
    _analyze_lines(conn, int(row[0]) if row else 0)
    quick_analyze(conn, "_div_revenue")
    return 0


def _any_received(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM cash_allocation_basis WHERE basis = 'received')"
    ).fetchone()
    return bool(row and row[0])


def station_basis_sql(conn: psycopg.Connection, stations: str) -> str:
    """SQL selecting ``(station_id, basis)`` for the stations of the subquery ``stations``
    (one column ``station_id``, no duplicates) in the period ``%(s)s`` .. ``%(e)s``.

    Each enrolment of the station's slots that overlaps the period is on its scheme's
    basis (``cash_allocation_basis.scheme_code``) or, without one, its county's
    (``county_id``), or ``accrued``. A station's units share its cash and its deductions,
    so a station has one basis: ``received`` when any such enrolment is on ``received``;
    a station without enrolments in the period is on its county's basis. While nothing is
    set to ``received`` the SQL just says ``accrued`` (no look at the enrolments).
    """
    if not _any_received(conn):
        return f"SELECT st.station_id, 'accrued'::text AS basis FROM ({stations}) st"
    return f"""
        WITH st AS ({stations}), place AS (
            SELECT st.station_id, coalesce(cb.basis, 'accrued') AS county_basis
              FROM st JOIN stations s ON s.id = st.station_id
              JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
              LEFT JOIN cash_allocation_basis cb ON cb.county_id = tw.county_id
        ), enrolled AS (
            SELECT p.station_id,
                   bool_or(coalesce(sb.basis, p.county_basis) = 'received') AS received
              FROM place p
              JOIN station_slots sl ON sl.station_id = p.station_id
              JOIN dividend_enrolments en ON en.slot_id = sl.id
              JOIN dividend_schemes sc ON sc.id = en.scheme_id
              LEFT JOIN cash_allocation_basis sb ON sb.scheme_code = sc.code
             WHERE en.starts_on < %(e)s AND (en.ends_on IS NULL OR en.ends_on > %(s)s)
             GROUP BY p.station_id
        )
        SELECT p.station_id,
               CASE WHEN coalesce(e.received, p.county_basis = 'received') THEN 'received'
                    ELSE 'accrued' END AS basis
          FROM place p LEFT JOIN enrolled e ON e.station_id = p.station_id
    """


# a station's accrued basis from its revenue lines ``r`` (grouped by station)
_ACCRUED_SUMS = """
SELECT r.station_id, 'accrued' AS basis,
       coalesce(sum(r.amount_fen) FILTER (WHERE r.part = 'benchmark'), 0)::bigint AS bench,
       coalesce(sum(r.amount_fen) FILTER (WHERE r.part = 'subsidy'), 0)::bigint AS subsidy,
       0::bigint AS late, coalesce(sum(r.amount_fen), 0)::bigint AS accrued"""

_ACCRUED = f"""{_ACCRUED_SUMS}
  FROM revenue_lines r JOIN _div_scope sc ON sc.station_id = r.station_id
 WHERE r.period_start = %(s)s AND r.period_end = %(e)s AND r.source IN ('metered', 'estimated')
 GROUP BY r.station_id
"""

_BY_BASIS = """
WITH basis AS ({basis}), accrued AS ({accrued}), settled AS (
    SELECT g.station_id, sum(g.amount_fen)::bigint AS fen
      FROM grid_settlements g JOIN _div_scope sc ON sc.station_id = g.station_id
     WHERE g.period_start >= %(s)s AND g.period_end <= %(e)s
     GROUP BY g.station_id
), received AS (
    SELECT l.station_id, sum(l.amount_fen)::bigint AS fen,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.period_start < %(s)s), 0)::bigint AS late
      FROM subsidy_receipt_lines l JOIN subsidy_receipts r ON r.id = l.receipt_id
      JOIN _div_scope sc ON sc.station_id = l.station_id
     WHERE r.received_on >= %(s)s AND r.received_on < %(e)s
     GROUP BY l.station_id
)
SELECT b.station_id, b.basis,
       CASE WHEN b.basis = 'received' THEN coalesce(st.fen, 0) ELSE a.bench END,
       CASE WHEN b.basis = 'received' THEN coalesce(rc.fen, 0) ELSE a.subsidy END,
       CASE WHEN b.basis = 'received' THEN coalesce(rc.late, 0) ELSE 0 END,
       coalesce(a.accrued, 0)
  FROM basis b
  LEFT JOIN accrued a ON a.station_id = b.station_id
  LEFT JOIN settled st ON st.station_id = b.station_id
  LEFT JOIN received rc ON rc.station_id = b.station_id
 WHERE b.basis = 'received' OR a.station_id IS NOT NULL
"""


def _create_basis(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _div_revenue (station_id bigint PRIMARY KEY,"
        " basis text NOT NULL, bench_fen bigint NOT NULL, subsidy_fen bigint NOT NULL,"
        " late_fen bigint NOT NULL, accrued_fen bigint NOT NULL)"
    )
    conn.execute("TRUNCATE _div_revenue")


def write_revenue_basis(conn: psycopg.Connection, period: Period) -> int:
    """Fill temporary ``_div_revenue`` with what each ``_div_scope`` station allocates in
    ``period`` on its allocation basis: ``(station_id, basis, bench_fen, subsidy_fen,
    late_fen, accrued_fen)`` [fen] (see the module docstring; ``accrued_fen`` is the
    period's accrued revenue whatever the basis: what a ``received`` station's cash is
    paid toward). Accrued stations without revenue lines get no row. Returns the number
    of ``received`` stations."""
    _create_basis(conn)
    params = {"s": period.start, "e": period.end}
    columns = (
        "INSERT INTO _div_revenue (station_id, basis, bench_fen, subsidy_fen, late_fen,"
        " accrued_fen) "
    )
    if not _any_received(conn):  # nobody allocates on cash: the accrual lines as they are
        conn.execute(columns + _ACCRUED, params)
        received = 0
    else:
        basis = station_basis_sql(conn, "SELECT station_id FROM _div_scope")
        conn.execute(columns + _BY_BASIS.format(basis=basis, accrued=_ACCRUED), params)
        counted = conn.execute(
            "SELECT count(*) FROM _div_revenue WHERE basis = 'received'"
        ).fetchone()
        received = int(counted[0]) if counted else 0
    quick_analyze(conn, "_div_revenue")
    return received
