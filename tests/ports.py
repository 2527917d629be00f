"""Ports for the simulated fleets of tests: a block no other test of this run is using.

A fleet's endpoints listen on ``base_port`` and the ports after it. Picking the base at
random (as the tests once did) let two tests running at once on different workers pick
overlapping blocks now and then, and one failed to bind. Each pytest-xdist worker gets
its own slice of 20000-32000 (below Linux's ephemeral ports, where the tests' other
servers listen), handed out block by block, and a block is taken only when every port
in it can be bound right now (other programs on the machine).
"""

from __future__ import annotations

import itertools
import os
import socket

__all__ = ["fleet_base_port"]

_LOW, _HIGH = 20000, 32000
_WORKERS = 8  # slices; a run with more workers shares them (and the bind check guards)
_BLOCK = 100  # ports one test's fleet may use (a fleet of 491 households uses 15)


def _worker() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) % _WORKERS if name[2:].isdigit() else 0


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_SLICE = (_HIGH - _LOW) // _WORKERS
_first = _LOW + _worker() * _SLICE
_blocks = itertools.cycle(range(_first, _first + _SLICE - _BLOCK + 1, _BLOCK))


def fleet_base_port(ports: int = _BLOCK) -> int:
    """A base port whose next ``ports`` (at most 100) ports are free for this test."""
    if not 0 < ports <= _BLOCK:
        raise ValueError(f"a test's fleet may use 1..{_BLOCK} ports, not {ports}")
    for _ in range(_SLICE // _BLOCK * 2):
        base = next(_blocks)
        if all(_bindable(p) for p in range(base, base + ports)):
            return base
    raise RuntimeError("no free block of ports for a simulated fleet")
