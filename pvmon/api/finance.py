"""Finance endpoints: schemes, households, enrolments, runs, exports, statements, schedules.

The dividend engine (:mod:`dividends`) does the work; this module checks access (role,
county), shapes the answers and masks personal data unless the role permits.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Body, Depends, Path, Query, Response
from psycopg.rows import dict_row

from dividends.bank import DEFAULT_LAYOUT, export_bank_file, load_layout
from dividends.exports import export_csv, export_xlsx, yuan
from dividends.queries import payee_schedule, station_schedule
from dividends.runs import (
    approve_run,
    compute_run,
    create_adjustment,
    discard_run,
    mark_paid,
    recompute_run,
    run_history,
    scope_in_county,
)
from pvmon.api.auth import ForbiddenError, Principal
from pvmon.api.deps import Conn, Paging, access, county_filter, heavy, paging
from pvmon.api.models import (
    AdjustmentCreate,
    Enrolment,
    Household,
    Page,
    PayeeStatement,
    RunCreate,
    RunDiscard,
    RunEventOut,
    RunLine,
    RunSummaryOut,
    ScheduleOut,
    Scheme,
)
from pvmon.errors import NotFoundError
from pvmon.privacy import mask_bank_account, mask_id_number, mask_name

__all__ = ["router"]

router = APIRouter(prefix="/v1")
Reader = Annotated[Principal, Depends(access("read"))]
Finance = Annotated[Principal, Depends(access("finance"))]
Pager = Annotated[Paging, Depends(paging)]
CodeQ = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CodeP = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
RunP = Annotated[int, Path(ge=1, le=2**53, description="run id")]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _rows(conn: psycopg.Connection, query: str, params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


@router.get(
    "/schemes",
    tags=["finance"],
    response_model=Page[Scheme],
    summary="Dividend schemes and their components",
)
def list_schemes(who: Finance, conn: Conn, pages: Pager) -> dict[str, Any]:
    rows = _rows(
        conn,
        """
        SELECT s.id, s.code, s.version, s.effective_from, s.effective_to, s.years,
               s.transfer_after_years, s.policy, s.description, count(*) OVER () AS total
          FROM dividend_schemes s ORDER BY s.code, s.version LIMIT %s OFFSET %s""",
        (pages.limit, pages.offset),
    )
    comps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in _rows(
        conn,
        """SELECT scheme_id, component, payee_role, basis, yearly_fen,
                                   share::float8 AS share
                              FROM dividend_scheme_components WHERE scheme_id = ANY(%s)
                             ORDER BY component""",
        ([r["id"] for r in rows],),
    ):
        comps[c.pop("scheme_id")].append({**c, "yearly_yuan": yuan(c["yearly_fen"])})
    total = rows[0]["total"] if rows else _count(conn, "SELECT count(*) FROM dividend_schemes")
    return pages.page([{**r, "components": comps[r["id"]]} for r in rows], total)


def _count(conn: psycopg.Connection, query: str, params: Any = None) -> int:
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


_HOUSEHOLDS = """
SELECT h.file_no, h.name, v.code AS village, tw.code AS township, c.code AS county,
       h.id_number, h.bank_name, h.bank_account, h.members, sv.code AS served_by_station,
       os.code AS own_station, h.id, c.id AS county_id
  FROM households h
  JOIN villages v ON v.id = h.village_id
  JOIN townships tw ON tw.id = v.township_id
  JOIN counties c ON c.id = tw.county_id
  LEFT JOIN stations sv ON sv.id = h.served_by_station_id
  LEFT JOIN stations os ON os.owner_household_id = h.id
 WHERE (%(county)s::text IS NULL OR c.code = %(county)s)
   AND (%(township)s::text IS NULL OR tw.code = %(township)s)
   AND (%(village)s::text IS NULL OR v.code = %(village)s)
   AND (%(station)s::text IS NULL OR sv.code = %(station)s OR os.code = %(station)s)
   AND (%(file_no)s::text IS NULL OR h.file_no = %(file_no)s)
