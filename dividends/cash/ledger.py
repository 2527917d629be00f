"""Subsidy receipts, allocation basis, the advance ledger and cash-basis runs (SQL edge).

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
- :func:`rebase_on_cash` (``received``): re-allocates a draft run's ``received`` units from
  the cash that arrived in the run period (settled benchmark of the period + subsidy
  batches received in it, for any generation period), with the engine's own
  :func:`dividends.allocation.allocate`, so shortfalls become arrears under the scheme's
  policy and are paid when the cash comes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg

from dividends.allocation import allocate, grouped_largest_remainder
from dividends.cash.errors import ReceiptError
from dividends.cash.pure import allocate_receipt, repay_oldest_first
from dividends.errors import RunNotFoundError, RunStateError
from dividends.periods import Period, parse_period
from pvmon.errors import DatabaseError, NotFoundError, ValidationError

__all__ = [
    "BASES",
    "Receipt",
    "SubsidyStatus",
    "advance_ledger",
    "outstanding_advances",
    "rebase_on_cash",
    "record_advances",
    "record_receipt",
    "set_basis",
    "subsidy_status",
]

BASES = ("accrued", "received")
_SCALE = 10**6


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
    """Set the allocation basis of a county (code) or a scheme (code)."""
    if basis not in BASES:
        raise ValidationError(f"basis: {basis!r} is not one of {list(BASES)}")
    if (county is None) == (scheme is None):
        raise ValidationError("basis: give either a county or a scheme")
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


_UNITS = """
WITH scheme_basis AS (
    SELECT l.station_id, l.unit_village_id AS village_id, max(b.basis) AS basis
      FROM dividend_lines l
      JOIN dividend_schemes sc ON sc.id = l.scheme_id
      JOIN cash_allocation_basis b ON b.scheme_code = sc.code
     WHERE l.run_id = %(run)s
     GROUP BY 1, 2
), unit_basis AS (
    SELECT u.station_id, u.village_id, coalesce(sb.basis, cb.basis, 'accrued') AS basis
      FROM dividend_run_units u
      JOIN stations s ON s.id = u.station_id
      JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
      LEFT JOIN cash_allocation_basis cb ON cb.county_id = tw.county_id
      LEFT JOIN scheme_basis sb ON sb.station_id = u.station_id AND sb.village_id = u.village_id
     WHERE u.run_id = %(run)s
), settled AS (
    SELECT station_id, sum(amount_fen)::bigint AS fen FROM grid_settlements
     WHERE period_start >= %(s)s AND period_end <= %(e)s GROUP BY station_id
), received AS (
    SELECT l.station_id, sum(l.amount_fen) AS fen FROM subsidy_receipt_lines l
      JOIN subsidy_receipts r ON r.id = l.receipt_id
     WHERE {subsidy} GROUP BY l.station_id
)
SELECT u.station_id, u.village_id, tw.county_id, (u.share_weight * 1000000)::bigint,
       u.deductions_fen, u.paid_fen + u.arrears_paid_fen, ub.basis,
       coalesce(st.fen, 0)::bigint, coalesce(rc.fen, 0)::bigint
  FROM dividend_run_units u
  JOIN unit_basis ub USING (station_id, village_id)
  JOIN stations s ON s.id = u.station_id
  JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
  LEFT JOIN settled st ON st.station_id = u.station_id
  LEFT JOIN received rc ON rc.station_id = u.station_id
 WHERE u.run_id = %(run)s
 ORDER BY u.station_id, u.village_id
"""


def _unit_cash(rows: list[tuple], column: int) -> np.ndarray:
    """Split each station's cash [fen] (row ``column``) over its units by share weight."""
    st = np.array([r[0] for r in rows], dtype=np.int64)
    vil = np.array([r[1] for r in rows], dtype=np.int64)
    w = np.array([r[3] for r in rows], dtype=np.int64)
    cash = np.array([r[column] for r in rows], dtype=np.int64)
    ids, group = np.unique(st, return_inverse=True)
    totals = np.zeros(ids.size, dtype=np.int64)
    totals[group] = cash
    return grouped_largest_remainder(group, w, totals, tiebreak=vil)


def record_advances(conn: psycopg.Connection, run_id: int, *, advanced_on: date) -> int:
    """Advances [fen] for the ``accrued`` units of an approved run: paid − (settled
    benchmark + subsidy received by ``advanced_on`` for the period − deductions), when
    positive. Recording again adds nothing. Returns the run's total advance."""
    status, period = _run(conn, run_id)
    if status == "draft":
        raise RunStateError(f"dividend run {run_id}: advances are recorded once it is approved")
    rows = conn.execute(
        _UNITS.format(
            subsidy="l.period_start >= %(s)s AND l.period_end <= %(e)s AND r.received_on <= %(on)s"
        ),
        {"run": run_id, "s": period.start, "e": period.end, "on": advanced_on},
    ).fetchall()
    if not rows:
        return 0
    cash = _unit_cash([(*r[:7], r[7] + r[8]) for r in rows], 7)
    out: list[tuple[object, ...]] = []
    for r, c in zip(rows, cash, strict=True):
        if r[6] != "accrued":
            continue
        advance = int(r[5]) - max(int(c) - int(r[4]), 0)
        if advance > 0:
            out.append((r[2], r[1], r[0], run_id, period.start, period.end, advanced_on, advance))
    conn.cursor().executemany(
        """INSERT INTO cash_advances (county_id, village_id, station_id, run_id, period_start,
               period_end, advanced_on, amount_fen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (run_id, station_id, village_id) DO NOTHING""",
        out,
    )
    total = conn.execute(
        "SELECT coalesce(sum(amount_fen), 0) FROM cash_advances WHERE run_id = %s", (run_id,)
    ).fetchone()
    return int(total[0]) if total else 0


