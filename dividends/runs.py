"""Payout runs: compute or recompute a draft, approve (four eyes), export, paid, adjust.

SQL at the edges, numpy in the middle: the scope's revenue, deductions and enrolment
segments are read set-wise, allocated with :mod:`dividends.allocation` in a few
vectorised passes, and written back with COPY. Nothing loops per household per day.

Per allocation unit (station × village; one unit for household and village stations,
one per share village for joint stations):

1. energy basis and revenue lines for the period, and the revenue the run allocates per
   station on its allocation basis (:func:`dividends.revenue.write_revenue_basis`):
   accrued revenue lines, or for ``received`` stations the cash of the period (settled
   benchmark amounts + subsidy batches received in it);
2. deductions in ``seq`` order on the station's gross revenue on that basis, each capped
   at what is left (``dividend_run_deductions``: due, covered, basis);
3. the station's net revenue split among its units by share weights (largest remainder);
4. obligations: per slot, scheme component and year the yearly amount is first split
   over the year's periods by days, then over the slot's holders by days enrolled (an
   unheld day is a "vacant" part that nobody is owed), all by largest remainder;
5. :func:`dividends.allocation.allocate_late_first` with each scheme's policy: cash
   received now for earlier generation periods (``received`` stations) pays those
   periods' carry-forward arrears first, oldest first, up to what each line's target
   (``accrued_fen``: what the accrued basis pays it) still lacks; the period's own cash
   pays its obligations (a ``received`` station's toward their targets), and a surplus
   the arrears left; residual to the village collective (village/joint stations) or the
   project owner (household stations). Enrolments that have ended stay in the run while
   they are owed arrears.

Every state change is an event (``dividend_run_events``: who and when); whoever computes
or recomputes a draft is one of its makers and may not approve it; only a period that
has ended is approved, and estimated energy beyond a limit needs an acknowledgement.

``compute_run`` (and recomputing a draft) and ``create_adjustment`` share these steps, so
a ``received`` run is recomputed and adjusted on the cash it was computed on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import psycopg
from psycopg import errors as pg_errors

from dividends.allocation import (
    POLICIES,
    allocate,
    allocate_late_first,
    grouped_largest_remainder,
    grouped_split_within,
    largest_remainder,
)
from dividends.errors import (
    DoublePaymentError,
    EstimatesNotAcknowledgedError,
    FourEyesError,
    FrozenRunError,
    RunNotFoundError,
    RunStateError,
)
from dividends.periods import Period, days_in_year, parse_period, year_periods
from dividends.revenue import (
    compute_energy_basis,
    stations_needing_energy,
    write_revenue,
    write_settled_energy,
)
from pvmon.db.bulkcopy import (
    Coded,
    Scaled,
    analyze_grown,
    copy_columns,
    quick_analyze,
    read_int_columns,
)
from pvmon.errors import DatabaseError, ValidationError

__all__ = [
    "DEFAULT_ESTIMATED_SHARE_LIMIT",
    "SCOPE_KINDS",
    "RunEvent",
    "RunSummary",
    "actor_name",
    "approve_run",
    "compute_run",
    "create_adjustment",
    "discard_run",
    "ensure_expected_yields",
    "list_runs",
    "mark_exported",
    "mark_paid",
    "recompute_run",
    "run_history",
    "run_summary",
    "scope_in_county",
]

SCOPE_KINDS = ("all", "county", "township", "village", "stations")
#: a station whose energy is more estimated than this share needs an acknowledgement to
#: approve (``accept_estimated``)
DEFAULT_ESTIMATED_SHARE_LIMIT = Decimal("0.05")
Progress = Callable[[str, int, int], None]
_STEPS = 7
_SHARE_SCALE = 10**6
# text the queries send as codes (0-based positions in these; payee kinds: 0 household,
# 1 collective, as _SEGMENTS writes them)
_KINDS = ("household", "village", "joint")
_COMPONENT_BASES = ("fixed", "per_person", "share")
_PAYEE_KINDS = np.array(["household", "collective"], dtype=object)
_POLICY_NAMES = np.array(POLICIES, dtype=object)
_ENERGY_SOURCES = np.array(["readings", "fed", "settled"], dtype=object)
_BASES = np.array(["accrued", "received"], dtype=object)

# the columns that later statements look a run's rows up or join them by: a run's
# ANALYZE takes only their statistics
_DEDUCTION_KEYS = ("run_id", "station_id", "seq", "kind")
_UNIT_KEYS = ("run_id", "station_id", "village_id")
_LINE_KEYS = ("id", "run_id", "station_id", "enrolment_id", "component", "payee_id",
              "payee_kind", "line_kind", "period_start", "reverses_line_id")  # fmt: skip

_LINE_COLUMNS = (
    "run_id", "line_kind", "reverses_line_id", "station_id", "unit_village_id", "enrolment_id",
    "scheme_id", "component", "payee_kind", "payee_id", "period_start", "period_end",
    "days_enrolled", "obligation_fen", "factor", "paid_fen", "arrears_added_fen",
    "arrears_paid_fen", "amount_fen", "policy", "energy_wh", "estimated_days",
    "revenue_benchmark_fen", "revenue_subsidy_fen", "deductions_fen", "accrued_fen",
)  # fmt: skip


@dataclass(frozen=True)
class RunSummary:
    """Totals of a run [fen]; ``lines`` counts ledger lines."""

    run_id: int
    status: str
    kind: str
    period_label: str
    scope_kind: str
    scope_codes: tuple[str, ...]
    created_by: str
    approved_by: str | None
    lines: int
    units: int
    revenue_fen: int
    deductions_fen: int
    obligations_fen: int
    paid_fen: int
    arrears_paid_fen: int
    shortfall_fen: int
    residual_fen: int
    estimated_units: int


@dataclass(frozen=True)
class RunEvent:
    """One state change of a run: what, who, when, and a detail (e.g. the adjustment id)."""

    run_id: int
    event: str
    actor: str
    at: datetime
    detail: str


def actor_name(text: str) -> str:
    """The acting person's name as runs record it: trimmed and case-folded, so that
    ``"Clerk9 "`` and ``"clerk9"`` are one person."""
    name = text.strip().casefold()
    if not name:
        raise ValidationError("actor: a named person must act (empty name)")
    return name


def _event(conn: psycopg.Connection, run_id: int, event: str, actor: str, detail: str = "") -> None:
    conn.execute(
        "INSERT INTO dividend_run_events (run_id, event, actor, detail) VALUES (%s, %s, %s, %s)",
        (run_id, event, actor, detail),
    )


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


def _scope(conn: psycopg.Connection, scope_kind: str, codes: Sequence[str], period: Period) -> int:
    if scope_kind not in SCOPE_KINDS:
        raise ValidationError(f"scope: unknown kind {scope_kind!r}; expected one of {SCOPE_KINDS}")
    if scope_kind != "all" and not codes:
        raise ValidationError(f"scope {scope_kind}: give at least one code")
    where = {
        "all": "true",
        "county": "c.code = ANY(%(codes)s)",
        "township": "tw.code = ANY(%(codes)s)",
        "village": "(v.code = ANY(%(codes)s) OR EXISTS (SELECT 1 FROM station_village_shares sh"
        " JOIN villages sv ON sv.id = sh.village_id WHERE sh.station_id = s.id"
        " AND sv.code = ANY(%(codes)s)))",
        "stations": "s.code = ANY(%(codes)s)",
    }[scope_kind]
    places = (
        ""  # every station: no place to look up
        if scope_kind == "all"
        else "JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id"
        " JOIN counties c ON c.id = tw.county_id"
    )
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _div_scope (station_id bigint PRIMARY KEY)")
    conn.execute("TRUNCATE _div_scope")
    cur = conn.execute(
        f"""
        INSERT INTO _div_scope (station_id)
        SELECT s.id FROM stations s {places}
         WHERE {where}
           AND NOT EXISTS (SELECT 1 FROM station_transfers t
                            WHERE t.station_id = s.id AND t.transferred_on <= %(start)s)
        """,
        {"codes": list(codes), "start": period.start},
    )
    if scope_kind != "all":
        table = {"county": "counties", "township": "townships", "village": "villages",
                 "stations": "stations"}[scope_kind]  # fmt: skip
        found = {
            r[0]
            for r in conn.execute(f"SELECT code FROM {table} WHERE code = ANY(%s)", (list(codes),))
        }
        unknown = sorted(set(codes) - found)
        if unknown:
            what = "station" if scope_kind == "stations" else scope_kind
            raise ValidationError(
                f"scope {scope_kind}: unknown {what} code(s) {', '.join(unknown)}",
                [f"scope {scope_kind}: {code}: no such {what}" for code in unknown],
            )
    quick_analyze(conn, "_div_scope")
    return cur.rowcount


def scope_in_county(
    conn: psycopg.Connection, *, county_id: int | None, scope_kind: str, codes: Sequence[str]
) -> bool:
    """True when a run of this scope lies inside county ``county_id`` (None: any county),
    so that a person limited to one county may see and act on it."""
    if county_id is None:
        return True
    if scope_kind == "all" or not codes:
        return False
    table = {
        "county": "counties c",
        "township": "townships tw JOIN counties c ON c.id = tw.county_id",
        "village": "villages v JOIN townships tw ON"
        " tw.id = v.township_id JOIN counties c ON c.id = tw.county_id",
        "stations": "stations s JOIN villages v ON v.id = s.village_id JOIN townships tw"
        " ON tw.id = v.township_id JOIN counties c ON c.id = tw.county_id",
    }[scope_kind]
    alias = {"county": "c", "township": "tw", "village": "v", "stations": "s"}[scope_kind]
    row = conn.execute(
        f"SELECT count(*) FROM {table} WHERE {alias}.code = ANY(%s) AND c.id = %s",
        (list(set(codes)), county_id),
    ).fetchone()
    return row is not None and int(row[0]) == len(set(codes))


def ensure_expected_yields(conn: psycopg.Connection, *, only_need: bool = True) -> int:
    """Compute ``station_expected_yield`` with pvlib for stations that lack it.

    With ``only_need``, just the stations in the temporary ``_div_need`` table.
    """
    from dividends.schedule import expected_specific_yield

    source = "JOIN _div_need n ON n.station_id = s.id" if only_need else ""
    rows = conn.execute(
        f"""SELECT s.id, s.latitude, s.longitude, s.tilt_deg, s.azimuth_deg FROM stations s
            {source} WHERE NOT EXISTS (SELECT 1 FROM station_expected_yield y
                                       WHERE y.station_id = s.id)"""
    ).fetchall()
    if not rows:
        return 0
    values = [
        (sid, round(expected_specific_yield(lat, lon, tilt_deg=tilt, azimuth_deg=az), 3))
        for sid, lat, lon, tilt, az in rows
    ]
    with conn.cursor().copy(
        "COPY station_expected_yield (station_id, kwh_per_kwp_year) FROM STDIN"
    ) as copy:
        for row in values:
            copy.write_row(row)
    return len(values)


def _record_transfers(conn: psycopg.Connection, period: Period) -> None:
    """Household stations whose transfer date falls before the period's end pass to the
    household: recorded once in ``station_transfers``. Nothing is looked up per station
    while no slot is old enough for any scheme's transfer."""
    due = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM dividend_schemes sc
                           WHERE sc.transfer_after_years IS NOT NULL AND EXISTS (
                                 SELECT 1 FROM station_slots sl
                                  WHERE (sl.first_dividend_on + make_interval(
                                            years => sc.transfer_after_years))::date
                                        < %(end)s))""",
        {"end": period.end},
    ).fetchone()
    if not (due and due[0]):
        return
    conn.execute(
        """
        INSERT INTO station_transfers (station_id, household_id, transferred_on)
        SELECT DISTINCT ON (s.id) s.id, s.owner_household_id,
               (sl.first_dividend_on + make_interval(years => sc.transfer_after_years))::date
          FROM stations s
          JOIN _div_scope x ON x.station_id = s.id
          JOIN station_slots sl ON sl.station_id = s.id
          JOIN dividend_enrolments en ON en.slot_id = sl.id
          JOIN dividend_schemes sc ON sc.id = en.scheme_id
         WHERE s.kind = 'household' AND sc.transfer_after_years IS NOT NULL
           AND (sl.first_dividend_on + make_interval(years => sc.transfer_after_years))::date
               < %(end)s
         ORDER BY s.id, sl.first_dividend_on
        ON CONFLICT (station_id) DO NOTHING
        """,
        {"end": period.end},
    )


def _open_run(
    conn: psycopg.Connection,
    *,
    period: Period,
    scope_kind: str,
    codes: Sequence[str],
    created_by: str,
    run_id: int | None,
    kind: str = "regular",
    corrects: int | None = None,
    note: str = "",
) -> int:
    if run_id is not None:
        row = conn.execute(
            "SELECT status, kind, corrects_run_id FROM dividend_runs WHERE id = %s FOR UPDATE",
            (run_id,),
        ).fetchone()
        if row is None:
            raise RunNotFoundError(f"dividend run {run_id}: not found")
        if row[0] != "draft":
            raise RunStateError(f"dividend run {run_id}: status is {row[0]}, only drafts recompute")
        if row[1] == "adjustment" and kind != "adjustment":
            raise RunStateError(
                f"dividend run {run_id}: an adjustment run is not recomputed; create a new "
                f"adjustment of run {row[2]}"
            )
        return run_id  # its rows are replaced as they are computed again
    row = conn.execute(
        """
        INSERT INTO dividend_runs (kind, corrects_run_id, period_label, period_start, period_end,
                                   scope_kind, scope_codes, created_by, note)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id
        """,
        (
            kind,
            corrects,
            period.label,
            period.start,
            period.end,
            scope_kind,
            sorted(codes),
            created_by,
            note,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _revenue(conn: psycopg.Connection, period: Period, progress: Progress) -> int:
    """Energy basis, revenue lines and the revenue basis (``_div_revenue``) of the scope;
    returns the number of stations on the ``received`` basis."""
    progress("energy basis", 1, _STEPS)
    write_settled_energy(conn, period)
    if stations_needing_energy(conn, period):
        ensure_expected_yields(conn)
        compute_energy_basis(conn, period)
    progress("revenue lines", 2, _STEPS)
    return write_revenue(conn, period)


_LATE_BASIS = """
WITH late AS (  -- per station and earlier generation period: its cash before and now
    SELECT l.station_id, l.period_start AS ps, l.period_end AS pe,
           coalesce(sum(l.amount_fen) FILTER (WHERE r.received_on < %(s)s), 0) AS before_fen,
           coalesce(sum(l.amount_fen) FILTER (WHERE r.received_on >= %(s)s), 0) AS now_fen
      FROM subsidy_receipt_lines l JOIN subsidy_receipts r ON r.id = l.receipt_id
      JOIN _div_revenue v ON v.station_id = l.station_id AND v.late_fen > 0
     WHERE l.period_start < %(s)s AND r.received_on < %(e)s
     GROUP BY 1, 2, 3
    HAVING coalesce(sum(l.amount_fen) FILTER (WHERE r.received_on >= %(s)s), 0) > 0
), cash AS (
    SELECT lt.*, lt.before_fen + coalesce((
               SELECT sum(g.amount_fen) FROM grid_settlements g
                WHERE g.station_id = lt.station_id AND g.period_start >= lt.ps
                  AND g.period_end <= lt.pe), 0)::bigint AS had_fen
      FROM late lt
)
INSERT INTO _ded_basis (station_id, part, ps, pe, gross, what)
SELECT station_id, 'before', ps, pe, had_fen, ' fen received' FROM cash
UNION ALL
SELECT station_id, 'after', ps, pe, had_fen + now_fen, ' fen received' FROM cash
"""

_OWN_BASIS = """
SELECT station_id, 'own'::text AS part, %(s)s::date AS ps, %(e)s::date AS pe,
       bench_fen + subsidy_fen - late_fen AS gross,
       CASE WHEN basis = 'received' THEN ' fen received' ELSE ' fen gross' END AS what
  FROM _div_revenue