"""


def _household_out(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("id", "county_id", "total")}
    out["masked"] = not who.reveals_personal_data
    if out["masked"]:
        out["name"] = mask_name(out["name"])
        out["id_number"] = mask_id_number(out["id_number"])
        out["bank_account"] = mask_bank_account(out["bank_account"])
    return out


@router.get(
    "/households",
    tags=["finance"],
    response_model=Page[Household],
    summary="Households (personal data masked unless the role permits)",
)
def list_households(
    who: Reader,
    conn: Conn,
    pages: Pager,
    county: CodeQ = None,
    township: CodeQ = None,
    village: CodeQ = None,
    station: CodeQ = None,
) -> dict[str, Any]:
    """Households by file number; ``station`` matches the own or the serving station."""
    params = {
        "county": county_filter(who, county),
        "township": township,
        "village": village,
        "station": station,
        "file_no": None,
    }
    rows = _rows(
        conn,
        _HOUSEHOLDS + " ORDER BY h.file_no LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": pages.limit, "offset": pages.offset},
    )
    total = _count(conn, f"SELECT count(*) FROM ({_HOUSEHOLDS}) x", params)
    return pages.page([_household_out(r, who) for r in rows], total)


def _household(conn: psycopg.Connection, who: Principal, file_no: str) -> dict[str, Any]:
    rows = _rows(
        conn,
        _HOUSEHOLDS,
        {"county": None, "township": None, "village": None, "station": None, "file_no": file_no},
    )
    if not rows:
        raise NotFoundError(f"household {file_no!r}: not found")
    who.require_county(rows[0]["county_id"], f"household {file_no!r}")
    return rows[0]


@router.get(
    "/households/{file_no}", tags=["finance"], response_model=Household, summary="One household"
)
def get_household(who: Reader, conn: Conn, file_no: CodeP) -> dict[str, Any]:
    return _household_out(_household(conn, who, file_no), who)


@router.get(
    "/households/{file_no}/statement",
    tags=["finance"],
    response_model=PayeeStatement,
    summary="What a household got each year and why",
)
def household_statement(who: Finance, conn: Conn, file_no: CodeP) -> dict[str, Any]:
    """Per dividend year: the scheme amount, what approved runs paid, and each paying line
    with its basis (unit energy, revenue, deductions, obligation, coverage factor)."""
    hh = _household(conn, who, file_no)
    expected: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    for y in payee_schedule(conn, file_no):
        expected[y.year] += y.expected_fen
        paid[y.year] += y.paid_fen
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(
        conn,
        """
        SELECT extract(year FROM l.period_start)::int AS year, r.id AS run_id,
               r.kind AS run_kind, r.period_label, l.line_kind, s.code AS station,
               sc.code AS scheme, l.component, l.policy, l.days_enrolled, l.energy_wh,
               l.estimated_days, (l.revenue_benchmark_fen + l.revenue_subsidy_fen) AS revenue_fen,
               l.deductions_fen, l.obligation_fen, l.factor::float8 AS factor, l.paid_fen,
               l.arrears_paid_fen, l.amount_fen
          FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
          JOIN stations s ON s.id = l.station_id JOIN dividend_schemes sc ON sc.id = l.scheme_id
         WHERE l.payee_kind = 'household' AND l.payee_id = %s AND r.status <> 'draft'
         ORDER BY l.period_start, r.id, l.id""",
        (hh["id"],),
    ):
        year = r.pop("year")
        lines[year].append({**r, "amount_yuan": yuan(r["amount_fen"])})
    years = sorted(set(expected) | set(lines))
    return {
        "household": _household_out(hh, who),
        "years": [
            {
                "year": y,
                "expected_fen": expected[y],
                "expected_yuan": yuan(expected[y]),
                "paid_fen": paid[y],
                "paid_yuan": yuan(paid[y]),
                "lines": lines[y],
            }
            for y in years
        ],
    }


_ENROLMENTS = """
SELECT e.id, s.code AS station, sl.slot_no, h.file_no AS household,
       cv.code AS collective_village, sc.code AS scheme, sc.version AS scheme_version,
       e.starts_on, e.ends_on, e.end_reason, sl.first_dividend_on
  FROM dividend_enrolments e
  JOIN station_slots sl ON sl.id = e.slot_id
  JOIN stations s ON s.id = sl.station_id
  JOIN villages v ON v.id = s.village_id
  JOIN townships tw ON tw.id = v.township_id
  JOIN counties c ON c.id = tw.county_id
  JOIN dividend_schemes sc ON sc.id = e.scheme_id
  LEFT JOIN households h ON h.id = e.household_id
  LEFT JOIN villages cv ON cv.id = e.village_id
 WHERE (%(county)s::text IS NULL OR c.code = %(county)s)
   AND (%(station)s::text IS NULL OR s.code = %(station)s)
   AND (%(household)s::text IS NULL OR h.file_no = %(household)s)
   AND (%(active)s::boolean IS NULL OR %(active)s = (e.ends_on IS NULL))
