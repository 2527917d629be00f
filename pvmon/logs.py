"""Repeated warnings aggregated: one line per interval with the counts, never one per event.

A collector whose polls overrun, or whose spool cannot keep readings, meets the same
condition many times a second; logging each would flood the log (62,565 lines in eight
minutes once). :class:`Throttled` logs the first occurrence at once, then at most one
line per ``every_s`` saying how many happened since, by kind.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

__all__ = ["Throttled"]


class Throttled:
    """Occurrences of a warning, logged at most once per ``every_s`` [s] with counts."""

    def __init__(self, log: logging.Logger, what: str, *, every_s: float = 60.0) -> None:
        self._log = log
        self._what = what  # "readings dropped", "poll cycles overran"
        self.every_s = every_s
        self.total: Counter[str] = Counter()
        self._since: Counter[str] = Counter()
        self._logged_at: float | None = None  # [monotonic s]

    def add(
        self, kind: str, count: int = 1, *, detail: str = "", level: int = logging.WARNING
    ) -> None:
        """Count ``count`` occurrences of ``kind``; log if the interval has passed."""
        self.total[kind] += count
        self._since[kind] += count
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < self.every_s:
            return
        self._logged_at = now
        since = ", ".join(f"{n:,} ({k})" for k, n in sorted(self._since.items()))
        self._since.clear()
        last = f"; last: {detail}" if detail else ""
        self._log.log(
            level,
            "%s: %s since the last report, %s in all%s",
            self._what,
            since,
            f"{sum(self.total.values()):,}",
            last,
        )
