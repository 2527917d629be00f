"""Subsidy receipts, the allocation basis setting and the advance ledger (SQL edge).

- :func:`record_receipt` stores a subsidy batch and allocates it to the station-periods it
  covers by their outstanding accrued subsidy (largest remainder, tie-break station id then
  period start); ``full`` batches must pay exactly what is outstanding, ``partial`` ones at
  most that. Each station's share then repays that station's outstanding advances, oldest
  first (:func:`dividends.cash.pure.repay_oldest_first`).
- :func:`set_basis` chooses ``accrued`` or ``received`` per county or scheme (a scheme's
  setting wins; without any setting a county is ``accrued``).
- :func:`record_advances` (``accrued``): after a run is approved, what its units paid beyond
  the cash held for them (settled benchmark + subsidy received so far − deductions) is an
  advance of the county to the unit's village.

Under ``received`` the dividend engine itself allocates from the cash of the run period
(settled benchmark of the period + subsidy batches received in it, for any generation
period; :func:`dividends.revenue.write_revenue_basis`), so computing, recomputing and
adjusting a run need no extra step: shortfalls become arrears under the scheme's policy and
are paid when the cash comes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg

from dividends.allocation import grouped_largest_remainder
from dividends.cash.errors import ReceiptError
from dividends.cash.pure import allocate_receipt, repay_oldest_first
from dividends.errors import RunNotFoundError, RunStateError
from dividends.periods import Period, parse_period
from dividends.revenue import BASES, station_basis_sql
from pvmon.errors import DatabaseError, NotFoundError, ValidationError

__all__ = [
    "BASES",
    "Receipt",
    "SubsidyStatus",
    "advance_ledger",
    "outstanding_advances",
    "record_advances",
    "record_receipt",
    "set_basis",
    "subsidy_status",
]


@dataclass(frozen=True)
class Receipt:
    """A stored batch: its id, amount [fen], station-period lines and advances repaid [fen]."""

    receipt_id: int
    amount_fen: int
    lines: int
    repaid_fen: int
    created: bool


@dataclass(frozen=True)
class SubsidyStatus:
    """Accrued, received and outstanding subsidy [fen] of one station and period."""

    station_code: str
    period_start: date
    period_end: date
    accrued_fen: int
    received_fen: int
    outstanding_fen: int


def _county_id(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute("SELECT id FROM counties WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise NotFoundError(f"county {code!r}: not found")
    return int(row[0])


def set_basis(
    conn: psycopg.Connection,
    *,
    basis: str,
    set_by: str,
    county: str | None = None,
    scheme: str | None = None,
) -> None:
    """Set the allocation basis of a county (code) or a scheme (code).

    The dividend engine reads it whenever it computes, recomputes or adjusts a run; see
    :func:`dividends.revenue.station_basis_sql` for how a station's basis follows from its
    enrolments' schemes and its county. Approved runs keep what they paid.
    """
    if basis not in BASES:
        raise ValidationError(f"basis: {basis!r} is not one of {list(BASES)}")
    if (county is None) == (scheme is None):
        raise ValidationError("basis: give either a county or a scheme")
    if scheme is not None and (
        conn.execute("SELECT 1 FROM dividend_schemes WHERE code = %s", (scheme,)).fetchone() is None
    ):
        raise NotFoundError(f"scheme {scheme!r}: not found")
    if county is not None:
        cid = _county_id(conn, county)
        conn.execute(
            """INSERT INTO cash_allocation_basis (county_id, basis, set_by) VALUES (%s, %s, %s)
               ON CONFLICT (county_id) DO UPDATE SET basis = excluded.basis,
                   set_by = excluded.set_by, set_at = now()""",
            (cid, basis, set_by),
        )
    else:
        conn.execute(
            """INSERT INTO cash_allocation_basis (scheme_code, basis, set_by) VALUES (%s, %s, %s)
               ON CONFLICT (scheme_code) DO UPDATE SET basis = excluded.basis,
                   set_by = excluded.set_by, set_at = now()""",
            (scheme, basis, set_by),
        )


_OUTSTANDING = """
WITH accrued AS (
    SELECT r.station_id, r.period_start, r.period_end, sum(r.amount_fen)::bigint AS fen
      FROM revenue_lines r
      JOIN stations s ON s.id = r.station_id
      JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
     WHERE tw.county_id = %(county)s AND r.part = 'subsidy'
       AND r.source IN ('metered', 'estimated')
       AND r.period_start >= %(s)s AND r.period_end <= %(e)s
       AND (%(codes)s::text[] IS NULL OR s.code = ANY(%(codes)s))
     GROUP BY r.station_id, r.period_start, r.period_end
), received AS (
    SELECT l.station_id, l.period_start, l.period_end, sum(l.amount_fen)::bigint AS fen
      FROM subsidy_receipt_lines l
     WHERE l.period_start >= %(s)s AND l.period_end <= %(e)s
     GROUP BY l.station_id, l.period_start, l.period_end
)
SELECT a.station_id, a.period_start, a.period_end,
       greatest(0, a.fen - coalesce(r.fen, 0))::bigint AS outstanding
  FROM accrued a
  LEFT JOIN received r USING (station_id, period_start, period_end)
 WHERE a.fen - coalesce(r.fen, 0) > 0
 ORDER BY a.station_id, a.period_start
