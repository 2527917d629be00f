"""Request bodies bounded, and read only for a known key.

FastAPI reads and parses a request's body before any dependency runs, so without this an
anonymous client could make the API read and parse a body of any size before the 401.
:class:`BodyGuard` answers before the application sees the request: 413 for a body
declared (``Content-Length``) or found while streaming to be larger than ``max_bytes``,
and 401 for a request with a body whose key is missing, unknown or revoked (checked on a
pooled connection; the route checks it again).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pvmon.api.auth import AuthError, authenticate
from pvmon.api.gate import DatabaseGate, pooled_connection
from pvmon.errors import DatabaseUnavailableError, ServerBusyError

__all__ = ["BodyGuard", "key_checker"]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyGuard:
    """ASGI middleware: bodies of at most ``max_bytes`` [bytes], and only for a valid key.

    ``check_key`` raises :class:`AuthError` (401) or :class:`DatabaseUnavailableError`
    (503); ``problem`` builds the problem+json response of (status, detail, path).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        check_key: Callable[[str | None], None],
        problem: Callable[[int, str, str], Response],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._check_key = check_key
        self._problem = problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._problem(413, self._too_large(), path)(scope, receive, send)
            return
        try:
            await run_in_threadpool(self._check_key, _key_of(headers))
        except (AuthError, DatabaseUnavailableError, ServerBusyError) as exc:
            status = 401 if isinstance(exc, AuthError) else 503
            await self._problem(status, str(exc), path)(scope, receive, send)
            return
        # read the body here, up to the limit (a chunked one has no Content-Length), and
        # hand it to the application whole
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._problem(413, self._too_large(), path)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: MutableMapping[str, Any] | None = {
            "type": "http.request",
            "body": b"".join(chunks),
            "more_body": False,
        }

        async def replay() -> MutableMapping[str, Any]:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is over {self.max_bytes:,} bytes (PVMON_API_BODY_MAX_BYTES)"


def _key_of(headers: dict[str, str]) -> str | None:
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def key_checker(pool: ConnectionPool, gate: DatabaseGate) -> Callable[[str | None], None]:
    """Check a plain key on a pooled connection (:func:`authenticate`), through the gate."""

    def check(plain: str | None) -> None:
        if not plain:
            raise AuthError("an API key is required (header X-API-Key or Authorization: Bearer)")
        with pooled_connection(pool, gate) as conn:
            authenticate(conn, plain)

    return check