"""

# the period's own gross alone (no cash for earlier periods: late_fen is 0 throughout)
_OWN_GROSS = """
SELECT station_id, bench_fen + subsidy_fen AS gross,
       CASE WHEN basis = 'received' THEN ' fen received' ELSE ' fen gross' END AS what
  FROM _div_revenue
"""

_DEDUCT_RULES = """
WITH rate_rule AS MATERIALIZED (  -- a rate's text once per rule, not once per station
    SELECT *, (rate * 100)::numeric(9, 4) || '%% of ' AS rate_text FROM deduction_rules
), rules AS (
    SELECT b.station_id{bkeys}, b.gross, b.what, d.seq, d.kind, d.method,
           d.yearly_fen, d.rate, d.rate_text, {days} AS days, {ydays} AS ydays
      FROM ({basis}) b
      JOIN stations s ON s.id = b.station_id
      JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
      JOIN rate_rule d
        ON (d.station_id = s.id OR (d.county_id = tw.county_id AND NOT EXISTS (
                SELECT 1 FROM deduction_rules o
                 WHERE o.station_id = s.id AND o.kind = d.kind AND o.effective_from < {pe}
                   AND (o.effective_to IS NULL OR o.effective_to > {ps}))))
     WHERE d.effective_from < {pe} AND (d.effective_to IS NULL OR d.effective_to > {ps})
), due AS (
    SELECT station_id{keys}, gross, seq, kind, method,
           CASE WHEN method = 'fixed' THEN round(yearly_fen * days::numeric / ydays)::bigint
                ELSE round(gross * rate)::bigint END AS due_fen,
           CASE WHEN method = 'fixed'
                THEN yearly_fen || ' fen/year x ' || days || '/' || ydays || ' days'
                ELSE rate_text || gross || what
           END AS basis
      FROM rules
), amounts AS (
    SELECT *, least(due_fen, greatest(0, gross - coalesce(sum(due_fen) OVER (
               PARTITION BY {partition} ORDER BY seq, kind
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS amount_fen
      FROM due
"""

# the rules of the period itself: its dates as constants, so the planner sees them
_OWN_RULES = {
    "ps": "%(s)s::date",
    "pe": "%(e)s::date",
    "days": "%(days)s::int",
    "ydays": "%(ydays)s::int",
    "partition": "station_id",
    "bkeys": "",
    "keys": "",
}
# the rules of each basis row's own generation period (earlier periods' cash)
_ROW_RULES = {
    "ps": "b.ps",
    "pe": "b.pe",
    "days": "b.pe - b.ps",
    "ydays": "make_date(extract(year FROM b.ps)::int + 1, 1, 1)"
    " - make_date(extract(year FROM b.ps)::int, 1, 1)",
    "partition": "station_id, part, ps",
    "bkeys": ", b.part, b.ps",
    "keys": ", part, ps",
}

# the period's own cash only (the common case): streamed, nothing materialised
_DEDUCT_OWN = """
INSERT INTO {table} (run_id, station_id, seq, kind, method, basis, due_fen, amount_fen,
                     earlier_fen)
{rules})
SELECT %(run)s, station_id, seq, kind, method, basis, due_fen, amount_fen, 0 FROM amounts
"""

_DEDUCT = """
{rules}), late AS (  -- what cash for earlier periods adds to their deductions: after - before
    SELECT station_id, seq, kind, min(method) AS method,
           sum(CASE part WHEN 'after' THEN due_fen ELSE -due_fen END)::bigint AS due_fen,
           sum(CASE part WHEN 'after' THEN amount_fen ELSE -amount_fen END)::bigint AS fen
      FROM amounts WHERE part <> 'own' GROUP BY 1, 2, 3
), noted AS (
    INSERT INTO _div_late_ded (station_id, fen)
    SELECT station_id, sum(fen) FROM late GROUP BY station_id
)
INSERT INTO {table} (run_id, station_id, seq, kind, method, basis, due_fen, amount_fen,
                     earlier_fen)
SELECT %(run)s, coalesce(o.station_id, l.station_id), coalesce(o.seq, l.seq),
       coalesce(o.kind, l.kind), coalesce(o.method, l.method),
       concat_ws('; ', o.basis, CASE WHEN l.fen <> 0
                 THEN '+' || l.fen || ' fen on cash for earlier periods' END),
       coalesce(o.due_fen, 0) + coalesce(l.due_fen, 0),
       coalesce(o.amount_fen, 0) + coalesce(l.fen, 0), coalesce(l.fen, 0)
  FROM (SELECT * FROM amounts WHERE part = 'own') o
  FULL JOIN late l ON l.station_id = o.station_id AND l.seq = o.seq AND l.kind = o.kind
"""


# what a received station's deductions come to on the period's accrued revenue
_TARGET_BASIS = """
SELECT station_id, 'target'::text AS part, %(s)s::date AS ps, %(e)s::date AS pe,
       accrued_fen AS gross, ' fen accrued'::text AS what
  FROM _div_revenue WHERE basis = 'received'
"""
_DEDUCT_TARGET = """
{rules})
INSERT INTO _div_target_ded (station_id, fen)
SELECT station_id, sum(amount_fen) FROM amounts GROUP BY station_id
"""


def _deductions(
    conn: psycopg.Connection,
    run_id: int,
    period: Period,
    *,
    received: int,
    replacing: bool = False,
) -> None:
    """Deductions per station, in ``seq`` order, each capped at what is left: on its
    gross revenue [fen] of ``_div_revenue`` (accrued, or for ``received`` stations the
    cash of the period itself). Cash received now for an earlier generation period bears
    what it adds to that period's deductions: due on all the period's cash so far, less
    due on what it had before (kept per station in ``_div_late_ded``), so a period's
    deductions come to the same total however its cash arrives. For ``received``
    stations, ``_div_target_ded`` keeps what the deductions come to on the period's
    accrued revenue (what its cash is paid toward). ``received``: how many stations are
    on that basis (only they can have late cash); ``replacing``: the run's earlier
    deductions are replaced (see :func:`_replace_changed`)."""
    for table, columns in (
        ("_ded_basis", "station_id bigint, part text, ps date, pe date, gross bigint, what text"),
        ("_div_late_ded", "station_id bigint PRIMARY KEY, fen bigint NOT NULL"),
        ("_div_target_ded", "station_id bigint PRIMARY KEY, fen bigint NOT NULL"),
    ):
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns})")
        conn.execute(f"TRUNCATE {table}")
    params = {
        "s": period.start,
        "e": period.end,
        "days": period.days,
        "ydays": days_in_year(period.year),
        "run": run_id,
    }
    late = False
    if received:
        found = conn.execute("SELECT EXISTS (SELECT 1 FROM _div_revenue WHERE late_fen > 0)")
        late = bool((found.fetchone() or (False,))[0])
        rules = _DEDUCT_RULES.format(basis=_TARGET_BASIS, **_ROW_RULES)
        conn.execute(_DEDUCT_TARGET.format(rules=rules), params)
    table = _target(conn, "dividend_run_deductions", replacing=replacing)
    if not late:
        rules = _DEDUCT_RULES.format(basis=_OWN_GROSS, **_OWN_RULES)
        cur = conn.execute(_DEDUCT_OWN.format(rules=rules, table=table), params)
    else:
        conn.execute(_LATE_BASIS, params)  # the earlier periods' cash before and now
        basis = f"{_OWN_BASIS} UNION ALL SELECT * FROM _ded_basis"
        rules = _DEDUCT_RULES.format(basis=basis, **_ROW_RULES)
        cur = conn.execute(_DEDUCT.format(rules=rules, table=table), params)
    _written(conn, "dividend_run_deductions", run_id=run_id, staged=table, written=cur.rowcount)


def _period_piece(yearly: np.ndarray, period: Period) -> np.ndarray:
    """This period's part of each yearly amount [fen]: the year split over its periods
    by days (largest remainder), so a year's periods always add up to the yearly amount."""
    periods = year_periods(period)
    index = periods.index(period)
    days = [p.days for p in periods]
    out = np.zeros(yearly.size, dtype=np.int64)
    for value in np.unique(yearly):
        out[yearly == value] = largest_remainder(int(value), days)[index]
    return out


def _columns(
    conn: psycopg.Connection, query: str, params: dict[str, object]
) -> dict[str, np.ndarray]:
    """The whole-number columns of ``query`` as int64 arrays, read through binary COPY
    (no text formatted by the server or parsed here: a province's million rows cost a
    few seconds less and megabytes, not a gigabyte)."""
    return {
        name: np.asarray(values, dtype=np.int64)
        for name, values in read_int_columns(conn, query, params).items()
    }


_SEGMENTS = """
        WITH seg AS (
            SELECT en.id AS enrolment_id, sl.id AS slot_id, sl.station_id,
                   CASE WHEN s.kind = 'joint' THEN sl.village_id ELSE s.village_id END
                     AS unit_village,
                   sc.id AS scheme_id, sc.policy, c.component, c.basis, c.yearly_fen,
                   coalesce((c.share * 1000000)::bigint, 0) AS share_micro,
                   CASE WHEN c.payee_role = 'village_collective' THEN 1
                        WHEN en.household_id IS NOT NULL THEN 0 ELSE 1 END AS payee_kind,
                   CASE WHEN c.payee_role = 'village_collective'
                        THEN coalesce(h.village_id, en.village_id)
                        ELSE coalesce(en.household_id, en.village_id) END AS payee_id,
                   coalesce(h.members, 1) AS members,
                   greatest(0, least(%(e)s::date, coalesce(en.ends_on, %(e)s::date),
                                     coalesce(sc.effective_to, %(e)s::date),
                                     (sl.first_dividend_on
                                      + make_interval(years => sc.years))::date)
                             - greatest(%(s)s::date, en.starts_on, sc.effective_from,
                                        sl.first_dividend_on)) AS days
              FROM dividend_enrolments en
              JOIN station_slots sl ON sl.id = en.slot_id
              JOIN _div_scope x ON x.station_id = sl.station_id
              JOIN stations s ON s.id = sl.station_id
              JOIN dividend_schemes sc ON sc.id = en.scheme_id
              JOIN dividend_scheme_components c ON c.scheme_id = sc.id
              LEFT JOIN households h ON h.id = en.household_id
             WHERE en.starts_on < %(e)s  -- ended enrolments too: their arrears are owed
        ), late AS (  -- the last generation day that late cash of the period pays for
            SELECT l.station_id, max(l.period_end) AS until
              FROM subsidy_receipt_lines l JOIN subsidy_receipts r ON r.id = l.receipt_id
              JOIN _div_revenue v ON v.station_id = l.station_id AND v.late_fen > 0
             WHERE r.received_on >= %(s)s AND r.received_on < %(e)s AND l.period_start < %(s)s
             GROUP BY l.station_id
        ), arrears AS (
            -- arrears are repaid oldest first: of what the lines of periods up to
            -- late.until lack of their targets (what accrued pays them; lines before
            -- migration 0022: their arrears), what all repayments so far have not
            -- covered is what late cash pays
            SELECT l.enrolment_id, l.component,
                   sum(l.arrears_added_fen - l.arrears_paid_fen)::bigint AS fen,
                   greatest(0, coalesce(sum(coalesce(l.accrued_fen - l.paid_fen,
                                                     l.arrears_added_fen))
                                        FILTER (WHERE l.period_end <= lt.until), 0)
                               - sum(l.arrears_paid_fen))::bigint AS old_fen
              FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
              LEFT JOIN late lt ON lt.station_id = l.station_id
             WHERE r.status NOT IN ('draft', 'discarded') AND l.period_start < %(s)s
               AND (l.arrears_added_fen <> 0 OR l.arrears_paid_fen <> 0)
             GROUP BY l.enrolment_id, l.component
        )
        SELECT seg.enrolment_id, seg.slot_id, seg.station_id, seg.unit_village, seg.scheme_id,
               array_position(%(policies)s::text[], seg.policy) - 1 AS policy,
               array_position(%(components)s::text[], seg.component) - 1 AS component,
               array_position(%(bases)s::text[], seg.basis) - 1 AS basis,
               seg.yearly_fen, seg.share_micro, seg.payee_kind, seg.payee_id, seg.members,
               seg.days, CASE WHEN seg.policy = 'pro_rata_carry_forward'
                           THEN coalesce(ar.fen, 0) ELSE 0 END AS arrears{late_column}
          FROM seg
          LEFT JOIN arrears ar ON ar.enrolment_id = seg.enrolment_id
                              AND ar.component = seg.component
         WHERE seg.days > 0
            OR (seg.policy = 'pro_rata_carry_forward' AND coalesce(ar.fen, 0) > 0)
         ORDER BY seg.enrolment_id, seg.component
        """
# with late cash only: what of each carry-forward row's arrears it pays first
_LATE_COLUMN = """,
       CASE WHEN seg.policy = 'pro_rata_carry_forward'
            THEN least(coalesce(ar.fen, 0), coalesce(ar.old_fen, 0)) ELSE 0 END AS arrears_late"""


def _unit_of(
    segs: dict[str, np.ndarray], u_station: np.ndarray, u_village: np.ndarray
) -> np.ndarray:
    """Each segment's allocation unit: the index of its (station, village) among the
    units, which come sorted by station, then village."""
    villages = np.unique(np.concatenate([u_village, segs["unit_village"]]))
    unit_key = u_station * villages.size + np.searchsorted(villages, u_village)
    seg_key = segs["station_id"] * villages.size + np.searchsorted(villages, segs["unit_village"])
    at = np.minimum(np.searchsorted(unit_key, seg_key), max(unit_key.size - 1, 0))
    missing = np.flatnonzero(unit_key[at] != seg_key) if unit_key.size else np.arange(seg_key.size)
    if missing.size:
        i = int(missing[0])
        raise ValidationError(
            f"enrolment {segs['enrolment_id'][i]}: slot {segs['slot_id'][i]} of station "
            f"{segs['station_id'][i]} belongs to village {segs['unit_village'][i]}, which has "
            "no share in the station"
        )
    return at


def _groups(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's group among the distinct combinations of ``keys`` (numbered in their
    sorted order) and the number of groups."""
    n = keys[0].size if keys else 0
    if not n:
        return np.zeros(0, dtype=np.int64), 0
    order = np.lexsort(keys[::-1])
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for key in keys:
        ordered = key[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    return group, int(new.sum())


def _names(names: np.ndarray, codes: np.ndarray, group: np.ndarray) -> object:
    """Per unit, the name of its station's code; one name for all when they agree (a
    scalar column costs COPY nothing per row)."""
    if not codes.any():
        return str(names[0])
    return names[codes[group]]


def _compute(
    conn: psycopg.Connection,
    run_id: int,
    period: Period,
    progress: Progress,
    *,
    line_kind: str = "dividend",
    replacing: bool = False,
) -> None:
    components = conn.execute(
        "SELECT coalesce(array_agg(DISTINCT component ORDER BY component), '{}')"
        " FROM dividend_scheme_components"
    ).fetchone()
    component_names = np.array(components[0] if components else [], dtype=object)
    params: dict[str, object] = {
        "s": period.start,
        "e": period.end,
        "run": run_id,
        "sources": list(_ENERGY_SOURCES),
        "kinds": list(_KINDS),
        "policies": list(POLICIES),
        "components": component_names.tolist(),
        "bases": list(_COMPONENT_BASES),
    }
    # units: station x village with the station's revenue, deductions and share weight
    units = _columns(
        conn,
        """
        WITH rev AS (
            SELECT station_id, bench_fen AS bench, subsidy_fen AS subsidy FROM _div_revenue
        ), ded AS (
            SELECT station_id, sum(amount_fen)::bigint AS fen FROM dividend_run_deductions
             WHERE run_id = %(run)s GROUP BY station_id
        )
        SELECT s.id AS station_id, array_position(%(kinds)s::text[], s.kind) - 1 AS kind,
               coalesce(sh.village_id, s.village_id) AS village_id,
               (coalesce(sh.weight, 1) * 1000000)::bigint AS weight,
               e.metered_wh + e.estimated_wh AS energy_wh, e.estimated_wh, e.estimated_days,
               array_position(%(sources)s::text[], e.source) - 1 AS source,
               coalesce(rev.bench, 0) AS bench, coalesce(rev.subsidy, 0) AS subsidy,
               coalesce(ded.fen, 0) AS ded
          FROM _div_scope sc
          JOIN stations s ON s.id = sc.station_id
          JOIN station_period_energy e ON e.station_id = s.id
               AND e.period_start = %(s)s AND e.period_end = %(e)s
          LEFT JOIN station_village_shares sh ON sh.station_id = s.id AND s.kind = 'joint'
          LEFT JOIN rev ON rev.station_id = s.id
          LEFT JOIN ded ON ded.station_id = s.id
         ORDER BY s.id, coalesce(sh.village_id, s.village_id)
        """,
        params,
    )
    # the stations paid on the received basis or with late cash (few, as a rule)
    cash = _columns(
        conn,
        """
        SELECT v.station_id, (v.basis = 'received')::int AS received, v.late_fen AS late,
               coalesce(ld.fen, 0) AS late_ded, v.accrued_fen AS accrued,
               coalesce(td.fen, 0) AS accrued_ded
          FROM _div_revenue v
          LEFT JOIN _div_late_ded ld ON ld.station_id = v.station_id
          LEFT JOIN _div_target_ded td ON td.station_id = v.station_id
         WHERE v.basis = 'received' OR v.late_fen > 0
        """,
        params,
    )
    progress("allocating", 4, _STEPS)
    m = units["station_id"].size
    u_station, u_village, u_weight = units["station_id"], units["village_id"], units["weight"]
    # per station totals -> split among the station's units by weight (village id breaks ties)
    st_ids, st_group = np.unique(u_station, return_inverse=True)
    first = np.zeros(st_ids.size, dtype=np.int64)
    first[st_group[::-1]] = np.arange(m)[::-1]

    def station(column: str) -> np.ndarray:
        return units[column][first]

    def split(values: np.ndarray, within: np.ndarray | None = None) -> np.ndarray:
        """Station totals [fen] over the station's units by weight (within caps)."""
        if within is None:
            return grouped_largest_remainder(st_group, u_weight, values, tiebreak=u_village)
        return grouped_split_within(st_group, u_weight, values, within, tiebreak=u_village)

    # per station: energy source and basis codes, late cash (received now for earlier
    # generation periods) net of what it added to those periods' deductions
    st_source = station("source")
    st_received = np.zeros(st_ids.size, dtype=np.int64)
    st_net_late = np.zeros(st_ids.size, dtype=np.int64)
    st_accrued = np.zeros((2, st_ids.size), dtype=np.int64)  # accrued gross, deductions
    if cash["station_id"].size:
        keep = np.isin(cash["station_id"], st_ids)
        cash = {name: values[keep] for name, values in cash.items()}
        at = np.searchsorted(st_ids, cash["station_id"])
        st_received[at] = cash["received"]
        st_net_late[at] = np.maximum(cash["late"] - cash["late_ded"], 0)
        st_accrued[0, at] = cash["accrued"]
        st_accrued[1, at] = cash["accrued_ded"]
    # a joint station's units: revenue split once, every other column within it, so each
    # unit's benchmark + subsidy - deductions is its available money to the fen
    shares = {
        "gross": split(station("bench") + station("subsidy")),
        "energy_wh": split(station("energy_wh")),
        "estimated_wh": split(station("estimated_wh")),
    }
    shares["ded"] = split(station("ded"), within=shares["gross"])
    shares["subsidy"] = split(station("subsidy"), within=shares["gross"])
    shares["bench"] = shares["gross"] - shares["subsidy"]
    a_available = shares["gross"] - shares["ded"]
    a_late = split(st_net_late, within=a_available)

    # obligation segments: holder x component with days in period, scheme window, enrolment
    late_column = _LATE_COLUMN if st_net_late.any() else ""
    segs = _columns(conn, _SEGMENTS.format(late_column=late_column), params)
    n = segs["enrolment_id"].size
    row_unit = _unit_of(segs, u_station, u_village)
    days_a = segs["days"]
    basis = segs["basis"]
    yearly = segs["yearly_fen"]
    # the slot's amount for this period [fen], before the split among holders by days
    slot_amount = np.zeros(n, dtype=np.int64)
    fixed, per_person, by_share = (basis == _COMPONENT_BASES.index(b) for b in _COMPONENT_BASES)
    slot_amount[fixed] = _period_piece(yearly[fixed], period)
    slot_amount[per_person] = _period_piece(
        yearly[per_person] * segs["members"][per_person], period
    )
    micro = segs["share_micro"]
    slot_amount[by_share] = (
        a_available[row_unit[by_share]] * micro[by_share] + _SHARE_SCALE // 2
    ) // _SHARE_SCALE
    # holders of one slot x scheme x component share its amount by days (per person: alone)
    holder = np.where(per_person, segs["enrolment_id"], 0)
    row_group, n_groups = _groups(segs["slot_id"], segs["scheme_id"], segs["component"], holder)
    g_total = np.zeros(n_groups, dtype=np.int64)
    g_total[row_group] = slot_amount
    g_days = np.zeros(n_groups, dtype=np.int64)
    np.add.at(g_days, row_group, days_a)
    vacant = np.maximum(period.days - g_days, 0)  # days nobody holds the slot: owed to nobody
    parts = grouped_largest_remainder(
        np.concatenate([row_group, np.arange(n_groups)]),
        np.concatenate([days_a, vacant]),
        g_total,
        tiebreak=np.concatenate([np.arange(n), n + np.arange(n_groups)]),
    )
    obligation = parts[:n]

    policies = _POLICY_NAMES[segs["policy"]]
    # received stations' cash is paid toward what accrued pays each row: its target
    received_row = st_received[st_group][row_unit].astype(bool)
    targets = None
    if received_row.any():
        accrued_gross = split(st_accrued[0])  # as an accrued run splits it
        accrued_net = accrued_gross - split(st_accrued[1], within=accrued_gross)
        accrued = allocate(units=row_unit, available=accrued_net, obligations=obligation,
                           policies=policies)  # fmt: skip
        targets = np.where(received_row, accrued.paid, obligation)
    alloc = allocate_late_first(
        row_unit=row_unit,
        late=a_late,
        own=a_available - a_late,
        obligations=obligation,
        policies=policies,
        arrears=segs["arrears"],
        arrears_late=segs["arrears_late"] if late_column else np.zeros(n, np.int64),
        targets=targets,
    )
    progress("writing lines", 5, _STEPS)
    unit_ob = np.zeros(m, dtype=np.int64)
    np.add.at(unit_ob, row_unit, obligation)
    units_table = _target(conn, "dividend_run_units", replacing=replacing)
    units_written = copy_columns(
        conn,
        units_table,
        (
            {
                "run_id": run_id,
                "station_id": u_station,
                "village_id": u_village,
                "share_weight": Scaled(u_weight, 6),
                "energy_wh": shares["energy_wh"],
                "estimated_wh": shares["estimated_wh"],
                "estimated_days": units["estimated_days"],
                "revenue_benchmark_fen": shares["bench"],
                "revenue_subsidy_fen": shares["subsidy"],
                "deductions_fen": shares["ded"],
                "available_fen": a_available,
                "obligations_fen": unit_ob,
                "paid_fen": alloc.unit_paid,
                "arrears_paid_fen": alloc.unit_arrears_paid,
                "shortfall_fen": alloc.unit_shortfall,
                "residual_fen": alloc.unit_residual,
                "residual_owner": np.where(
                    units["kind"] == _KINDS.index("household"),
                    "project_owner",
                    "village_collective",
                ),
                "factor": alloc.unit_factor,
                # small codes read, names written: no Python string per unit
                "energy_source": _names(_ENERGY_SOURCES, st_source, st_group),
                "revenue_basis": _names(_BASES, st_received, st_group),
            }
        ),
    )
    _written(conn, "dividend_run_units", run_id=run_id, staged=units_table, written=units_written)
    if not n and not replacing:
        return
    # lines in payee order: the payee index then takes them in its own order (a province's
    # 1.2 M lines: 2.5 s less writing than in enrolment order)
    in_payee_order = np.lexsort((segs["payee_kind"], segs["payee_id"]))
    lines_table = _target(conn, "dividend_lines", replacing=replacing)
    lines_written = copy_columns(
        conn,
        lines_table,
        _reordered(
            {
                "run_id": run_id,
                "line_kind": line_kind,
                "station_id": segs["station_id"],
                "unit_village_id": segs["unit_village"],
                "enrolment_id": segs["enrolment_id"],
                "scheme_id": segs["scheme_id"],
                "component": Coded(segs["component"], component_names),
                "payee_kind": Coded(segs["payee_kind"], _PAYEE_KINDS),
                "payee_id": segs["payee_id"],
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "days_enrolled": days_a,
                "obligation_fen": obligation,
                "factor": alloc.factor,
                "paid_fen": alloc.paid,
                "accrued_fen": alloc.paid
                if targets is None
                else np.where(received_row, targets, alloc.paid),
                "arrears_added_fen": alloc.arrears_added,
                "arrears_paid_fen": alloc.arrears_paid,
                "amount_fen": alloc.paid + alloc.arrears_paid,
                "policy": Coded(segs["policy"], _POLICY_NAMES),
                "energy_wh": shares["energy_wh"][row_unit],
                "estimated_days": units["estimated_days"][row_unit],
                "revenue_benchmark_fen": shares["bench"][row_unit],
                "revenue_subsidy_fen": shares["subsidy"][row_unit],
                "deductions_fen": shares["ded"][row_unit],
            },
            in_payee_order,
        ),
    )
    _written(conn, "dividend_lines", run_id=run_id, staged=lines_table, written=lines_written)


# what identifies a run's row in each table: unique within a run (a line is one component
# of an enrolment: an enrolment has one scheme, and a scheme each component once)
_ROW_KEYS = {
    "dividend_run_deductions": ("station_id", "seq", "kind"),
    "dividend_run_units": ("station_id", "village_id"),
    "dividend_lines": ("enrolment_id", "component"),
}
_ANALYZED = {
    "dividend_run_deductions": _DEDUCTION_KEYS,
    "dividend_run_units": _UNIT_KEYS,
    "dividend_lines": _LINE_KEYS,
}


def _row_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns a run writes into ``table``: all but a generated ``id``."""
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped AND attname <> 'id' ORDER BY attnum",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _target(conn: psycopg.Connection, table: str, *, replacing: bool) -> str:
    """Where a run's rows of ``table`` are written: the table itself for a new run; for a
    draft computed again, an empty temporary table of the same columns
    (``_new_<table>``), whose rows :func:`_written` then makes the run's."""
    if not replacing:
        return table
    staged = f"_new_{table}"
    columns = ", ".join(_row_columns(conn, table))
    # made afresh in each transaction: a session kept open across a migration (the API's
    # pooled connections) never writes into an older layout
    conn.execute(f"DROP TABLE IF EXISTS {staged}")
    conn.execute(
        f"CREATE TEMP TABLE {staged} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    return staged


def _written(
    conn: psycopg.Connection, table: str, *, run_id: int, staged: str, written: int
) -> None:
    """A run's rows of ``table`` are written (``written`` of them, to ``staged``): a draft
    computed again has its changed rows replaced (:func:`_replace_changed`); statistics
    are renewed when the table grew by much."""
    if staged != table:
        written = _replace_changed(conn, table, run_id=run_id, staged=staged)
    analyze_grown(conn, table, written=written, columns=_ANALYZED[table])


def _replace_changed(conn: psycopg.Connection, table: str, *, run_id: int, staged: str) -> int:
    """Make run ``run_id``'s rows of ``table`` the rows of ``staged``, writing only what
    changed: its rows without an identical staged row are deleted, and the staged rows
    without an identical row left are inserted. A recompute on the same data writes
    nothing (and leaves no dead rows); a changed row is one deleted and one inserted (a
    line gets a new id). Returns the rows inserted."""
    keys = _ROW_KEYS[table]
    quick_analyze(conn, staged, keys)  # the row count and the keys, for the joins' plans
    columns = _row_columns(conn, table)
    rest = [c for c in columns if c not in keys and c != "run_id"]
    same = " AND ".join(f"t.{k} = n.{k}" for k in keys) + (
        f" AND ({', '.join('t.' + c for c in rest)})"
        f" IS NOT DISTINCT FROM ({', '.join('n.' + c for c in rest)})"
    )
    params = {"run": run_id}
    conn.execute(
        f"DELETE FROM {table} t WHERE t.run_id = %(run)s"
        f" AND NOT EXISTS (SELECT 1 FROM {staged} n WHERE {same})",
        params,
    )
    listed = ", ".join(columns)
    inserted = conn.execute(
        f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {staged} n WHERE NOT EXISTS"
        f" (SELECT 1 FROM {table} t WHERE t.run_id = %(run)s AND {same})",
        params,
    )
    return inserted.rowcount


def _reordered(columns: dict[str, object], order: np.ndarray) -> dict[str, object]:
    """The columns' rows in ``order`` (one value for all rows stays as it is)."""

    def take(value: object) -> object:
        if isinstance(value, Coded):
            return Coded(np.asarray(value.codes)[order], value.labels)
        if isinstance(value, Scaled):
            return Scaled(value.values[order], value.scale)
        return value[order] if isinstance(value, np.ndarray) else value

    return {name: take(value) for name, value in columns.items()}


def compute_run(
    conn: psycopg.Connection,
    *,
    period: Period | str,
    scope_kind: str = "all",
    scope_codes: Sequence[str] = (),
    created_by: str,
    run_id: int | None = None,
    progress: Progress | None = None,
    note: str = "",
) -> int:
    """Create (or, given ``run_id`` of a draft, recompute) a draft run; returns its id.
    ``note`` says why (kept on a new run).

    Without ``run_id``, an existing regular draft with the same period and scope is
    recomputed in place (its lines are replaced), so re-running gives one draft.
    """
    period = parse_period(period) if isinstance(period, str) else period
    report = progress or _noop
    codes = sorted(scope_codes)
    actor = actor_name(created_by)
    try:
        with conn.transaction():
            if run_id is None:
                row = conn.execute(
                    """SELECT id FROM dividend_runs WHERE kind = 'regular' AND status = 'draft'
                       AND period_start = %s AND period_end = %s AND scope_kind = %s
                       AND scope_codes = %s ORDER BY id LIMIT 1""",
                    (period.start, period.end, scope_kind, codes),
                ).fetchone()
                run_id = int(row[0]) if row else None
            report("scope", 0, _STEPS)
            _scope(conn, scope_kind, codes, period)
            _record_transfers(conn, period)
            conn.execute(
                """DELETE FROM _div_scope sc USING station_transfers t
                            WHERE t.station_id = sc.station_id AND t.transferred_on <= %s""",
                (period.start,),
            )
            received = _revenue(conn, period, report)
            rid = _open_run(
                conn,
                period=period,
                scope_kind=scope_kind,
                codes=codes,
                created_by=actor,
                run_id=run_id,
                note=note,
            )
            _event(conn, rid, "created" if run_id is None else "recomputed", actor)
            report("deductions", 3, _STEPS)
            _deductions(conn, rid, period, received=received, replacing=run_id is not None)
            _compute(conn, rid, period, report, replacing=run_id is not None)
            conn.execute("UPDATE dividend_runs SET computed_at = now() WHERE id = %s", (rid,))
            report("done", _STEPS, _STEPS)
            return rid
    except pg_errors.RaiseException as exc:
        raise FrozenRunError(str(exc.diag.message_primary)) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"computing dividend run for {period.label} failed: {exc}") from exc


def recompute_run(
    conn: psycopg.Connection, run_id: int, *, by: str, progress: Progress | None = None
) -> int:
    """Recompute draft ``run_id`` on today's data for its own period and scope; ``by``
    becomes one of its makers (and so may not approve it). Adjustment drafts are not
    recomputed (draft a new adjustment of the run they correct)."""
    row = conn.execute(
        "SELECT period_label, scope_kind, scope_codes FROM dividend_runs WHERE id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    return compute_run(
        conn,
        period=row[0],
        scope_kind=row[1],
        scope_codes=list(row[2]),
        created_by=by,
        run_id=run_id,
        progress=progress,
    )


def _status(conn: psycopg.Connection, run_id: int) -> tuple[str, str, str]:
    row = conn.execute(
        "SELECT status, created_by, kind FROM dividend_runs WHERE id = %s FOR UPDATE", (run_id,)
    ).fetchone()
    if row is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    return str(row[0]), str(row[1]), str(row[2])


def _makers(conn: psycopg.Connection, run_id: int, creator: str) -> set[str]:
    rows = conn.execute(
        """SELECT DISTINCT actor FROM dividend_run_events
            WHERE run_id = %s AND event IN ('created', 'recomputed')""",
        (run_id,),
    ).fetchall()
    return {actor_name(creator), *(actor_name(r[0]) for r in rows)}


def _check_period_ended(period: Period, run_id: int, today: date) -> None:
    if period.end > today:
        raise RunStateError(
            f"dividend run {run_id}: period {period.label} runs until {period.end}; it can be "
            "previewed as a draft but approved only once the period has ended"
        )


def _check_estimates(
    conn: psycopg.Connection, run_id: int, *, limit: Decimal, accepted: bool
) -> None:
    """Refuse (unless ``accepted``) when a station's energy is estimated beyond ``limit``."""
    if accepted:
        return
    rows = conn.execute(
        """SELECT s.code, x.share, count(*) OVER () FROM (
               SELECT station_id, sum(estimated_wh)::numeric / nullif(sum(energy_wh), 0) AS share
                 FROM dividend_run_units WHERE run_id = %s GROUP BY station_id
                HAVING sum(estimated_wh)::numeric > %s * sum(energy_wh)) x
             JOIN stations s ON s.id = x.station_id
            ORDER BY x.share DESC NULLS FIRST, s.code LIMIT 5""",
        (run_id, limit),
    ).fetchall()
    if rows:
        total = int(rows[0][2])
        shown = ", ".join(f"{code} {Decimal(share or 1) * 100:.0f} %" for code, share, _n in rows)
        more = f" and {total - 5} more" if total > 5 else ""
        raise EstimatesNotAcknowledgedError(
            f"dividend run {run_id}: {total} station(s) have more than {limit * 100:.0f} % "
            f"estimated energy ({shown}{more}); acknowledge the estimates to approve"
        )


def approve_run(
    conn: psycopg.Connection,
    run_id: int,
    *,
    approved_by: str,
    today: date | None = None,
    accept_estimated: bool = False,
    estimated_share_limit: Decimal = DEFAULT_ESTIMATED_SHARE_LIMIT,
) -> None:
    """Approve a draft: freezes it, claims its payees and, for its ``accrued`` units whose
    cash pvmon tracks, records what the county advances beyond the cash received by
    ``today`` (:func:`dividends.cash.ledger.record_advances`).

    Refused with :class:`FourEyesError` for any of its makers (whoever computed or
    recomputed it), :class:`RunStateError` while its period has not ended (by ``today``,
    default the current date), :class:`EstimatesNotAcknowledgedError` when a station's
    estimated energy share exceeds ``estimated_share_limit`` without
    ``accept_estimated``, :class:`DoublePaymentError` when a payee of a line was already
    claimed for overlapping days by another approved run.
    """
    from dividends.cash.ledger import record_advances

    today = today or date.today()
    approver = actor_name(approved_by)
    try:
        with conn.transaction():
            status, creator, kind = _status(conn, run_id)
            if status != "draft":
                raise RunStateError(f"dividend run {run_id}: status is {status}, not draft")
            makers = _makers(conn, run_id, creator)
            if approver in makers:
                raise FourEyesError(
                    f"dividend run {run_id}: {approver!r} computed or recomputed it and may "
                    f"not approve it (makers: {', '.join(sorted(makers))})"
                )
            row = conn.execute(
                "SELECT period_label FROM dividend_runs WHERE id = %s", (run_id,)
            ).fetchone()
            assert row is not None
            _check_period_ended(parse_period(row[0]), run_id, today)
            _check_estimates(conn, run_id, limit=estimated_share_limit, accepted=accept_estimated)
            conn.execute(
                "UPDATE dividend_runs SET status = 'approved', approved_by = %s,"
                " approved_at = now() WHERE id = %s",
                (approver, run_id),
            )
            if kind == "regular":  # claims are for lines of an approved run
                conn.execute(
                    """
                    INSERT INTO dividend_payout_claims (line_id, run_id, payee_kind, payee_id,
                                                        enrolment_id, component, during)
                    SELECT id, run_id, payee_kind, payee_id, enrolment_id, component,
                           daterange(period_start, period_end, '[)')
                      FROM dividend_lines WHERE run_id = %s AND line_kind = 'dividend'
                     ORDER BY hashint8(id)  -- GiST builds far faster from unordered keys
                    """,
                    (run_id,),
                )
            detail = "estimates acknowledged" if accept_estimated else ""
            _event(conn, run_id, "approved", approver, detail)
            if kind == "regular" and _tracks_cash(conn):
                record_advances(conn, run_id, advanced_on=today, tracked_only=True)
    except pg_errors.ExclusionViolation as exc:
        raise DoublePaymentError(
            f"dividend run {run_id}: a payee is already paid for this period by another "
            f"approved run ({exc.diag.message_detail})"
        ) from exc
    except pg_errors.RaiseException as exc:
        raise FrozenRunError(str(exc.diag.message_primary)) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"approving dividend run {run_id} failed: {exc}") from exc