"""


def record_receipt(
    conn: psycopg.Connection,
    *,
    county: str,
    reference: str,
    received_on: date,
    covers: Period | str,
    amount_fen: int,
    coverage: str,
    recorded_by: str,
    stations: list[str] | None = None,
) -> Receipt:
    """Store a subsidy batch [fen] covering generation ``covers`` (all of the county's
    stations, or ``stations``); recording the same reference again changes nothing."""
    covers = parse_period(covers) if isinstance(covers, str) else covers
    if coverage not in ("full", "partial"):
        raise ReceiptError(f"receipt {reference}: coverage {coverage!r} is not full or partial")
    if amount_fen <= 0:
        raise ReceiptError(f"receipt {reference}: amount {amount_fen} fen must be positive")
    cid = _county_id(conn, county)
    old = conn.execute(
        "SELECT id, amount_fen, covers_start, covers_end FROM subsidy_receipts"
        " WHERE reference = %s",
        (reference,),
    ).fetchone()
    if old is not None:
        if (old[1], old[2], old[3]) != (amount_fen, covers.start, covers.end):
            raise ReceiptError(
                f"receipt {reference}: already recorded with {old[1]} fen for {old[2]}..{old[3]}"
            )
        n = conn.execute(
            "SELECT count(*) FROM subsidy_receipt_lines WHERE receipt_id = %s", (old[0],)
        ).fetchone()
        return Receipt(int(old[0]), amount_fen, int(n[0]) if n else 0, 0, False)
    try:
        with conn.transaction():
            rows = conn.execute(
                _OUTSTANDING,
                {"county": cid, "s": covers.start, "e": covers.end, "codes": stations},
            ).fetchall()
            outstanding = [int(r[3]) for r in rows]
            total = sum(outstanding)
            if coverage == "full" and amount_fen != total:
                raise ReceiptError(
                    f"receipt {reference}: a full payment must be the {total} fen outstanding "
                    f"for {covers.label}, got {amount_fen} fen"
                )
            if amount_fen > total:
                raise ReceiptError(
                    f"receipt {reference}: {amount_fen} fen exceeds the {total} fen outstanding "
                    f"for {covers.label}"
                )
            parts = allocate_receipt(amount_fen, outstanding, keys=list(range(len(rows))))
            rid_row = conn.execute(
                """INSERT INTO subsidy_receipts (county_id, reference, received_on, covers_start,
                       covers_end, coverage, amount_fen, recorded_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                (cid, reference, received_on, covers.start, covers.end, coverage, amount_fen,
                 recorded_by),
            ).fetchone()  # fmt: skip
            assert rid_row is not None
            rid = int(rid_row[0])
            per_station: dict[int, int] = defaultdict(int)
            with conn.cursor().copy(
                "COPY subsidy_receipt_lines (receipt_id, station_id, period_start, period_end,"
                " outstanding_fen, amount_fen) FROM STDIN"
            ) as copy:
                for r, part in zip(rows, parts, strict=True):
                    copy.write_row((rid, r[0], r[1], r[2], r[3], part))
                    per_station[int(r[0])] += part
            repaid = _repay(conn, rid, received_on, per_station)
    except psycopg.Error as exc:
        raise DatabaseError(f"recording receipt {reference} failed: {exc}") from exc
    return Receipt(rid, amount_fen, len(rows), repaid, True)


def _repay(conn: psycopg.Connection, receipt_id: int, on: date, cash: dict[int, int]) -> int:
    advances = conn.execute(
        """SELECT id, station_id, outstanding_fen FROM cash_advance_balances
            WHERE outstanding_fen > 0 AND station_id = ANY(%s)
            ORDER BY station_id, period_start, advanced_on, id""",
        (list(cash),),
    ).fetchall()
    by_station: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for aid, sid, owed in advances:
        by_station[int(sid)].append((int(aid), int(owed)))
    out: list[tuple[int, int, date, int]] = []
    for sid, items in by_station.items():
        parts = repay_oldest_first([o for _a, o in items], cash.get(sid, 0))
        out.extend((aid, receipt_id, on, p) for (aid, _o), p in zip(items, parts, strict=True) if p)
    if out:
        with conn.cursor().copy(
            "COPY cash_advance_repayments (advance_id, receipt_id, repaid_on, amount_fen)"
            " FROM STDIN"
        ) as copy:
            for row in out:
                copy.write_row(row)
    return sum(r[3] for r in out)