"""


@router.get(
    "/enrolments",
    tags=["finance"],
    response_model=Page[Enrolment],
    summary="Enrolments with their history",
)
def list_enrolments(
    who: Finance,
    conn: Conn,
    pages: Pager,
    county: CodeQ = None,
    station: CodeQ = None,
    household: CodeQ = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """Every enrolment (ended ones too, with their end reason) by station, slot and start,
    so a slot's history reads top to bottom."""
    params = {
        "county": county_filter(who, county),
        "station": station,
        "household": household,
        "active": active,
    }
    rows = _rows(
        conn,
        _ENROLMENTS + " ORDER BY s.code, sl.slot_no, e.starts_on, e.id"
        " LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": pages.limit, "offset": pages.offset},
    )
    return pages.page(rows, _count(conn, f"SELECT count(*) FROM ({_ENROLMENTS}) x", params))


_RUNS = """
SELECT r.id, r.status, r.kind, r.period_label, r.scope_kind, r.scope_codes, r.created_by,
       r.created_at, r.approved_by, r.approved_at, r.corrects_run_id, r.exported_at,
       r.paid_at, r.note,
       coalesce((SELECT count(*) FROM dividend_lines l WHERE l.run_id = r.id), 0) AS lines,
       u.units, u.revenue_fen, u.deductions_fen, u.obligations_fen, u.paid_fen,
       u.arrears_paid_fen, u.estimated_units, u.shortfall_fen, u.residual_fen
  FROM dividend_runs r
 CROSS JOIN LATERAL (
       SELECT count(*) AS units,
              coalesce(sum(revenue_benchmark_fen + revenue_subsidy_fen), 0)::bigint
                  AS revenue_fen,
              coalesce(sum(deductions_fen), 0)::bigint AS deductions_fen,
              coalesce(sum(obligations_fen), 0)::bigint AS obligations_fen,
              coalesce(sum(paid_fen), 0)::bigint AS paid_fen,
              coalesce(sum(arrears_paid_fen), 0)::bigint AS arrears_paid_fen,
              count(*) FILTER (WHERE estimated_days > 0) AS estimated_units,
              coalesce(sum(shortfall_fen), 0)::bigint AS shortfall_fen,
              coalesce(sum(residual_fen), 0)::bigint AS residual_fen
         FROM dividend_run_units x WHERE x.run_id = r.id) u
 WHERE (%(id)s::bigint IS NULL OR r.id = %(id)s)
   AND (%(status)s::text IS NULL OR r.status = %(status)s)
   AND (%(period)s::text IS NULL OR r.period_label = %(period)s)
   AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
   AND (%(corrects)s::bigint IS NULL OR r.corrects_run_id = %(corrects)s)
   AND (%(visible)s::bigint[] IS NULL OR r.id = ANY(%(visible)s))
"""


def _run_out(row: dict[str, Any]) -> dict[str, Any]:
    for k in (
        "revenue",
        "deductions",
        "obligations",
        "paid",
        "arrears_paid",
        "shortfall",
        "residual",
    ):
        row[f"{k}_yuan"] = yuan(row[f"{k}_fen"])
    row["scope_codes"] = list(row["scope_codes"])
    return row


def _scope_in_county(
    conn: psycopg.Connection, who: Principal, scope_kind: str, codes: Sequence[str]
) -> bool:
    """True when the key may see a run of this scope (a county key: scope inside it)."""
    return scope_in_county(conn, county_id=who.county_id, scope_kind=scope_kind, codes=codes)


def _visible_runs(conn: psycopg.Connection, who: Principal) -> list[int] | None:
    if who.county_id is None:
        return None
    runs = conn.execute("SELECT id, scope_kind, scope_codes FROM dividend_runs").fetchall()
    return [int(i) for i, kind, codes in runs if _scope_in_county(conn, who, kind, codes)]


def _run(conn: psycopg.Connection, who: Principal, run_id: int) -> dict[str, Any]:
    rows = _rows(
        conn,
        _RUNS,
        {
            "id": run_id,
            "status": None,
            "period": None,
            "kind": None,
            "corrects": None,
            "visible": None,
        },
    )
    if not rows:
        raise NotFoundError(f"dividend run {run_id}: not found")
    if not _scope_in_county(conn, who, rows[0]["scope_kind"], rows[0]["scope_codes"]):
        raise ForbiddenError(f"dividend run {run_id} is outside county {who.county_code!r}")
    return _run_out(rows[0])


