"""The Modbus connection and the field behaviours run on both event loops pvmon uses.

``pvmon collect`` runs on uvloop where it is installed (:mod:`pvmon.aio`) and on the
standard loop elsewhere; the wire-level tests run on both (where uvloop is installed),
the rest on the standard one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from pvmon.aio import loop_factory

_BOTH_LOOPS = ("test_modbus", "test_field")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    module = getattr(item, "module", None)
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    if module is not None and module.__name__.rsplit(".", 1)[-1] in _BOTH_LOOPS:
        native = loop_factory("auto")  # uvloop where it is installed
        if native is not asyncio.new_event_loop:
            loops["uvloop"] = native
    return loops