def _tracks_cash(conn: psycopg.Connection) -> bool:
    """True when any cash is recorded at all (statements, receipts or a basis setting):
    without, approval has no advances to work out (and skips reading every unit)."""
    row = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM grid_settlements) OR EXISTS (SELECT 1 FROM
                  subsidy_receipts) OR EXISTS (SELECT 1 FROM cash_allocation_basis)"""
    ).fetchone()
    return bool(row and row[0])


def discard_run(conn: psycopg.Connection, run_id: int, *, by: str, reason: str = "") -> None:
    """Discard a draft: its lines go, the run and its history stay (status ``discarded``)."""
    actor = actor_name(by)
    try:
        with conn.transaction():
            status, _creator, _kind = _status(conn, run_id)
            if status != "draft":
                raise RunStateError(
                    f"dividend run {run_id}: status is {status}; only a draft is discarded"
                )
            _discard(conn, run_id, actor, reason)
    except pg_errors.RaiseException as exc:
        raise FrozenRunError(str(exc.diag.message_primary)) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"discarding dividend run {run_id} failed: {exc}") from exc


def _discard(conn: psycopg.Connection, run_id: int, actor: str, reason: str) -> None:
    for table in ("dividend_lines", "dividend_run_units", "dividend_run_deductions"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
    conn.execute("UPDATE dividend_runs SET status = 'discarded' WHERE id = %s", (run_id,))
    _event(conn, run_id, "discarded", actor, reason)


def _transition(
    conn: psycopg.Connection,
    run_id: int,
    *,
    to: str,
    allowed: tuple[str, ...],
    stamp: str,
    by: str,
    detail: str = "",
) -> None:
    actor = actor_name(by)
    try:
        with conn.transaction():
            status, _creator, _kind = _status(conn, run_id)
            if status not in allowed:
                raise RunStateError(
                    f"dividend run {run_id}: status is {status}; {to} needs {' or '.join(allowed)}"
                )
            conn.execute(
                f"UPDATE dividend_runs SET status = %s, {stamp} = coalesce({stamp}, now())"
                " WHERE id = %s",
                (to, run_id),
            )
            _event(conn, run_id, to, actor, detail)
    except pg_errors.RaiseException as exc:
        raise FrozenRunError(str(exc.diag.message_primary)) from exc


def mark_exported(conn: psycopg.Connection, run_id: int, *, by: str, detail: str = "") -> None:
    """approved → exported (exporting again keeps it exported and its first export time,
    and is recorded again, with ``detail``: which file)."""
    _transition(
        conn,
        run_id,
        to="exported",
        allowed=("approved", "exported"),
        stamp="exported_at",
        by=by,
        detail=detail,
    )


def mark_paid(conn: psycopg.Connection, run_id: int, *, by: str) -> None:
    """exported → paid."""
    _transition(conn, run_id, to="paid", allowed=("exported",), stamp="paid_at", by=by)


def create_adjustment(
    conn: psycopg.Connection,
    run_id: int,
    *,
    created_by: str,
    note: str = "",
    progress: Progress | None = None,
) -> int:
    """A draft adjustment run for an approved run: recompute its period and scope with
    today's data; for every line whose money changed, a reversing line and a correction
    line (the new figures). Unchanged lines are left out.

    Lines are compared with the run's **standing**: its own lines as corrected by the
    adjustments approved so far (an approved adjustment's corrections replace the lines
    it reverses), so a second correction reverses the first one's figures, never the
    original's again. An adjustment run is not adjusted itself (adjust the run it
    corrects). A draft adjustment of the same run is discarded (one open correction at a
    time, so two drafts cannot both be approved against the same standing)."""
    report = progress or _noop
    row = conn.execute(
        "SELECT status, period_label, scope_kind, scope_codes, kind, corrects_run_id"
        " FROM dividend_runs WHERE id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    status, label, scope_kind, codes, kind, corrects = row
    if status in ("draft", "discarded"):
        raise RunStateError(
            f"dividend run {run_id}: status is {status}; a draft is recomputed, not adjusted"
        )
    if kind == "adjustment":
        raise RunStateError(
            f"dividend run {run_id}: is an adjustment; adjust run {corrects} (the run it corrects)"
        )
    actor = actor_name(created_by)
    period = parse_period(label)
    try:
        with conn.transaction():
            for (open_id,) in conn.execute(
                "SELECT id FROM dividend_runs WHERE corrects_run_id = %s AND status = 'draft'"
                " ORDER BY id",
                (run_id,),
            ).fetchall():
                _discard(conn, int(open_id), actor, "replaced by a new adjustment")
            # the standing: lines of the run and corrections of its approved adjustments
            # that no approved adjustment has reversed
            conn.execute("DROP TABLE IF EXISTS _adj_base")
            conn.execute(
                """
                CREATE TEMP TABLE _adj_base ON COMMIT DROP AS
                SELECT l.* FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
                 WHERE ((r.id = %(orig)s AND l.line_kind = 'dividend')
                        OR (r.corrects_run_id = %(orig)s AND r.status <> 'draft'
                            AND l.line_kind = 'correction'))
                   AND NOT EXISTS (
                        SELECT 1 FROM dividend_lines v JOIN dividend_runs vr ON vr.id = v.run_id
                         WHERE v.reverses_line_id = l.id AND v.line_kind = 'reversal'
                           AND vr.status <> 'draft')
                """,
                {"orig": run_id},
            )
            _scope(conn, scope_kind, codes, period)
            received = _revenue(conn, period, _noop)
            adj = _open_run(
                conn,
                period=period,
                scope_kind=scope_kind,
                codes=codes,
                created_by=actor,
                run_id=None,
                kind="adjustment",
                corrects=run_id,
                note=note,
            )
            _event(conn, adj, "created", actor, note)
            _event(conn, run_id, "adjusted", actor, f"adjustment run {adj}")
            _deductions(conn, adj, period, received=received)
            _compute(conn, adj, period, report, line_kind="correction")
            same = """n.enrolment_id = o.enrolment_id AND n.component = o.component
                   AND (n.obligation_fen, n.paid_fen, n.arrears_added_fen, n.arrears_paid_fen,
                        n.amount_fen, n.payee_kind, n.payee_id)
                     = (o.obligation_fen, o.paid_fen, o.arrears_added_fen, o.arrears_paid_fen,
                        o.amount_fen, o.payee_kind, o.payee_id)
                   AND n.accrued_fen IS NOT DISTINCT FROM o.accrued_fen"""
            cols = ", ".join(_LINE_COLUMNS)
            # reverse every original line whose money is not reproduced exactly
            conn.execute(
                f"""
                INSERT INTO dividend_lines ({cols})
                SELECT %(adj)s, 'reversal', o.id, o.station_id, o.unit_village_id,
                       o.enrolment_id, o.scheme_id, o.component, o.payee_kind, o.payee_id,
                       o.period_start, o.period_end, -o.days_enrolled, -o.obligation_fen,
                       o.factor, -o.paid_fen, -o.arrears_added_fen, -o.arrears_paid_fen,
                       -o.amount_fen, o.policy, o.energy_wh, o.estimated_days,
                       o.revenue_benchmark_fen, o.revenue_subsidy_fen, o.deductions_fen,
                       -o.accrued_fen
                  FROM _adj_base o
                 WHERE NOT EXISTS (SELECT 1 FROM dividend_lines n
                                    WHERE n.run_id = %(adj)s AND n.line_kind = 'correction'
                                      AND {same})
                """,
                {"adj": adj},
            )
            # and keep only the corrections that differ from the standing
            conn.execute(
                f"""DELETE FROM dividend_lines n USING _adj_base o
                     WHERE n.run_id = %(adj)s AND n.line_kind = 'correction' AND {same}""",
                {"adj": adj},
            )
            conn.execute("UPDATE dividend_runs SET computed_at = now() WHERE id = %s", (adj,))
            return adj
    except pg_errors.RaiseException as exc:
        raise FrozenRunError(str(exc.diag.message_primary)) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"adjusting dividend run {run_id} failed: {exc}") from exc


def run_summary(conn: psycopg.Connection, run_id: int) -> RunSummary:
    """Totals of a run, from its units and lines."""
    row = conn.execute(
        """
        SELECT r.status, r.kind, r.period_label, r.scope_kind, r.scope_codes, r.created_by,
               r.approved_by,
               (SELECT count(*) FROM dividend_lines l WHERE l.run_id = r.id),
               count(u.*), coalesce(sum(u.revenue_benchmark_fen + u.revenue_subsidy_fen), 0),
               coalesce(sum(u.deductions_fen), 0), coalesce(sum(u.obligations_fen), 0),
               coalesce(sum(u.paid_fen), 0), coalesce(sum(u.arrears_paid_fen), 0),
               coalesce(sum(u.shortfall_fen), 0), coalesce(sum(u.residual_fen), 0),
               count(u.*) FILTER (WHERE u.estimated_days > 0)
          FROM dividend_runs r LEFT JOIN dividend_run_units u ON u.run_id = r.id
         WHERE r.id = %s GROUP BY r.id
        """,
        (run_id,),
    ).fetchone()
    if row is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    return RunSummary(
        run_id,
        row[0],
        row[1],
        row[2],
        row[3],
        tuple(row[4]),
        row[5],
        row[6],
        *(int(x) for x in row[7:]),
    )


def list_runs(
    conn: psycopg.Connection,
    *,
    status: str | None = None,
    period: str | None = None,
    kind: str | None = None,
    corrects: int | None = None,
    limit: int = 50,
) -> list[RunSummary]:
    """Runs newest first, with their totals, filtered by status, period label, kind and
    the run an adjustment corrects."""
    if period is not None:
        period = parse_period(period).label
    rows = conn.execute(
        """SELECT id FROM dividend_runs
            WHERE (%(status)s::text IS NULL OR status = %(status)s)
              AND (%(period)s::text IS NULL OR period_label = %(period)s)
              AND (%(kind)s::text IS NULL OR kind = %(kind)s)
              AND (%(corrects)s::bigint IS NULL OR corrects_run_id = %(corrects)s)
            ORDER BY id DESC LIMIT %(limit)s""",
        {"status": status, "period": period, "kind": kind, "corrects": corrects, "limit": limit},
    ).fetchall()
    return [run_summary(conn, int(r[0])) for r in rows]


def run_history(conn: psycopg.Connection, run_id: int) -> list[RunEvent]:
    """Every state change of a run, oldest first: who did what, and when."""
    if conn.execute("SELECT 1 FROM dividend_runs WHERE id = %s", (run_id,)).fetchone() is None:
        raise RunNotFoundError(f"dividend run {run_id}: not found")
    rows = conn.execute(
        "SELECT run_id, event, actor, at, detail FROM dividend_run_events WHERE run_id = %s"
        " ORDER BY id",
        (run_id,),
    ).fetchall()
    return [RunEvent(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def period_of(label: str) -> tuple[date, date]:
    """Start and exclusive end of a period label."""
    p = parse_period(label)
    return p.start, p.end
