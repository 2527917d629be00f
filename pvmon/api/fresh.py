"""Figures that are costly to compute and change slowly, kept for a while and renewed in
the background (stale-while-revalidate).

The first request for a key computes its value while later requests for that key wait
for the same computation (one query, not one per request). For ``max_age_s`` [s] the
value is answered as kept; after that a request still gets the kept value at once while
one background thread computes the next. A value older than ``stale_limit_s`` [s] (the
renewal keeps failing, or nobody asked for a long time) is not answered: the request
computes it again, and its error is the request's error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Fresh"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    value: T | None = None
    at: float | None = None  # when the value was computed [monotonic s]
    renewing: bool = False
    ready: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Fresh(Generic[T]):
    """Values by key, at most ``max_age_s`` [s] old when answered without renewal."""

    def __init__(
        self,
        *,
        max_age_s: float,
        stale_limit_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        self.max_age_s = max_age_s
        self.stale_limit_s = stale_limit_s if stale_limit_s is not None else 10 * max_age_s
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry[T]] = {}

    def get(
        self, key: Hashable, compute: Callable[[], T], *, renew: Callable[[], T] | None = None
    ) -> T:
        """The value of ``key``: kept, or computed by ``compute()`` (see the module);
        ``renew()`` computes it in the background (default ``compute``: give another
        when ``compute`` uses what the request holds, such as its connection)."""
        if self.max_age_s <= 0:
            return compute()
        with self._lock:
            entry = self._entries.get(key)
            now = self._clock()
            if entry is not None and entry.at is not None:
                age = now - entry.at
                if age <= self.max_age_s:
                    return entry.value  # type: ignore[return-value]
                if age <= self.stale_limit_s:
                    if not entry.renewing:
                        entry.renewing = True
                        threading.Thread(
                            target=self._renew, args=(key, entry, renew or compute), daemon=True
                        ).start()
                    return entry.value  # type: ignore[return-value]
            first = entry is None or entry.ready.is_set()
            if first:
                if len(self._entries) >= self._max_keys:
                    self._entries.clear()  # many counties asked once: start again
                entry = _Entry()
                self._entries[key] = entry
        assert entry is not None
        if not first:  # another request is computing it: wait for that one
            entry.ready.wait()
            if entry.error is not None:
                return self.get(key, compute, renew=renew)  # it failed: try ourselves
            return entry.value  # type: ignore[return-value]
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                entry.error = exc
                if self._entries.get(key) is entry:
                    del self._entries[key]
            entry.ready.set()
            raise
        with self._lock:
            entry.value, entry.at = value, self._clock()
        entry.ready.set()
        return value

    def _renew(self, key: Hashable, entry: _Entry[T], compute: Callable[[], T]) -> None:
        try:
            value = compute()
        except Exception as exc:  # the kept value stays until stale_limit_s
            log.warning("renewing %r failed, answering the kept value: %s", key, exc)
            with self._lock:
                entry.renewing = False
            return
        with self._lock:
            entry.value, entry.at, entry.renewing = value, self._clock(), False
