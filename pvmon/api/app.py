"""FastAPI application factory: pool, routers, one error shape, the OpenAPI document.

Every failure is ``application/problem+json`` (RFC 9457, :class:`pvmon.api.models.Problem`):
401 without a valid key, 403 for the wrong role or county, 404 for an unknown record,
409 for a state conflict (run not a draft, double payment), 422 for rejected input with
one entry per field, 503 when the database cannot be reached.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pvmon.api.auth import AuthError, ForbiddenError
from pvmon.api.fresh import Fresh
from pvmon.api.gate import Admission, DatabaseGate, Slots, pooled_connection
from pvmon.api.guard import BodyGuard, key_checker
from pvmon.api.models import Problem, ProblemField
from pvmon.availability import AvailabilityOptions
from pvmon.db.migrate import current_version, database_flavour
from pvmon.errors import (
    DatabaseUnavailableError,
    NotFoundError,
    PvmonError,
    ServerBusyError,
    ValidationError,
)
from pvmon.settings import Settings

__all__ = ["PROBLEM_JSON", "app_for", "create_app", "problem_response"]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_DESCRIPTION = """Monitoring and dividends of PV poverty-alleviation stations.

**Access.** Every endpoint except `/health` (and the front page `/`) needs an API key
(`X-API-Key: pvk_...` or `Authorization: Bearer pvk_...`), created with
`pvmon keys create NAME --role ROLE [--county CODE]`. Roles: `viewer` (read operators'
data), `operator` (+ acknowledge alarms), `finance` (+ finance endpoints, personal data
unmasked), `admin` (everything, registry import and edits). A key limited to a county
sees only that county: 403 for anything outside it. The report page
`/v1/reports/month.html` also takes the key as the `key` query parameter, for a browser.

**Conventions.** Lists take `limit`/`offset` and return `{items, total, limit, offset}`.
Errors are `application/problem+json`. Times are ISO 8601 UTC; days are China Standard
Time calendar days. Units are in field names: `_w` W, `_wh` Wh, `_kwh` kWh; money is
integer `_fen` with a `_yuan` display string beside it.
"""


def problem_response(
    status: int,
    detail: str | None,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; a 503 says when to try again (``Retry-After``: the API
    answers 503 at once while the database is down, and after a short wait when busy)."""
    if status == 503:
        headers = {"Retry-After": "1", **(headers or {})}
    body = Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=instance,
        errors=[ProblemField(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_errors(problems: list[str]) -> list[dict[str, str]]:
    out = []
    for p in problems:
        field, sep, message = p.partition(": ")
        out.append({"field": field if sep else "", "message": message if sep else p})
    return out


def _status_of(exc: PvmonError) -> int:
    from dividends.errors import DoublePaymentError, FourEyesError, RunStateError

    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, ForbiddenError | FourEyesError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, RunStateError | DoublePaymentError):
        return 409
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, DatabaseUnavailableError | ServerBusyError):
        return 503
    return 500