@router.get(
    "/runs",
    tags=["finance"],
    response_model=Page[RunSummaryOut],
    summary="Dividend runs with their totals",
)
def list_runs(
    who: Finance,
    conn: Conn,
    pages: Pager,
    status: Literal["draft", "approved", "exported", "paid", "discarded"] | None = None,
    period: Annotated[str | None, Query(pattern=r"^[0-9]{4}(-(H[12]|Q[1-4]))?$")] = None,
    kind: Literal["regular", "adjustment"] | None = None,
    corrects: Annotated[
        int | None, Query(ge=1, le=2**53, description="adjustments of this run id")
    ] = None,
) -> dict[str, Any]:
    """Newest first. A county key sees the runs whose scope lies inside its county."""
    params = {
        "id": None,
        "status": status,
        "period": period,
        "kind": kind,
        "corrects": corrects,
        "visible": _visible_runs(conn, who),
    }
    rows = _rows(
        conn,
        _RUNS + " ORDER BY r.id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": pages.limit, "offset": pages.offset},
    )
    total = _count(conn, f"SELECT count(*) FROM ({_RUNS}) x", params)
    return pages.page([_run_out(r) for r in rows], total)


@router.post(
    "/runs",
    tags=["finance"],
    response_model=RunSummaryOut,
    status_code=201,
    summary="Create (or recompute the matching) draft run",
    dependencies=[Depends(heavy)],
)
def create_run(who: Finance, conn: Conn, body: Annotated[RunCreate, Body()]) -> dict[str, Any]:
    """Computes a draft for the period and scope; the key's name is its creator. An
    existing draft of the same period and scope is recomputed in place."""
    if not _scope_in_county(conn, who, body.scope_kind, body.scope_codes):
        raise ForbiddenError(
            f"scope {body.scope_kind} {body.scope_codes} is outside county "
            f"{who.county_code!r} of this key"
        )
    run_id = compute_run(
        conn,
        period=body.period,
        scope_kind=body.scope_kind,
        scope_codes=body.scope_codes,
        created_by=who.name,
        note=body.note,
    )
    return _run(conn, who, run_id)


@router.get(
    "/runs/{run_id}",
    tags=["finance"],
    response_model=RunSummaryOut,
    summary="One run with its totals",
)
def get_run(who: Finance, conn: Conn, run_id: RunP) -> dict[str, Any]:
    return _run(conn, who, run_id)


@router.post(
    "/runs/{run_id}/recompute",
    tags=["finance"],
    response_model=RunSummaryOut,
    summary="Recompute a draft with today's data",
    dependencies=[Depends(heavy)],
)
def recompute(who: Finance, conn: Conn, run_id: RunP) -> dict[str, Any]:
    """The key becomes one of the draft's makers (and may not approve it). 409 when the
    run is not a draft, or is an adjustment (a new adjustment of the run it corrects is
    created instead)."""
    _run(conn, who, run_id)
    recompute_run(conn, run_id, by=who.name)
    return _run(conn, who, run_id)


@router.post(
    "/runs/{run_id}/approve",
    tags=["finance"],
    response_model=RunSummaryOut,
    summary="Approve a draft (not by its creator)",
)
def approve(
    who: Finance,
    conn: Conn,
    run_id: RunP,
    accept_estimates: Annotated[
        bool,
        Query(description="approve although stations' energy is estimated beyond the limit"),
    ] = False,
) -> dict[str, Any]:
    """Records the key's name as approver; 403 when it computed or recomputed the draft,
    409 when the run is not a draft, its period has not ended, its estimates are not
    acknowledged, or a payee is already paid for the period."""
    _run(conn, who, run_id)
    approve_run(conn, run_id, approved_by=who.name, accept_estimated=accept_estimates)
    return _run(conn, who, run_id)


@router.post(
    "/runs/{run_id}/discard",
    tags=["finance"],
    response_model=RunSummaryOut,
    summary="Discard a draft (kept with its history, without lines)",
)
def discard(
    who: Finance, conn: Conn, run_id: RunP, body: Annotated[RunDiscard, Body()]
) -> dict[str, Any]:
    """409 when the run is not a draft."""
    _run(conn, who, run_id)
    discard_run(conn, run_id, by=who.name, reason=body.reason)
    return _run(conn, who, run_id)


