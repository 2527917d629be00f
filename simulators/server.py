"""Modbus servers for simulated inverters: one listener per data-logger endpoint.

Each endpoint (host, port, framing) serves the unit ids of the inverters behind it,
like a real data logger: plain Modbus TCP (MBAP header) or Modbus RTU frames carried
over TCP (what a village's 4G data-transfer unit does). Function codes 3 and 4 read the
register image; anything else is answered with exception 1. A read that touches an
address the map does not define is answered with exception 2, as real inverters do.

The protocol is implemented directly on asyncio (one small state machine per
connection) so that one process can serve thousands of devices, and so that faults
can be shown exactly as real devices show them on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from pymodbus.framer.rtu import FramerRTU

from simulators.behaviour import LoggerBehaviour
from simulators.clock import SimClock
from simulators.device import SimulatedInverter

__all__ = ["Endpoint", "EndpointServer", "FleetServer"]

log = logging.getLogger(__name__)

_ILLEGAL_FUNCTION = 1
_ILLEGAL_ADDRESS = 2
_ILLEGAL_VALUE = 3
_GATEWAY_TARGET_FAILED = 11


def _crc(frame: bytes) -> bytes:
    return struct.pack(">H", FramerRTU.compute_CRC(frame))


@dataclass
class Endpoint:
    """A data logger: where it listens and which inverters answer behind it."""

    host: str
    port: int
    framing: str = "tcp"
    devices: dict[int, SimulatedInverter] = field(default_factory=dict)
    behaviour: LoggerBehaviour = field(default_factory=LoggerBehaviour)


@dataclass
class _Stats:
    requests: int = 0
    responses: int = 0
    exceptions: int = 0
    connections: int = 0
    ignored: int = 0  # requests a behaviour made the logger ignore
    dropped: int = 0  # connections the logger dropped (second client, idle)


class _ModbusProtocol(asyncio.Protocol):
    def __init__(self, server: EndpointServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.connected_at = time.monotonic()
        self.last_activity = server.clock.wall()  # NAT idle, on the clock's timeline

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is one without subclassing asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)
        self.server.stats.connections += 1
        if self.server.endpoint.behaviour.single_client:
            for other in list(self.server.connections):  # a second client drops the first
                if other.transport is not None:
                    other.transport.abort()
                    self.server.stats.dropped += 1
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.server.endpoint.framing == "tcp":
            self._parse_tcp()
        else:
            self._parse_rtu()

    def _parse_tcp(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 8:
            tid, pid, length = struct.unpack_from(">HHH", buffer, 0)
            if pid != 0 or not 2 <= length <= 254:
                buffer.clear()  # not Modbus: drop what we have, like a real device
                return
            if len(buffer) < 6 + length:
                return
            unit = buffer[6]
            pdu = bytes(buffer[7 : 6 + length])
            del buffer[: 6 + length]
            self.server.handle(self, unit, pdu, tid)

    def _parse_rtu(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 8:
            function = buffer[1]
            if function in (3, 4):
                frame = bytes(buffer[:8])
                if _crc(frame[:6]) != frame[6:8]:
                    del buffer[:1]  # resynchronise byte by byte on a bad frame
                    continue
                del buffer[:8]
                self.server.handle(self, frame[0], frame[1:6], None)
            else:
                unit = buffer[0]
                buffer.clear()
                self.server.handle(self, unit, bytes([function]), None)

    def send(self, unit: int, pdu: bytes, tid: int | None) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        behaviour = self.server.endpoint.behaviour
        if tid is None:
            frame = bytes([unit]) + pdu
            frame += _crc(frame)
            if behaviour.garble_rate and self.server.rng.random() < behaviour.garble_rate:
                if self.server.rng.random() < 0.5:
                    frame = bytes(self.server.rng.randrange(256) for _ in range(2)) + frame
                else:
                    frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
            self.transport.write(frame)
        else:
            if behaviour.tid_zero:
                tid = 0
            self.transport.write(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)


class EndpointServer:
    """Serves one :class:`Endpoint`; ``start``/``stop`` open and close its listener."""

    def __init__(self, endpoint: Endpoint, *, clock: SimClock, latency_s: float = 0.0) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self.latency_s = latency_s  # every reply this late (a logger behind 4G) [s]
        self.stats = _Stats()
        self.connections: set[_ModbusProtocol] = set()
        self._server: asyncio.base_events.Server | None = None
        self.rng = random.Random(endpoint.behaviour.seed)
        self._last_request = 0.0
        self._locked_until = 0.0
        self._idle_task: asyncio.Task[None] | None = None
        if clock.stepped and endpoint.behaviour.idle_drop_s is not None:
            clock.on_advance(self.drop_idle)  # time passes in steps: so does idleness

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ModbusProtocol(self),
            self.endpoint.host,
            self.endpoint.port,
            reuse_address=True,
        )
        if self.endpoint.port == 0:
            self.endpoint.port = self._server.sockets[0].getsockname()[1]
        idle_drop_s = self.endpoint.behaviour.idle_drop_s
        if idle_drop_s is not None and self._idle_task is None and not self.clock.stepped:
            self._idle_task = asyncio.create_task(self._watch_idle())

    async def _watch_idle(self) -> None:
        limit = self.endpoint.behaviour.idle_drop_s or 1.0
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            self.drop_idle()

    async def stop(self) -> None:
        """Close the listener and drop every connection (clients see refused/reset)."""
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        await server.wait_closed()

    def _ignores(self, conn: _ModbusProtocol) -> bool:
        """Whether the logger's behaviour makes it drop this request on the floor."""
        behaviour = self.endpoint.behaviour
        wall = time.monotonic()
        conn.last_activity = self.clock.wall()
        if wall - conn.connected_at < behaviour.deaf_after_connect_s:
            return True
        if wall < self._locked_until:
            return True
        if behaviour.min_gap_s and wall - self._last_request < behaviour.min_gap_s:
            self._locked_until = wall + behaviour.lockout_s  # overloaded: locks up a while
            return True
        self._last_request = wall
        return False

    def drop_idle(self) -> None:
        """Close connections idle longer than the logger's NAT allows."""
        limit = self.endpoint.behaviour.idle_drop_s
        if limit is None:
            return
        wall = self.clock.wall()
        for conn in list(self.connections):
            if wall - conn.last_activity > limit and conn.transport is not None:
                conn.transport.abort()
                self.stats.dropped += 1

    def _latency(self) -> float:
        if not self.endpoint.behaviour.cellular_latency:
            return self.latency_s
        # cellular round trips: 0.3-2.5 s mostly, with a tail (field notes, numbers)
        scale = self.endpoint.behaviour.latency_scale
        return min(0.3 + self.rng.lognormvariate(-0.7, 0.7), 8.0) * scale

    def handle(self, conn: _ModbusProtocol, unit: int, pdu: bytes, tid: int | None) -> None:
        self.stats.requests += 1
        if self._ignores(conn):
            self.stats.ignored += 1
            return
        now = self.clock.now()
        device = self.endpoint.devices.get(unit)
        if device is None:
            self._reply(conn, unit, _exception(pdu[0], _GATEWAY_TARGET_FAILED), tid, 0.0)
            return
        if device.active_fault("silent", now):
            return
        slow = device.active_fault("slow", now)
        delay = float(slow.params.get("delay_s", 1.0)) if slow else self._latency()
        raised = device.active_fault("exception", now)
        if raised is not None:
            self._reply(
                conn, unit, _exception(pdu[0], int(raised.params.get("code", 4))), tid, delay
            )
            return
        self._reply(conn, unit, _read(device, pdu, now), tid, delay)

    def _reply(
        self, conn: _ModbusProtocol, unit: int, pdu: bytes, tid: int | None, delay: float
    ) -> None:
        if pdu[0] & 0x80:
            self.stats.exceptions += 1
        self.stats.responses += 1
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, conn.send, unit, pdu, tid)
        else:
            conn.send(unit, pdu, tid)