def _refused(exc: psycopg.Error) -> str:
    """What the database refused, named by table and column or constraint: never its
    own words or the values (they may be personal data)."""
    diag = exc.diag
    where = ".".join(p for p in (diag.table_name, diag.column_name) if p) or "the record"
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return f"{where}: another record already has this value ({diag.constraint_name})"
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return f"{where}: refers to a record that does not exist ({diag.constraint_name})"
    if isinstance(exc, psycopg.errors.DataError):
        return f"{where}: a value is out of range or not of its type"
    return f"{where}: {diag.constraint_name or 'a rule of the registry'} does not hold"


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(PvmonError)
    def _pvmon(request: Request, exc: PvmonError) -> JSONResponse:
        status = _status_of(exc)
        if status == 500:
            _log.exception("request %s failed", request.url.path, exc_info=exc)
        errors = _field_errors(exc.problems) if isinstance(exc, ValidationError) else None
        headers = {"WWW-Authenticate": 'Bearer realm="pvmon"'} if status == 401 else None
        return problem_response(
            status, str(exc), instance=request.url.path, errors=errors, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, detail, instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(psycopg.Error)
    def _db(request: Request, exc: psycopg.Error) -> JSONResponse:
        if isinstance(exc, psycopg.errors.QueryCanceled):  # a statement timeout, not an outage
            _log.warning("query cancelled on %s: %s", request.url.path, exc)
            return problem_response(503, "the query took too long", instance=request.url.path)
        if isinstance(exc, psycopg.OperationalError):
            request.app.state.gate.trip(exc)
            return problem_response(503, "the database is unavailable", instance=request.url.path)
        if isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.DataError):
            _log.warning("database refused a request to %s: %s", request.url.path, exc)
            return problem_response(422, _refused(exc), instance=request.url.path)
        _log.exception("database error on %s", request.url.path, exc_info=exc)
        return problem_response(500, "database error", instance=request.url.path)

    @app.exception_handler(Exception)
    def _any(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(500, "internal error", instance=request.url.path)


def _problem_ref(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem.pop("$defs", {}).items():
        components[name] = sub
    components["Problem"] = problem
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            if path == "/health":
                responses["503"] = {
                    "description": "database unavailable",
                    "content": {"application/json": {"schema": {}}},
                }
                continue
            responses["401"] = _problem_ref("no API key, or an unknown or revoked one")
            responses["403"] = _problem_ref("the key's role or county does not allow this")
            responses["422"] = _problem_ref("rejected input; `errors` names each field")
            responses["503"] = _problem_ref(
                "the database is unavailable, or busy: Retry-After says when to try again"
            )
            if "{" in path:
                responses["404"] = _problem_ref("no such record")
            if method in ("post", "patch"):
                responses["409"] = _problem_ref("the record's state does not allow this")
                responses["413"] = _problem_ref("the body is over PVMON_API_BODY_MAX_BYTES")
    app.openapi_schema = schema
    return schema


def app_for(settings: Settings, *, database_url: str) -> FastAPI:
    """:func:`create_app` with its limits from ``settings`` (``PVMON_API_*``)."""
    return create_app(
        database_url=database_url,
        pool_size=settings.api_pool_size,
        heavy_requests=settings.api_heavy_requests,
        energy_max_age_s=settings.api_energy_max_age_s,
        summary_max_age_s=settings.api_summary_max_age_s,
        threads=settings.api_threads,
        db_wait_s=settings.api_db_wait_s,
        body_max_bytes=settings.api_body_max_bytes,
        availability=AvailabilityOptions.from_settings(settings),
    )


# the newest reading: one probe of the (inverter, time) key per inverter, not a scan of
# every reading (plain PostgreSQL has no index that leads with time, only a BRIN)
_LATEST_READING = """
SELECT max(r.time) FROM inverters i CROSS JOIN LATERAL (
       SELECT x.time FROM readings x WHERE x.inverter_id = i.id ORDER BY x.time DESC LIMIT 1) r
"""


def create_app(
    *,
    database_url: str,
    pool_size: int = 10,
    heavy_requests: int = 4,
    threads: int = 40,
    db_wait_s: float = 1.0,
    energy_max_age_s: float = 0.0,
    summary_max_age_s: float = 0.0,
    body_max_bytes: int = 20_000_000,
    availability: AvailabilityOptions | None = None,
) -> FastAPI:
    """The pvmon API bound to the database at ``database_url``.

    A connection pool of up to ``pool_size`` connections is opened on startup (and on
    first use when the app is served without its lifespan) and closed on shutdown;
    at most ``pool_size`` requests are served at once (the rest wait their turn without a
    thread, :class:`Admission`); they run on at most ``threads`` threads, and at most
    ``heavy_requests`` heavy ones
    (whole-fleet or year-long queries) at once, so light requests always find a
    connection. A request waits at most ``db_wait_s`` [s] for a connection or a heavy
    slot, then answers 503 with Retry-After; while the database stays down requests
    answer 503 at once (:class:`DatabaseGate`). A request body is read only for a valid
    key and only up to ``body_max_bytes`` [bytes] (:class:`BodyGuard`). The fleet
    summary's energy of the day, month and year is kept ``energy_max_age_s`` [s] and then
    renewed in the background (:class:`Fresh`; 0: computed for every request); its states
    and power likewise for ``summary_max_age_s`` [s].
    ``availability``: the limits of availability figures.
    """
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=pool_size,
        open=False,
        check=ConnectionPool.check_connection,  # a connection broken by an outage is replaced
        kwargs={
            "autocommit": True,
            "connect_timeout": max(1, round(db_wait_s)),
            "options": "-c timezone=UTC -c statement_timeout=120000",
            "application_name": "pvmon-api",  # its sessions, by name, in pg_stat_activity
        },
    )
    gate = DatabaseGate(database_url, wait_s=db_wait_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        pool.open(wait=False)
        try:
            yield
        finally:
            gate.close()
            pool.close()

    app = FastAPI(
        title="pvmon",
        version="0.1.0",
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "status", "description": "Liveness"},
            {"name": "operators", "description": "Fleet, stations, inverters, series, alarms"},
            {"name": "registry", "description": "Places, import and edits"},
            {"name": "finance", "description": "Schemes, households, enrolments, runs"},
            {"name": "reports", "description": "Monthly generation report (JSON and page)"},
            {"name": "access", "description": "API keys"},
        ],
    )
    app.state.pool, app.state.gate = pool, gate
    app.state.availability = availability or AvailabilityOptions()
    app.state.heavy = Slots(min(heavy_requests, pool_size), wait_s=db_wait_s)
    app.state.energy = Fresh(max_age_s=energy_max_age_s)
    app.state.summary = Fresh(max_age_s=summary_max_age_s)
    _install_handlers(app)
    app.add_middleware(
        BodyGuard,
        max_bytes=body_max_bytes,
        check_key=key_checker(pool, gate),
        problem=lambda status, detail, path: problem_response(status, detail, instance=path),
    )
    app.add_middleware(  # outermost: a request waits its turn before anything else
        Admission,
        limit=pool_size,
        wait_s=db_wait_s,
        busy=lambda path: problem_response(
            503,
            f"{pool_size} requests are being served (PVMON_API_POOL_SIZE); try again shortly",
            instance=path,
        ),
        exempt=frozenset({"/health"}),
    )

    @app.get("/health", tags=["status"], summary="Liveness and database status")
    def health() -> JSONResponse:
        """Schema version, flavour, registry counts and the latest reading; no key needed.
        503 ``{"status": "unavailable"}`` (nothing of the connection) while the database
        is down, at once when that is already known."""
        unavailable = JSONResponse(
            {"status": "unavailable"}, status_code=503, headers={"Retry-After": "1"}
        )
        try:
            with pooled_connection(pool, gate) as conn:
                body: dict[str, Any] = {
                    "status": "ok",
                    "schema_version": current_version(conn),
                    "flavour": database_flavour(conn),
                }
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM stations), (SELECT count(*) FROM inverters), "
                    "(SELECT count(*) FROM households)"
                ).fetchone()
                assert counts is not None
                body["stations"], body["inverters"], body["households"] = counts
                latest = conn.execute(_LATEST_READING).fetchone()
                body["latest_reading"] = latest[0].isoformat() if latest and latest[0] else None
        except ServerBusyError:
            return JSONResponse({"status": "busy"}, status_code=503, headers={"Retry-After": "1"})
        except DatabaseUnavailableError:
            return unavailable
        except psycopg.OperationalError as exc:
            gate.trip(exc)
            return unavailable
        return JSONResponse(body)

    from pvmon.api import availability as availability_api
    from pvmon.api import finance, operators, reports

    app.include_router(operators.router)
    app.include_router(finance.router)
    app.include_router(availability_api.router)
    app.include_router(reports.router)
    app.include_router(reports.index_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