@router.get(
    "/runs/{run_id}/history",
    tags=["finance"],
    response_model=list[RunEventOut],
    summary="Every state change of a run: what, who and when",
)
def history(who: Finance, conn: Conn, run_id: RunP) -> list[dict[str, Any]]:
    _run(conn, who, run_id)
    return [
        {"event": e.event, "actor": e.actor, "at": e.at, "detail": e.detail}
        for e in run_history(conn, run_id)
    ]


@router.post(
    "/runs/{run_id}/adjustments",
    tags=["finance"],
    response_model=RunSummaryOut,
    status_code=201,
    summary="Correct an approved run: a new draft adjustment run",
    dependencies=[Depends(heavy)],
)
def adjust(
    who: Finance, conn: Conn, run_id: RunP, body: Annotated[AdjustmentCreate, Body()]
) -> dict[str, Any]:
    """Recomputes the period and scope of an approved (exported or paid) run with today's
    data into a new draft run of kind ``adjustment`` (``corrects_run_id`` = this run): for
    each line whose money changed, a reversing line (the original negated) and a
    correction line; unchanged lines are left out and the original is never edited.
    Lines are compared with the run as corrected by its approved adjustments, so a later
    correction builds on an earlier one; a draft adjustment of the same run is replaced.
    The key's name is its creator and ``note`` says why; it is then approved (by someone
    else), exported and marked paid like any run.

    409 when the run is a draft (recompute it instead) or is itself an adjustment (adjust
    the run it corrects)."""
    _run(conn, who, run_id)
    adj = create_adjustment(conn, run_id, created_by=who.name, note=body.note)
    return _run(conn, who, adj)


@router.post(
    "/runs/{run_id}/mark-paid",
    tags=["finance"],
    response_model=RunSummaryOut,
    summary="Record that the bank paid an exported run",
)
def mark_run_paid(who: Finance, conn: Conn, run_id: RunP) -> dict[str, Any]:
    """exported → paid, with ``paid_at``: the run's bank file was issued
    (``POST /v1/runs/{run_id}/bank-file``) and the bank has paid it. 409 for any other
    status (a paid run stays paid). The schema keeps the time, not the person: the key's
    name is logged."""
    _run(conn, who, run_id)
    mark_paid(conn, run_id, by=who.name)
    return _run(conn, who, run_id)


@router.get(
    "/runs/{run_id}/lines",
    tags=["finance"],
    response_model=Page[RunLine],
    summary="A run's ledger lines",
)
def run_lines(
    who: Finance,
    conn: Conn,
    run_id: RunP,
    pages: Pager,
    station: CodeQ = None,
    payee_kind: Literal["household", "collective"] | None = None,
) -> dict[str, Any]:
    _run(conn, who, run_id)
    query = """
        SELECT l.id, l.line_kind, s.code AS station, l.payee_kind,
               coalesce(h.file_no, pv.code) AS payee, sc.code AS scheme, l.component, l.policy,
               l.period_start, l.period_end, l.days_enrolled, l.energy_wh, l.obligation_fen,
               l.factor::float8 AS factor, l.amount_fen
          FROM dividend_lines l JOIN stations s ON s.id = l.station_id
          JOIN dividend_schemes sc ON sc.id = l.scheme_id
          LEFT JOIN households h ON l.payee_kind = 'household' AND h.id = l.payee_id
          LEFT JOIN villages pv ON l.payee_kind = 'collective' AND pv.id = l.payee_id
         WHERE l.run_id = %(run)s AND (%(station)s::text IS NULL OR s.code = %(station)s)
           AND (%(kind)s::text IS NULL OR l.payee_kind = %(kind)s)"""
    params = {"run": run_id, "station": station, "kind": payee_kind}
    rows = _rows(
        conn,
        query + " ORDER BY l.id LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": pages.limit, "offset": pages.offset},
    )
    for r in rows:
        r["obligation_yuan"] = yuan(r["obligation_fen"])
        r["amount_yuan"] = yuan(r["amount_fen"])
    return pages.page(rows, _count(conn, f"SELECT count(*) FROM ({query}) x", params))


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            _XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


