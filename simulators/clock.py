"""Simulated time: real time by default, or accelerated for tests and demos.

In accelerated mode the simulated devices expose this clock in a documented clock
register (SunSpec maps: holding registers 39990-39992; Huawei: 40000-40001), so a
collector can timestamp readings with the time the device lives in.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["SimClock"]


class SimClock:
    """``now()`` = ``start`` + (wall time elapsed since creation) x ``speed``.

    With no ``start`` and ``speed`` 1 it is simply the wall clock (UTC).
    """

    def __init__(self, *, start: datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.speed = speed
        self._wall0 = time.monotonic()
        self._start = start or datetime.now(UTC)

    @property
    def realtime(self) -> bool:
        return self.speed == 1.0

    def now(self) -> datetime:
        """The simulated time (UTC, aware)."""
        elapsed = time.monotonic() - self._wall0
        return self._start + timedelta(seconds=elapsed * self.speed)

    def wall_seconds(self, simulated_seconds: float) -> float:
        """How many wall-clock seconds ``simulated_seconds`` take at this speed [s]."""
        return simulated_seconds / self.speed
