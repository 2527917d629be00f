"""Running a coroutine on the event loop the services use.

The collector wakes up once per Modbus reply when replies arrive scattered (loggers
behind 4G answer 0.3-2.5 s late, each at its own time): then the event loop's own
work per wake-up (select, the ready queue, timers) is a large part of what a poll
costs. uvloop does that work in C (libuv); on the county bench under the ``field``
profile it halved the collector's CPU per poll (``bench/collector.py --loop``). It is
a dependency on Linux and macOS; where it is missing (Windows), the standard loop runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pvmon.errors import ConfigError

__all__ = ["loop_factory", "run"]

T = TypeVar("T")


def loop_factory(kind: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``kind``: ``auto`` (uvloop if installed),
    ``uvloop`` or ``asyncio`` (the standard library's)."""
    if kind not in ("auto", "uvloop", "asyncio"):
        raise ConfigError(f"unknown event loop {kind!r}; known: auto, uvloop, asyncio")
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError as exc:
            if kind == "uvloop":
                raise ConfigError(
                    "event loop uvloop asked for, but uvloop is not installed"
                ) from exc
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(coroutine: Coroutine[Any, Any, T], *, loop: str = "auto") -> T:
    """Run ``coroutine`` to completion on a new event loop of kind ``loop``."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(coroutine)