def _exception(function: int, code: int) -> bytes:
    return bytes([(function | 0x80) & 0xFF, code])


def _read(device: SimulatedInverter, pdu: bytes, now: datetime) -> bytes:
    function = pdu[0]
    if function not in (3, 4) or len(pdu) != 5:
        return _exception(function, _ILLEGAL_FUNCTION)
    address, count = struct.unpack_from(">HH", pdu, 1)
    if not 1 <= count <= 125:
        return _exception(function, _ILLEGAL_VALUE)
    for start, size in device.behaviour.missing(now):
        if address < start + size and start < address + count:
            return _exception(function, _ILLEGAL_ADDRESS)  # this model has no such block
    image = device.image_at(now)
    try:
        words = [image[a] for a in range(address, address + count)]
    except KeyError:
        return _exception(function, _ILLEGAL_ADDRESS)
    return struct.pack(f">BB{count}H", function, 2 * count, *words)


class FleetServer:
    """All endpoints of a simulated fleet in one process, and the faults that close them."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        *,
        clock: SimClock,
        on_change: Callable[[str], None] | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.clock = clock
        self.servers = [EndpointServer(e, clock=clock, latency_s=latency_s) for e in endpoints]
        self._on_change = on_change or (lambda message: None)
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for server in self.servers:
            if not self._unreachable(server):
                await server.start()
        self._watch = asyncio.create_task(self._watch_unreachable())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for server in self.servers:
            await server.stop()

    def _unreachable(self, server: EndpointServer) -> bool:
        now = self.clock.now()
        devices = list(server.endpoint.devices.values())
        if any(d.active_fault("unreachable", now) for d in devices):
            return True
        return server.endpoint.behaviour.night_offline and all(d.is_night(now) for d in devices)

    async def sync(self) -> None:
        """Open and close listeners as ``unreachable`` faults and nights begin and end, as
        of the clock's time now (a test with a stepped clock calls it after each step)."""
        for server in self.servers:
            down = self._unreachable(server)
            if down and server.listening:
                await server.stop()
                self._on_change(f"{server.endpoint.host}:{server.endpoint.port} unreachable")
            elif not down and not server.listening:
                await server.start()
                self._on_change(f"{server.endpoint.host}:{server.endpoint.port} back")

    async def _watch_unreachable(self) -> None:
        while True:
            await self.sync()
            await asyncio.sleep(0.2)

    def totals(self) -> dict[str, int]:
        return {
            "endpoints": len(self.servers),
            "devices": sum(len(s.endpoint.devices) for s in self.servers),
            "requests": sum(s.stats.requests for s in self.servers),
            "responses": sum(s.stats.responses for s in self.servers),
            "exceptions": sum(s.stats.exceptions for s in self.servers),
            "connections": sum(s.stats.connections for s in self.servers),
        }
