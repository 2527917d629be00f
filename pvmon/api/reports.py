"""Reports: the monthly generation report as JSON and as an HTML page, and the front page.

``/v1/reports/month`` answers JSON to any key with read access (the key's county only).
``/v1/reports/month.html`` is the same report as a page for a browser, which cannot send
a header: it also takes the key as the ``key`` query parameter (then the key shows in the
browser's history, so a viewer key limited to the county is the one to use there). ``/``
is a page without data that says where things are and opens the report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader

from pvmon.api.auth import Principal, authenticate
from pvmon.api.deps import Conn, access, county_filter, heavy
from pvmon.report.data import parse_month, report_json
from pvmon.report.html import index_page, report_page
from pvmon.report.queries import month_report

__all__ = ["index_router", "router"]

router = APIRouter(prefix="/v1/reports", tags=["reports"])
index_router = APIRouter()
_CODE = r"^[A-Za-z0-9_.-]+$"
_LOCAL = ZoneInfo("Asia/Shanghai")
CountyQ = Annotated[str, Query(min_length=1, max_length=64, pattern=_CODE)]
MonthQ = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: the current month (CST)"),
]
LosersQ = Annotated[int, Query(ge=0, le=1000, description="stations in the top-losers list")]
CodeQ = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")]
Reader = Annotated[Principal, Depends(access("read"))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "no such county, or a township or village not in it",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
}
_page_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="pvk_... API key")


def _month(text: str | None) -> date:
    if text:
        return parse_month(text)
    return datetime.now(UTC).astimezone(_LOCAL).date().replace(day=1)


def _blank(code: str | None) -> str | None:
    return code or None  # an empty field of the page's form means none


def _report(conn: Any, who: Principal, request: Request, **kw: Any) -> Any:
    county = county_filter(who, kw.pop("county"))
    assert county is not None
    options = getattr(request.app.state, "availability", None)
    return month_report(conn, county=county, availability=options, **kw)


@router.get(
    "/month",
    summary="Monthly generation report (JSON)",
    responses=_NOT_FOUND,
    dependencies=[Depends(heavy)],
)
def month_json(
    request: Request,
    who: Reader,
    conn: Conn,
    county: CountyQ,
    month: MonthQ = None,
    township: CodeQ = None,
    village: CodeQ = None,
    losers: LosersQ = 10,
) -> dict[str, Any]:
    """A county's (or one township's or village's) month: energy per station and village
    against expected, specific yield [kWh/kWp], performance ratio, alarms of the month,
    top losers and daily energy [Wh]; the notes say how each figure is made."""
    report = _report(conn, who, request, county=county, month=_month(month),
                     township=_blank(township), village=_blank(village), losers=losers)  # fmt: skip
    return report_json(report)


def _page_reader(
    request: Request,
    conn: Conn,
    header: Annotated[str | None, Security(_page_key)] = None,
    key: Annotated[
        str | None, Query(max_length=200, description="the API key, for a browser")
    ] = None,
) -> Principal:
    bearer = request.headers.get("authorization", "")
    plain = header or (bearer[7:].strip() if bearer.lower().startswith("bearer ") else None) or key
    principal = authenticate(conn, plain)
    principal.require("read")
    request.state.principal = principal
    return principal


@router.get(
    "/month.html",
    response_class=HTMLResponse,
    summary="Monthly generation report as a page (charts inline, key may be a parameter)",
    responses=_NOT_FOUND,
    dependencies=[Depends(heavy)],
)
def month_page(
    request: Request,
    who: Annotated[Principal, Depends(_page_reader)],
    conn: Conn,
    county: CountyQ,
    month: MonthQ = None,
    township: CodeQ = None,
    village: CodeQ = None,
    losers: LosersQ = 10,
) -> HTMLResponse:
    """The report of ``/v1/reports/month`` as one HTML page with its charts (inline SVG,
    no script). A browser sends the key as ``key``; programs send the header."""
    report = _report(conn, who, request, county=county, month=_month(month),
                     township=_blank(township), village=_blank(village), losers=losers)  # fmt: skip
    query = {"county": report.scope.county_code, "month": report.month.strftime("%Y-%m")}
    if report.scope.level != "county":
        query[report.scope.level] = report.scope.code
    return HTMLResponse(
        report_page(report, json_url=f"/v1/reports/month?{urlencode(query)}"),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@index_router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    """The front page (no key, no data)."""
    return HTMLResponse(index_page(), headers={"Referrer-Policy": "no-referrer"})
