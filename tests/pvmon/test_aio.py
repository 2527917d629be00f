"""The event loop the services run on."""

from __future__ import annotations

import asyncio
import builtins

import pytest

from pvmon.aio import loop_factory, run
from pvmon.errors import ConfigError


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.parametrize(
    ("kind", "module"),
    [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")],
)
def test_run_uses_the_loop_asked_for(kind: str, module: str) -> None:
    assert run(_loop_module(), loop=kind).split(".")[0] == module


def test_an_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown event loop 'trio'"):
        loop_factory("trio")


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: object, **kwargs: object) -> object:
        if name == "uvloop":
            raise ImportError("No module named 'uvloop'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert loop_factory("auto") is asyncio.new_event_loop
    with pytest.raises(ConfigError, match="uvloop asked for"):
        loop_factory("uvloop")