def _run(conn: psycopg.Connection, run_id: int) -> tuple[str, Period]:
    row = conn.execute(
        "SELECT status, period_label FROM dividend_runs WHERE id = %s", (run_id,)
    ).fetchone()
    if row is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    return str(row[0]), parse_period(row[1])


# One row per unit of the run. The station's cash is read by correlated sub-queries on the
# (station, period) indexes: right after a run is written the planner has no statistics
# for its units, and a join against aggregated settlements became a nested loop over
# every station per unit (12 s and more for a county of 13,743 units; now 0.2 s).
_UNITS = """
WITH unit AS (
    SELECT u.station_id, u.village_id, (u.share_weight * 1000000)::bigint AS weight,
           u.deductions_fen, u.paid_fen + u.arrears_paid_fen AS paid
      FROM dividend_run_units u WHERE u.run_id = %(run)s
), basis AS ({basis})
SELECT u.station_id, u.village_id, tw.county_id, u.weight, u.deductions_fen, u.paid, b.basis,
       (EXISTS (SELECT 1 FROM grid_settlements g WHERE g.station_id = u.station_id)
        OR EXISTS (SELECT 1 FROM subsidy_receipts r WHERE r.county_id = tw.county_id)
        OR EXISTS (SELECT 1 FROM cash_allocation_basis cb WHERE cb.county_id = tw.county_id))
         AS tracked,
       coalesce((SELECT sum(g.amount_fen) FROM grid_settlements g
                  WHERE g.station_id = u.station_id AND g.period_start >= %(s)s
                    AND g.period_end <= %(e)s), 0)::bigint
       + coalesce((SELECT sum(l.amount_fen) FROM subsidy_receipt_lines l
                     JOIN subsidy_receipts r ON r.id = l.receipt_id
                    WHERE l.station_id = u.station_id AND l.period_start >= %(s)s
                      AND l.period_end <= %(e)s AND r.received_on <= %(on)s), 0)::bigint
  FROM unit u
  JOIN basis b ON b.station_id = u.station_id
  JOIN stations s ON s.id = u.station_id
  JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
 ORDER BY u.station_id, u.village_id
"""


def record_advances(
    conn: psycopg.Connection, run_id: int, *, advanced_on: date, tracked_only: bool = False
) -> int:
    """Advances [fen] for the ``accrued`` units of an approved run: paid − (settled
    benchmark + subsidy received by ``advanced_on`` for the period − deductions), when
    positive. A station's cash is split over its units by share weight (largest remainder,
    ties to the lower village id). Recording again adds nothing. Returns the run's total
    advance. Units of ``received`` stations (:func:`dividends.revenue.station_basis_sql`)
    were paid from cash and get none. With ``tracked_only`` (as approval calls it), only
    stations whose cash pvmon tracks: with grid statements, in a county with subsidy
    receipts or an allocation basis set; elsewhere pvmon cannot tell cash from advance."""
    status, period = _run(conn, run_id)
    if status == "draft":
        raise RunStateError(f"dividend run {run_id}: advances are recorded once it is approved")
    basis = station_basis_sql(
        conn, "SELECT DISTINCT station_id FROM dividend_run_units WHERE run_id = %(run)s"
    )
    rows = conn.execute(
        _UNITS.format(basis=basis),
        {"run": run_id, "s": period.start, "e": period.end, "on": advanced_on},
    ).fetchall()
    if rows:
        cols = list(zip(*rows, strict=True))
        station = np.array(cols[0], dtype=np.int64)
        village = np.array(cols[1], dtype=np.int64)
        deductions = np.array(cols[4], dtype=np.int64)
        paid = np.array(cols[5], dtype=np.int64)
        accrued = np.array(cols[6], dtype=object) == "accrued"
        if tracked_only:
            accrued &= np.array(cols[7], dtype=bool)
        ids, group = np.unique(station, return_inverse=True)
        totals = np.zeros(ids.size, dtype=np.int64)
        totals[group] = np.array(cols[8], dtype=np.int64)
        cash = grouped_largest_remainder(
            group, np.array(cols[3], dtype=np.int64), totals, tiebreak=village
        )
        advance = paid - np.maximum(cash - deductions, 0)
        keep = np.flatnonzero(accrued & (advance > 0))
        conn.execute(
            """INSERT INTO cash_advances (county_id, village_id, station_id, run_id,
                   period_start, period_end, advanced_on, amount_fen)
               SELECT county, village, station, %(run)s, %(s)s, %(e)s, %(on)s, fen
                 FROM unnest(%(county)s::bigint[], %(village)s::bigint[],
                             %(station)s::bigint[], %(fen)s::bigint[])
                      AS a (county, village, station, fen)
               ON CONFLICT (run_id, station_id, village_id) DO NOTHING""",
            {
                "run": run_id,
                "s": period.start,
                "e": period.end,
                "on": advanced_on,
                "county": [int(cols[2][i]) for i in keep],
                "village": village[keep].tolist(),
                "station": station[keep].tolist(),
                "fen": advance[keep].tolist(),
            },
        )
    total = conn.execute(
        "SELECT coalesce(sum(amount_fen), 0) FROM cash_advances WHERE run_id = %s", (run_id,)
    ).fetchone()
    return int(total[0]) if total else 0


