"""The API's circuit to the database: requests fail fast while the database is down,
and wait only briefly while it is busy.

The first request that cannot get a working connection in ``wait_s`` opens the circuit;
from then on every request answers 503 at once (no thread waits on the pool), while one
background thread tries to connect every ``probe_every_s``. When it connects, the pool's
broken connections are dropped and the circuit closes: the API recovers by itself.

At most as many requests as the pool has connections are served at once
(:class:`Admission`); the others wait their turn in the event loop, holding no thread,
for at most ``wait_s``, then answer 503 with ``Retry-After``. Without this line, requests
holding a thread wait for a connection while requests holding a connection wait for a
thread, and under overload every request waits out its timeout (throughput collapses).

A pool whose every connection is in use by other requests is busy, not down: a request
that waits ``wait_s`` in vain answers 503 with ``Retry-After`` (:class:`ServerBusyError`)
and the circuit stays closed. Heavy requests (whole-fleet or year-long queries) take one
of a few slots first (:class:`Slots`), so they cannot hold every connection while light
ones queue behind them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio
import psycopg
from psycopg_pool import ConnectionPool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pvmon.errors import DatabaseUnavailableError, ServerBusyError

__all__ = ["Admission", "DatabaseGate", "Slots", "pooled_connection"]

log = logging.getLogger(__name__)


class DatabaseGate:
    """Whether the API believes the database reachable, and the probe that finds out."""

    def __init__(
        self,
        url: str,
        *,
        wait_s: float = 1.0,
        probe_every_s: float = 1.0,
        on_recover: Callable[[], None] = lambda: None,
    ) -> None:
        self.wait_s = wait_s  # longest wait for a pooled connection [s]
        self.probe_every_s = probe_every_s
        self._url = url
        self._on_recover = on_recover
        self._lock = threading.Lock()
        self._down_since: float | None = None  # [monotonic s]
        self._probe: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def down(self) -> bool:
        """The circuit is open: answer 503 without touching the pool."""
        return self._down_since is not None

    def trip(self, reason: BaseException | str) -> None:
        """A connection failed: open the circuit (once) and start the probe."""
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("database unavailable, answering 503 until it returns: %s", reason)
            if self._probe is None and not self._closed.is_set():
                self._probe = threading.Thread(target=self._run_probe, daemon=True)
                self._probe.start()

    def _run_probe(self) -> None:
        timeout = max(1, round(self.wait_s))
        while not self._closed.wait(self.probe_every_s):
            try:
                with psycopg.connect(self._url, connect_timeout=timeout) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error:
                continue
            self._on_recover()
            with self._lock:
                down_s = time.monotonic() - (self._down_since or time.monotonic())
                self._down_since = None
                self._probe = None
            log.warning("database reachable again after %.0f s", down_s)
            return

    def close(self) -> None:
        """Stop probing (the app shuts down)."""
        self._closed.set()


def _saturated(pool: ConnectionPool) -> bool:
    """Every connection the pool may open is open and lent to another request."""
    stats = pool.get_stats()
    return stats.get("pool_size", 0) >= pool.max_size and stats.get("pool_available", 0) == 0


@contextmanager
def pooled_connection(pool: ConnectionPool, gate: DatabaseGate) -> Iterator[psycopg.Connection]:
    """A connection from ``pool`` for one request, waiting at most ``gate.wait_s`` [s]:
    :class:`ServerBusyError` when every connection stayed in use by other requests,
    :class:`DatabaseUnavailableError` (and the circuit opens) when none could be made."""
    if gate.down:
        raise DatabaseUnavailableError("the database is unavailable")
    try:
        if pool.closed:  # served without the lifespan (e.g. a bare TestClient)
            pool.open(wait=False)
        conn = pool.getconn(timeout=gate.wait_s)
    except Exception as exc:  # psycopg_pool.PoolTimeout, OperationalError
        if _saturated(pool):
            raise ServerBusyError(
                f"every database connection is busy (PVMON_API_POOL_SIZE={pool.max_size}); "
                "try again shortly"
            ) from exc
        gate.trip(exc)
        raise DatabaseUnavailableError("the database is unavailable") from exc
    try:
        yield conn
    finally:
        pool.putconn(conn)


class Slots:
    """At most ``size`` heavy requests at once; one that waits ``wait_s`` [s] in vain
    gets :class:`ServerBusyError`."""

    def __init__(self, size: int, *, wait_s: float) -> None:
        self.size = size
        self.wait_s = wait_s
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def take(self) -> Iterator[None]:
        """Hold one slot for the block."""
        if not self._free.acquire(timeout=self.wait_s):
            raise ServerBusyError(
                f"{self.size} heavy requests are running (PVMON_API_HEAVY_REQUESTS); "
                "try again shortly"
            )
        try:
            yield
        finally:
            self._free.release()


class Admission:
    """ASGI middleware: at most ``limit`` HTTP requests served at once, in the order they
    came; one that waits ``wait_s`` [s] for its turn is answered by ``busy(path)`` (a 503
    with Retry-After) without having held a thread. Paths in ``exempt`` (the health
    check, which has its own answer when busy) are not counted."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        wait_s: float,
        busy: Callable[[str], Response],
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.limit = limit
        self.wait_s = wait_s
        self._busy = busy
        self._exempt = exempt
        self._turns: anyio.Semaphore | None = None  # made in the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self._exempt:
            await self.app(scope, receive, send)
            return
        if self._turns is None:
            self._turns = anyio.Semaphore(self.limit)
        turns = self._turns
        admitted = False
        with anyio.move_on_after(self.wait_s):
            await turns.acquire()
            admitted = True
        if not admitted:
            await self._busy(scope.get("path", ""))(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()