def rebase_on_cash(conn: psycopg.Connection, run_id: int) -> int:
    """Re-allocate the ``received`` units of a draft run from the cash of its period.

    Cash per station [fen] = settled benchmark amounts of the period + subsidy receipts
    received in the period (whatever generation period they pay); split over the station's
    units by share weight; available = max(0, cash − deductions). Lines get their paid,
    arrears and amounts anew (arrears owed from approved runs are paid from a surplus);
    returns the number of units rebased. Recomputing the draft with the engine undoes it,
    so call this last, before approval.
    """
    status, period = _run(conn, run_id)
    if status != "draft":
        raise RunStateError(f"dividend run {run_id}: status is {status}, only drafts rebase")
    params = {"run": run_id, "s": period.start, "e": period.end}
    rows = conn.execute(
        _UNITS.format(subsidy="r.received_on >= %(s)s AND r.received_on < %(e)s"), params
    ).fetchall()
    keep = [i for i, r in enumerate(rows) if r[6] == "received"]
    if not keep:
        return 0
    bench = _unit_cash(rows, 7)
    subsidy = _unit_cash(rows, 8)
    units = {(int(rows[i][0]), int(rows[i][1])): k for k, i in enumerate(keep)}
    available = np.array(
        [max(int(bench[i] + subsidy[i]) - int(rows[i][4]), 0) for i in keep], dtype=np.int64
    )
    lines = conn.execute(
        """
        SELECT l.id, l.station_id, l.unit_village_id, l.obligation_fen, l.policy,
               CASE WHEN l.policy = 'pro_rata_carry_forward' THEN coalesce((
                   SELECT sum(o.arrears_added_fen - o.arrears_paid_fen) FROM dividend_lines o
                     JOIN dividend_runs r ON r.id = o.run_id
                    WHERE r.status <> 'draft' AND o.period_start < %(s)s
                      AND o.enrolment_id = l.enrolment_id AND o.component = l.component), 0)
               ELSE 0 END
          FROM dividend_lines l WHERE l.run_id = %(run)s AND l.line_kind = 'dividend'
         ORDER BY l.enrolment_id, l.component, l.id
        """,
        params,
    ).fetchall()
    mine = [ln for ln in lines if (int(ln[1]), int(ln[2])) in units]
    alloc = allocate(
        units=[units[(int(ln[1]), int(ln[2]))] for ln in mine],
        available=available,
        obligations=[int(ln[3]) for ln in mine],
        policies=[str(ln[4]) for ln in mine],
        arrears=[max(int(ln[5]), 0) for ln in mine],
    )
    with conn.transaction():
        conn.cursor().executemany(
            """UPDATE dividend_lines SET paid_fen = %s, arrears_added_fen = %s,
                   arrears_paid_fen = %s, amount_fen = %s, factor = %s,
                   revenue_benchmark_fen = %s, revenue_subsidy_fen = %s
                WHERE id = %s""",
            [
                (
                    int(alloc.paid[j]),
                    int(alloc.arrears_added[j]),
                    int(alloc.arrears_paid[j]),
                    int(alloc.paid[j] + alloc.arrears_paid[j]),
                    float(alloc.factor[j]),
                    int(bench[keep[units[(int(ln[1]), int(ln[2]))]]]),
                    int(subsidy[keep[units[(int(ln[1]), int(ln[2]))]]]),
                    int(ln[0]),
                )
                for j, ln in enumerate(mine)
            ],
        )
        conn.cursor().executemany(
            """UPDATE dividend_run_units SET available_fen = %s, paid_fen = %s,
                   arrears_paid_fen = %s, shortfall_fen = %s, residual_fen = %s, factor = %s,
                   revenue_benchmark_fen = %s, revenue_subsidy_fen = %s
                WHERE run_id = %s AND station_id = %s AND village_id = %s""",
            [
                (
                    int(available[k]),
                    int(alloc.unit_paid[k]),
                    int(alloc.unit_arrears_paid[k]),
                    int(alloc.unit_shortfall[k]),
                    int(alloc.unit_residual[k]),
                    float(alloc.unit_factor[k]),
                    int(bench[i]),
                    int(subsidy[i]),
                    run_id,
                    int(rows[i][0]),
                    int(rows[i][1]),
                )
                for k, i in enumerate(keep)
            ],
        )
    return len(keep)


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
