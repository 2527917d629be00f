"""Running a coroutine on the event loop the services use.

The collector wakes up once per Modbus reply when replies arrive scattered (loggers
behind 4G answer 0.3-2.5 s late, each at its own time): then the event loop's own
work per wake-up (select, the ready queue, timers) is a large part of what a poll
costs. uvloop does that work in C (libuv); on the county bench under the ``field``
profile it halved the collector's CPU per poll (``bench/collector.py --loop``). It is
a dependency on Linux and macOS; where it is missing (Windows), the standard loop runs.

A service stops as an operator or a supervisor asks it to: Ctrl-C (SIGINT), ``docker
stop`` and systemd (SIGTERM) cancel the running coroutine once, so it stops as it would at
its end (its ``finally`` blocks finish the polls under way and flush what they read); a
second signal stops the process at once. Both are handled whatever the process inherited:
a shell script's background job (``pvmon collect &``) starts with SIGINT ignored, and a
container's first process ignores SIGTERM unless it handles it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pvmon.errors import ConfigError

__all__ = ["STOP_SIGNALS", "loop_factory", "run"]

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    """Run ``coroutine`` to completion on a new event loop of kind ``loop``.

    Raises :class:`KeyboardInterrupt` when one of :data:`STOP_SIGNALS` stopped it (after
    the coroutine's own clean-up ran).
    """
    received: list[int] = []
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        try:
            result = runner.run(_stopped_by_signals(coroutine, received))
        except asyncio.CancelledError:
            if received:
                raise KeyboardInterrupt from None
            raise
    if received:
        raise KeyboardInterrupt
    return result


async def _stopped_by_signals(coroutine: Coroutine[Any, Any, T], received: list[int]) -> T:
    """Await ``coroutine`` with :data:`STOP_SIGNALS` cancelling it (the first) or ending
    the process (the next); ``received`` collects the signals."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) > 1:  # asked again while stopping: stop now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        elif task is not None:
            task.cancel()

    found = {}  # what the handlers were: put back as found
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, on_signal, signum)
            except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C as Python does it
                continue
            found[signum] = handler
    try:
        return await coroutine
    finally:
        for signum, handler in found.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