def outstanding_advances(conn: psycopg.Connection, county: str) -> int:
    """A county's outstanding advances [fen]."""
    row = conn.execute(
        """SELECT coalesce(sum(b.outstanding_fen), 0) FROM cash_advance_balances b
             JOIN counties c ON c.id = b.county_id WHERE c.code = %s""",
        (county,),
    ).fetchone()
    return int(row[0]) if row else 0


def advance_ledger(conn: psycopg.Connection, county: str) -> list[dict[str, object]]:
    """Every advance of a county with its repayments, in order: one dict per entry with
    ``kind`` (advance/repayment), village, station, date, amount [fen] and running balance."""
    rows = conn.execute(
        """
        SELECT * FROM (
            SELECT 'advance' AS kind, v.code AS village, s.code AS station, a.advanced_on AS day,
                   a.amount_fen AS fen, a.id, 0 AS ord, '' AS receipt
              FROM cash_advances a JOIN counties c ON c.id = a.county_id
              JOIN villages v ON v.id = a.village_id JOIN stations s ON s.id = a.station_id
             WHERE c.code = %(c)s
            UNION ALL
            SELECT 'repayment', v.code, s.code, p.repaid_on, -p.amount_fen, a.id, 1, r.reference
              FROM cash_advance_repayments p JOIN cash_advances a ON a.id = p.advance_id
              JOIN subsidy_receipts r ON r.id = p.receipt_id
              JOIN counties c ON c.id = a.county_id
              JOIN villages v ON v.id = a.village_id JOIN stations s ON s.id = a.station_id
             WHERE c.code = %(c)s) x
         ORDER BY day, ord, id
        """,
        {"c": county},
    ).fetchall()
    balance = 0
    out: list[dict[str, object]] = []
    for kind, village, station, on, fen, aid, _ord, receipt in rows:
        balance += int(fen)
        out.append(
            {
                "kind": kind,
                "village": village,
                "station": station,
                "on": on,
                "amount_fen": abs(int(fen)),
                "advance_id": int(aid),
                "receipt": receipt,
                "balance_fen": balance,
            }
        )
    return out


def subsidy_status(
    conn: psycopg.Connection, *, county: str, covers: Period | str
) -> list[SubsidyStatus]:
    """Accrued, received and outstanding subsidy [fen] per station and period."""
    covers = parse_period(covers) if isinstance(covers, str) else covers
    cid = _county_id(conn, county)
    rows = conn.execute(
        """
        WITH accrued AS (
            SELECT r.station_id, r.period_start, r.period_end, sum(r.amount_fen)::bigint AS fen
              FROM revenue_lines r JOIN stations s ON s.id = r.station_id
              JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
             WHERE tw.county_id = %(c)s AND r.part = 'subsidy'
               AND r.source IN ('metered', 'estimated')
               AND r.period_start >= %(s)s AND r.period_end <= %(e)s
             GROUP BY 1, 2, 3
        ), received AS (
            SELECT station_id, period_start, period_end, sum(amount_fen)::bigint AS fen
              FROM subsidy_receipt_lines GROUP BY 1, 2, 3
        )
        SELECT s.code, a.period_start, a.period_end, a.fen, coalesce(r.fen, 0)
          FROM accrued a JOIN stations s ON s.id = a.station_id
          LEFT JOIN received r USING (station_id, period_start, period_end)
         ORDER BY s.code, a.period_start
        """,
        {"c": cid, "s": covers.start, "e": covers.end},
    ).fetchall()
    return [
        SubsidyStatus(code, ps, pe, int(a), int(r), int(a) - int(r)) for code, ps, pe, a, r in rows
    ]
