"""Cash position per county, township or village: one set-based query (API-ready) [fen].

:func:`cash_position` returns one :class:`CashPosition` per place (every village of the
county, or its townships, or the county itself) with six integer-fen figures. Figures are
computed per village and summed up to townships and the county in the same query, so the
levels always agree (county = Σ townships = Σ villages).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import psycopg

from dividends.exports import yuan
from dividends.periods import parse_period
from pvmon.errors import NotFoundError, ValidationError

__all__ = ["FIGURES", "LEVELS", "STANDING_UNITS", "CashPosition", "cash_position"]

Level = Literal["county", "township", "village"]
LEVELS: tuple[Level, ...] = ("county", "township", "village")
FIGURES = (
    "accrued_fen",
    "received_fen",
    "outstanding_subsidy_fen",
    "advances_outstanding_fen",
    "paid_fen",
    "owed_fen",
)


@dataclass(frozen=True)
class CashPosition:
    """The cash position of one place (``level`` county/township/village) [fen]."""

    level: str
    code: str
    name: str
    accrued_fen: int
    received_fen: int
    outstanding_subsidy_fen: int
    advances_outstanding_fen: int
    paid_fen: int
    owed_fen: int

    def yuan(self, figure: str) -> str:
        """A figure (e.g. ``"paid_fen"`` or ``"paid"``) as exact yuan text, ``"1234.56"``."""
        name = figure if figure.endswith("_fen") else f"{figure}_fen"
        if name not in FIGURES:
            raise ValidationError(f"cash position: no figure {figure!r} (one of {FIGURES})")
        return yuan(int(getattr(self, name)))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the place and its six figures [fen]."""
        return asdict(self)


#: per station, village and period: the unit as the latest approved (exported, paid) run
#: of exactly that period left it (an approved adjustment supersedes the run it corrects);
#: ``%(s)s``/``%(e)s`` the period, or NULL for every period
STANDING_UNITS = """
SELECT DISTINCT ON (u.station_id, u.village_id, r.period_start, r.period_end)
       u.*, r.period_start, r.period_end
  FROM dividend_run_units u JOIN dividend_runs r ON r.id = u.run_id
 WHERE r.status IN ('approved', 'exported', 'paid')
   AND (%(s)s::date IS NULL OR (r.period_start = %(s)s AND r.period_end = %(e)s))
 ORDER BY u.station_id, u.village_id, r.period_start, r.period_end, r.id DESC
"""

# Village figures. ``unit``: a station's share per village (weight 1 at its own village;
# joint stations by station_village_shares). Station totals are split over the villages by
# largest remainder (ties to the lower village id), so the villages add up to the station.
_QUERY = """
WITH place AS (
    SELECT v.id AS village_id, v.code AS v_code, v.name AS v_name,
           tw.code AS t_code, tw.name AS t_name, c.code AS c_code, c.name AS c_name
      FROM villages v JOIN townships tw ON tw.id = v.township_id
      JOIN counties c ON c.id = tw.county_id
     WHERE c.id = %(county)s
), unit AS (
    SELECT u.* FROM (
        SELECT s.id AS station_id, coalesce(sh.village_id, s.village_id) AS village_id,
               coalesce(sh.weight, 1)::numeric AS weight,
               sum(coalesce(sh.weight, 1)) OVER (PARTITION BY s.id)::numeric AS total_weight
          FROM stations s
          LEFT JOIN station_village_shares sh ON sh.station_id = s.id AND s.kind = 'joint'
         WHERE s.village_id IN (SELECT village_id FROM place)
            OR EXISTS (SELECT 1 FROM station_village_shares x JOIN place p USING (village_id)
                        WHERE x.station_id = s.id)
    ) u
), own AS (
    SELECT * FROM ({standing}) st WHERE st.village_id IN (SELECT village_id FROM place)
), station_fig AS (  -- accrued revenue of received-basis units: the engine's revenue lines
    SELECT r.station_id, 'accrued_' || r.part AS fig, sum(r.amount_fen)::bigint AS fen
      FROM revenue_lines r
     WHERE r.source IN ('metered', 'estimated')
       AND EXISTS (SELECT 1 FROM own o WHERE o.station_id = r.station_id
                      AND o.revenue_basis = 'received' AND o.period_start = r.period_start
                      AND o.period_end = r.period_end)
     GROUP BY r.station_id, r.part
    UNION ALL
    SELECT g.station_id, 'settled', sum(g.amount_fen)::bigint
      FROM grid_settlements g
     WHERE g.station_id IN (SELECT station_id FROM unit)
       AND (%(s)s::date IS NULL OR (g.period_start >= %(s)s AND g.period_end <= %(e)s))
     GROUP BY g.station_id
    UNION ALL
    SELECT l.station_id, 'received_subsidy', sum(l.amount_fen)::bigint
      FROM subsidy_receipt_lines l
     WHERE l.station_id IN (SELECT station_id FROM unit)
       AND (%(s)s::date IS NULL OR (l.period_start >= %(s)s AND l.period_end <= %(e)s))
     GROUP BY l.station_id
), split AS (
    SELECT f.station_id, f.fig, f.fen, u.village_id,
           floor(f.fen * u.weight / u.total_weight)::bigint AS base,
           f.fen * u.weight - floor(f.fen * u.weight / u.total_weight) * u.total_weight AS rem
      FROM station_fig f JOIN unit u USING (station_id)
), ranked AS (
    SELECT village_id, fig, fen, base,
           sum(base) OVER (PARTITION BY station_id, fig) AS base_sum,
           row_number() OVER (PARTITION BY station_id, fig ORDER BY rem DESC, village_id) AS rn
      FROM split
), village_fig AS (
    SELECT village_id, fig, sum(base + CASE WHEN rn <= fen - base_sum THEN 1 ELSE 0 END)::bigint
               AS fen
      FROM ranked GROUP BY village_id, fig
    UNION ALL  -- accrued-basis units: their own revenue, frozen with the run
    SELECT village_id, 'accrued_benchmark', sum(revenue_benchmark_fen)::bigint
      FROM own WHERE revenue_basis = 'accrued' GROUP BY village_id
    UNION ALL
    SELECT village_id, 'accrued_subsidy', sum(revenue_subsidy_fen)::bigint
      FROM own WHERE revenue_basis = 'accrued' GROUP BY village_id
    UNION ALL
    SELECT b.village_id, 'advances', sum(b.outstanding_fen)::bigint
      FROM cash_advance_balances b
     WHERE b.county_id = %(county)s
       AND (%(s)s::date IS NULL OR (b.period_start >= %(s)s AND b.period_end <= %(e)s))
     GROUP BY b.village_id
    UNION ALL
    SELECT l.unit_village_id, 'paid', sum(l.amount_fen)::bigint
      FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
     WHERE r.status IN ('approved', 'exported', 'paid')
       AND l.unit_village_id IN (SELECT village_id FROM place)
       AND (%(s)s::date IS NULL OR (r.period_start = %(s)s AND r.period_end = %(e)s))
     GROUP BY l.unit_village_id
    UNION ALL
    SELECT l.unit_village_id, 'owed', sum(l.arrears_added_fen - l.arrears_paid_fen)::bigint
      FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
     WHERE r.status IN ('approved', 'exported', 'paid')
       AND l.unit_village_id IN (SELECT village_id FROM place)
       AND (%(e)s::date IS NULL OR l.period_end <= %(e)s)
     GROUP BY l.unit_village_id
), village AS (
    SELECT p.*,
           coalesce(sum(f.fen) FILTER (WHERE f.fig LIKE 'accrued%%'), 0) AS accrued,
           coalesce(sum(f.fen) FILTER (WHERE f.fig IN ('settled', 'received_subsidy')), 0)
               AS received,
           coalesce(sum(f.fen) FILTER (WHERE f.fig = 'accrued_subsidy'), 0)
               - coalesce(sum(f.fen) FILTER (WHERE f.fig = 'received_subsidy'), 0)
               AS outstanding_subsidy,
           coalesce(sum(f.fen) FILTER (WHERE f.fig = 'advances'), 0) AS advances,
           coalesce(sum(f.fen) FILTER (WHERE f.fig = 'paid'), 0) AS paid,
           coalesce(sum(f.fen) FILTER (WHERE f.fig = 'owed'), 0) AS owed
      FROM place p LEFT JOIN village_fig f USING (village_id)
     GROUP BY p.village_id, p.v_code, p.v_name, p.t_code, p.t_name, p.c_code, p.c_name
)
SELECT {code}, {name}, sum(accrued)::bigint, sum(received)::bigint,
       sum(outstanding_subsidy)::bigint, sum(advances)::bigint, sum(paid)::bigint,
       sum(owed)::bigint
  FROM village
 GROUP BY {code}, {name}
 ORDER BY {code}
"""

