"""Request dependencies: a pooled connection and the caller's principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from pvmon.api.auth import Access, ForbiddenError, Principal, authenticate
from pvmon.api.gate import pooled_connection

__all__ = ["Conn", "Paging", "access", "county_filter", "get_conn", "heavy", "paging"]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="pvk_... API key")
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer pvk_...")


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A connection from the app's pool (autocommit, UTC session), returned after the
    request; 503 at once while the database is known to be down, after the gate's short
    wait when it has just gone, and 503 with Retry-After when every connection is busy."""
    with pooled_connection(request.app.state.pool, request.app.state.gate) as conn:
        yield conn


def heavy(request: Request) -> Iterator[None]:
    """Dependency of heavy routes: hold one of the app's heavy-request slots (taken
    before the route's connection), or 503 with Retry-After after a short wait."""
    with request.app.state.heavy.take():
        yield


Conn = Annotated[psycopg.Connection, Depends(get_conn)]


def access(needed: Access) -> Callable[..., Principal]:
    """Dependency: authenticate the key and require ``needed`` access (401, then 403)."""

    def _principal(
        request: Request,
        conn: Conn,
        key: Annotated[str | None, Security(_api_key)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> Principal:
        principal = authenticate(conn, key or (bearer.credentials if bearer else None))
        principal.require(needed)
        request.state.principal = principal
        return principal

    _principal.__name__ = f"access_{needed}"
    return _principal


def county_filter(principal: Principal, county: str | None) -> str | None:
    """The effective county filter: the key's county, or the requested one if allowed."""
    if principal.county_code is None:
        return county
    if county is not None and county != principal.county_code:
        raise ForbiddenError(
            f"county {county!r} is outside county {principal.county_code!r} of this key"
        )
    return principal.county_code


class Paging:
    """``limit`` and ``offset`` of a list."""

    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset

    def page(self, items: list[Any], total: int) -> dict[str, Any]:
        """The response envelope of a page."""
        return {"items": items, "total": total, "limit": self.limit, "offset": self.offset}


def paging(
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")] = 0,
) -> Paging:
    """Pagination parameters of every list."""
    return Paging(limit, offset)