def _file(path: FsPath, media_type: str, filename: str) -> Response:
    return Response(
        path.read_bytes(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/runs/{run_id}/export",
    tags=["finance"],
    response_class=Response,
    responses=_FILE_RESPONSES,
    summary="Download a run's lines as CSV or XLSX",
)
def export_run(
    who: Finance, conn: Conn, run_id: RunP, format: Literal["csv", "xlsx"] = "csv"
) -> Response:
    """All lines with their basis (a draft gives a preview); XLSX has a sheet per village
    and a totals sheet. Amounts in yuan; personal data masked unless the role permits."""
    _run(conn, who, run_id)
    with tempfile.TemporaryDirectory(prefix="pvmon-export-") as tmp:
        path = FsPath(tmp) / f"run-{run_id}.{format}"
        if format == "csv":
            export_csv(conn, run_id, path, reveal=who.reveals_personal_data)
            return _file(path, "text/csv; charset=utf-8", path.name)
        export_xlsx(conn, run_id, path, reveal=who.reveals_personal_data)
        return _file(path, _XLSX, path.name)


@router.post(
    "/runs/{run_id}/bank-file",
    tags=["finance"],
    response_class=Response,
    responses={
        200: {
            "description": "the bank payment file (CSV or XLSX, as the layout says)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                _XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    summary="Download the bank payment file; marks the run exported",
    dependencies=[Depends(heavy)],
)
def bank_file(
    who: Finance,
    conn: Conn,
    run_id: RunP,
    layout: Annotated[str, Query(pattern=r"^[a-z0-9-]{1,40}$")] = DEFAULT_LAYOUT,
) -> Response:
    """Approved (or exported) runs only: 409 for a draft or a paid run; 422 naming each
    household and field when the file could not be complete (no account, characters the
    layout's encoding cannot carry). ``layout``: a layout pvmon ships (``pvmon-csv``,
    ``cn-batch-gbk``, ``cn-batch-xlsx``). The checksum is in ``X-Pvmon-Sha256`` and in
    the run's history."""
    _run(conn, who, run_id)
    chosen = load_layout(layout)
    with tempfile.TemporaryDirectory(prefix="pvmon-export-") as tmp:
        path = FsPath(tmp) / f"bank-run-{run_id}.{chosen.format}"
        result = export_bank_file(
            conn, run_id, path, by=who.name, may_see_accounts=who.reveals_personal_data,
            layout=chosen,
        )  # fmt: skip
        media = _XLSX if chosen.format == "xlsx" else f"text/csv; charset={chosen.encoding}"
        response = _file(path, media, path.name)
        response.headers["X-Pvmon-Sha256"] = result.sha256
        return response


@router.get(
    "/stations/{code}/schedule",
    tags=["finance"],
    response_model=ScheduleOut,
    summary="A station's 20-year dividend schedule",
)
def schedule(who: Finance, conn: Conn, code: CodeP) -> dict[str, Any]:
    """Expected energy, revenue, obligations and coverage per year (pvlib yield,
    degradation), with actuals from approved runs beside past years."""
    from pvmon.api import queries

    found = queries.station_county(conn, station=code)
    if found is None:
        raise NotFoundError(f"station {code!r}: not found")
    who.require_county(found[1], f"station {code!r}")
    s = station_schedule(conn, code)
    years = []
    for y in s.years:
        years.append(
            {
                "year": y.year,
                "scheme_year": y.year_no,
                "expected_energy_kwh": float(y.expected_kwh),
                "expected_revenue_fen": y.expected_revenue_fen,
                "expected_revenue_yuan": yuan(y.expected_revenue_fen),
                "expected_deductions_fen": y.expected_deductions_fen,
                "obligations_fen": y.obligations_fen,
                "obligations_yuan": yuan(y.obligations_fen),
                "coverage": float(y.coverage) if y.coverage is not None else None,
                "at_risk": y.at_risk,
                "actual_energy_kwh": y.actual.energy_wh / 1000 if y.actual else None,
                "actual_revenue_fen": y.actual.revenue_fen if y.actual else None,
                "actual_paid_fen": y.actual.paid_fen if y.actual else None,
            }
        )
    return {
        "station": s.station,
        "kind": s.kind,
        "capacity_kwp": float(s.capacity_kwp),
        "specific_yield_kwh_per_kwp": float(s.specific_yield),
        "tariff_yuan_per_kwh": float(s.tariff),
        "deduction_rate": float(s.deduction_rate),
        "first_year": s.first_year,
        "years_at_risk": s.years_at_risk,
        "years": years,
    }
