"""The event loop the services run on."""

from __future__ import annotations

import asyncio
import builtins
import signal
import subprocess
import sys

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


_SERVICE = """
import asyncio, sys
from pvmon.aio import run

async def service(hang: bool) -> None:
    try:
        print("ready", flush=True)
        await asyncio.sleep(3600)
    finally:
        print("cleaning up", flush=True)
        if hang:
            await asyncio.sleep(3600)  # a clean-up that never ends: a second signal ends it
        print("cleaned up", flush=True)

try:
    run(service(sys.argv[2] == "hang"), loop=sys.argv[1])
except KeyboardInterrupt:
    print("stopped", flush=True)
"""


def _service(
    loop: str, *, hang: bool = False, ignore_sigint: bool = False
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVICE, loop, "hang" if hang else "-"],
        stdout=subprocess.PIPE,
        text=True,
        # a shell script's background job (``pvmon collect &``) starts with SIGINT ignored
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if ignore_sigint
        else None,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    return process


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
@pytest.mark.parametrize(
    ("signum", "ignore_sigint"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-in-a-background-job"],
)
def test_a_stop_signal_cancels_the_service_which_cleans_up_and_exits_zero(
    loop: str, signum: int, ignore_sigint: bool
) -> None:
    process = _service(loop, ignore_sigint=ignore_sigint)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=120)  # a safety net, not a measure of speed
    assert output.splitlines() == ["cleaning up", "cleaned up", "stopped"]
    assert process.returncode == 0


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_a_second_signal_while_cleaning_up_ends_the_process_at_once(loop: str) -> None:
    process = _service(loop, hang=True)
    assert process.stdout is not None
    process.send_signal(signal.SIGTERM)
    assert process.stdout.readline() == "cleaning up\n"
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)  # a safety net, not a measure of speed
    assert "cleaned up" not in output
    assert process.returncode == -signal.SIGTERM


def test_a_coroutine_that_returns_gives_its_result_and_leaves_the_handlers_as_found() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    assert run(_loop_module(), loop="uvloop") == "uvloop"
    assert {s: signal.getsignal(s) for s in before} == before
