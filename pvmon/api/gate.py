"""The API's circuit to the database: requests fail fast while the database is down.

The first request that cannot get a working connection in ``wait_s`` opens the circuit;
from then on every request answers 503 at once (no thread waits on the pool), while one
background thread tries to connect every ``probe_every_s``. When it connects, the pool's
broken connections are dropped and the circuit closes: the API recovers by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

__all__ = ["DatabaseGate"]

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