_KEYS: dict[str, tuple[str, str]] = {
    "village": ("v_code", "v_name"),
    "township": ("t_code", "t_name"),
    "county": ("c_code", "c_name"),
}


def cash_position(
    conn: psycopg.Connection,
    *,
    county: str,
    level: Level = "village",
    period: str | None = None,
) -> list[CashPosition]:
    """The cash position [fen] of every village, township or the county ``county`` (code),
    ordered by place code; one set-based query, no per-household loop.

    Definitions (``period``, e.g. ``2025``/``2025-H1``, restricts each figure to generation
    or run periods lying within it; without it, all periods):

    - **accrued**: benchmark + subsidy revenue of the place's units as the approved runs of
      exactly that period left them (:data:`STANDING_UNITS`; drafts, discarded runs and
      other periods never count): an accrued-basis unit's own revenue; for a unit paid on
      the received basis, the engine's accrued revenue lines of its station and period,
      apportioned like the cash.
    - **received**: cash in — the grid's settled benchmark amounts (``grid_settlements``)
      plus subsidy received for the place's stations (``subsidy_receipt_lines``).
    - **outstanding subsidy**: accrued subsidy (part ``subsidy``) − subsidy received.
    - **advances outstanding**: the county's advances to the place's villages not yet repaid
      (``cash_advance_balances.outstanding_fen``; for advances of runs within the period).
    - **paid**: amounts (period's dividend + arrears paid, incl. reversal/correction lines)
      of dividend lines of approved, exported or paid runs of exactly that period.
    - **owed**: arrears not yet paid — Σ(arrears added − arrears paid) of those lines, as at
      the period's end (lines ending by then, whatever their start).

    Station figures are apportioned to villages: a station's own village, or for a joint
    station its ``station_village_shares`` by weight (largest remainder, so the villages add
    up to the station to the fen). Advances, paid and owed are per unit village already.
    Townships and the county are the sums of their villages, so every level agrees.
    """
    if level not in _KEYS:
        raise ValidationError(f"cash position: level {level!r} is not one of {list(LEVELS)}")
    row = conn.execute("SELECT id FROM counties WHERE code = %s", (county,)).fetchone()
    if row is None:
        raise NotFoundError(f"county {county!r}: not found")
    p = parse_period(period) if period is not None else None
    code, name = _KEYS[level]
    rows = conn.execute(
        _QUERY.format(code=code, name=name, standing=STANDING_UNITS),
        {"county": int(row[0]), "s": p.start if p else None, "e": p.end if p else None},
    ).fetchall()
    return [CashPosition(level, str(r[0]), str(r[1]), *(int(x) for x in r[2:])) for r in rows]
