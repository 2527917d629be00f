"""The collector's Modbus connection: request deadlines on a coarse grid, reply parsing."""

from __future__ import annotations

import asyncio
import struct
import threading
from typing import cast

import pytest

from collectors.modbus import (
    BadFrameError,
    ModbusConnection,
    ModbusExceptionResponse,
    ModbusTimeoutError,
    open_connection,
    reply_batching,
)


class _Logger(asyncio.Protocol):
    """A loopback Modbus TCP server that answers after ``delay_s`` [s] (or never)."""

    def __init__(self, delay_s: float | None, reply: bytes | None = None) -> None:
        self.delay_s = delay_s
        self.reply = reply
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        tid, _, _, unit, _, _, count = struct.unpack(">HHHBBHH", data[:12])
        pdu = self.reply or bytes([3, 2 * count]) + bytes(range(2 * count))
        frame = struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu
        if self.delay_s is not None:
            assert self.transport is not None
            asyncio.get_running_loop().call_later(self.delay_s, self.transport.write, frame)


async def _served(delay_s: float | None, reply: bytes | None = None):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Logger(delay_s, reply), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = await open_connection("127.0.0.1", port, framing="tcp", timeout=1.0)
    return server, connection


@pytest.mark.parametrize(
    ("delay_s", "timeout_s", "answered"),
    [
        (0.0, 0.2, True),
        (0.05, 0.3, True),
        (None, 0.1, False),  # never answers
        (0.4, 0.1, False),  # answers after the deadline: a timeout, then a stale frame
    ],
)
async def test_request_deadline(delay_s: float | None, timeout_s: float, answered: bool) -> None:
    server, connection = await _served(delay_s)
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        if answered:
            words = await connection.read_holding(1, 100, 3, timeout=timeout_s)
            assert words == [0x0001, 0x0203, 0x0405]
            assert connection.stats.timeouts == 0
        else:
            with pytest.raises(ModbusTimeoutError, match="unit 1 within"):
                await connection.read_holding(1, 100, 3, timeout=timeout_s)
            waited = loop.time() - began
            # expires on the 50 ms grid: never early, at most one tick (and a little) late
            assert timeout_s - 0.001 <= waited <= timeout_s + 0.05 + 0.05
            assert connection.stats.timeouts == 1
            assert connection.connected  # a timeout keeps the connection
            if delay_s is not None:
                await asyncio.sleep(delay_s)
                assert connection.stats.stale_frames == 1
    finally:
        connection.close()
        server.close()


async def test_many_outstanding_deadlines_expire_only_the_unanswered() -> None:
    servers = [await _served(0.0), await _served(None), await _served(0.0)]
    try:
        results = await asyncio.gather(
            *(c.read_holding(1, 0, 2, timeout=0.15) for _, c in servers), return_exceptions=True
        )
        assert results[0] == [0x0001, 0x0203]
        assert isinstance(results[1], ModbusTimeoutError)
        assert results[2] == [0x0001, 0x0203]
        # an answered request's deadline passing later changes nothing
        await asyncio.sleep(0.25)
        assert [c.stats.timeouts for _, c in servers] == [0, 1, 0]
    finally:
        for server, connection in servers:
            connection.close()
            server.close()


@pytest.mark.parametrize(
    ("reply", "error", "match"),
    [
        (bytes([0x83, 2]), ModbusExceptionResponse, "exception 2"),
        (bytes([3, 4, 0, 1]), BadFrameError, "malformed"),  # says 4 bytes, carries 2
        (bytes([4, 6, 0, 1, 0, 2, 0, 3]), BadFrameError, "malformed"),  # wrong function
    ],
)
async def test_reply_errors_are_typed(reply: bytes, error: type[Exception], match: str) -> None:
    server, connection = await _served(0.0, reply)
    try:
        with pytest.raises(error, match=match):
            await connection.read_holding(1, 0, 3, timeout=0.5)
    finally:
        connection.close()
        server.close()


@pytest.fixture
def other_loop():  # type: ignore[no-untyped-def]
    """An event loop in a thread of its own: servers there keep answering while the
    loop under test holds for its batching window."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


@pytest.mark.parametrize("window_s", [0.0, 0.05])
async def test_scattered_replies_are_handled_in_batches(
    other_loop: asyncio.AbstractEventLoop, window_s: float
) -> None:
    """Twenty loggers answering 3 ms apart: with a 50 ms window the loop wakes up a few
    times for all of them, each reply at most one window late; with 0, at once."""
    delays = [0.005 + 0.003 * i for i in range(20)]

    async def serve() -> list[tuple[asyncio.Server, int]]:
        loop = asyncio.get_running_loop()
        servers = []
        for delay in delays:
            server = await loop.create_server(lambda d=delay: _Logger(d), "127.0.0.1", 0)
            servers.append((server, server.sockets[0].getsockname()[1]))
        return servers

    servers = asyncio.run_coroutine_threadsafe(serve(), other_loop).result(timeout=5)
    connections = [
        await open_connection("127.0.0.1", port, framing="tcp", timeout=1.0) for _, port in servers
    ]
    batching = reply_batching()
    batching.window_s = window_s
    before = batching.batches
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        late = []

        async def read(connection: ModbusConnection, delay: float) -> list[int]:
            words = await connection.read_holding(1, 0, 2, timeout=1.0)
            late.append(loop.time() - began - delay)
            return words

        answers = await asyncio.gather(
            *(read(c, d) for c, d in zip(connections, delays, strict=True))
        )
    finally:
        batching.window_s = 0.0
        for connection in connections:
            connection.close()
        for server, _ in servers:
            other_loop.call_soon_threadsafe(server.close)
    assert answers == [[0x0001, 0x0203]] * len(delays)
    batches = batching.batches - before
    if window_s:
        assert 1 <= batches <= 5  # the 57 ms of replies span two or three windows
        assert max(late) < window_s + 0.05  # a window, and some slack for a busy machine
    else:
        assert batches == 0  # off: nothing held, nothing counted
