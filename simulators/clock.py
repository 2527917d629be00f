"""Simulated time: real time by default, or accelerated for tests and demos.

In accelerated mode the simulated devices expose this clock in a documented clock
register (SunSpec maps: holding registers 39990-39992; Huawei: 40000-40001), so a
collector can timestamp readings with the time the device lives in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["SimClock"]


class SimClock:
    """``now()`` = ``start`` + (wall time elapsed since creation) x ``speed``.

    With no ``start`` and ``speed`` 1 it is simply the wall clock (UTC). A ``stepped``
    clock moves only when :meth:`advance` moves it: a test drives an accelerated run
    with one, so what happens in simulated time does not depend on how fast the
    machine is.
    """

    def __init__(
        self, *, start: datetime | None = None, speed: float = 1.0, stepped: bool = False
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.speed = speed
        self.stepped = stepped
        self._wall0 = time.monotonic()
        self._start = start or datetime.now(UTC)
        self._stepped_s = 0.0  # simulated time advanced so far (stepped clock) [s]
        self._on_advance: list[Callable[[], None]] = []

    @property
    def realtime(self) -> bool:
        return self.speed == 1.0 and not self.stepped

    def now(self) -> datetime:
        """The simulated time (UTC, aware)."""
        if self.stepped:
            return self._start + timedelta(seconds=self._stepped_s)
        elapsed = time.monotonic() - self._wall0
        return self._start + timedelta(seconds=elapsed * self.speed)

    def wall(self) -> float:
        """Wall time on this clock's timeline [s]: the monotonic clock, or for a stepped
        clock the simulated time stepped so far at the clock's speed."""
        if self.stepped:
            return self._stepped_s / self.speed
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move a stepped clock ``seconds`` [s] of simulated time on, then run what
        :meth:`on_advance` registered."""
        if not self.stepped:
            raise ValueError("only a stepped clock is advanced by hand")
        if not seconds >= 0:
            raise ValueError(f"cannot advance a clock by {seconds} s")
        self._stepped_s += seconds
        for hook in tuple(self._on_advance):
            hook()

    def on_advance(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after every :meth:`advance` (a NAT forgetting idle connections)."""
        self._on_advance.append(hook)

    def wall_seconds(self, simulated_seconds: float) -> float:
        """How many wall-clock seconds ``simulated_seconds`` take at this speed [s]."""
        return simulated_seconds / self.speed
