"""The collector's Modbus client connection: pymodbus framing, a lean request path.

Request frames are built once per (unit, block) with pymodbus's PDU classes and framers
(``ReadHoldingRegistersRequest`` + ``FramerSocket`` / ``FramerRTU``, CRC included) and
reused for every poll, only the transaction id patched in; responses are matched and
unpacked here, without building objects per request. This keeps pymodbus's protocol
layer while taking its per-request overhead out of the hot path, and gives the
collector exact control of what real devices need (field notes 4-6):

- one request at a time per connection, each with its own timeout; a timeout does not
  close the connection;
- Modbus TCP: a reply whose transaction id is not the one outstanding is a late answer
  to an earlier request and is discarded (counted), unless the endpoint is known to
  always answer with transaction id 0 (``accept_tid_zero``);
- RTU over TCP: a frame with a bad CRC, or bytes that arrive with no request
  outstanding, flush the receive buffer so the parser resynchronises.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersRequest

from pvmon.errors import PvmonError

__all__ = [
    "BadFrameError",
    "ConnectionStats",
    "ModbusConnection",
    "ModbusError",
    "ModbusExceptionResponse",
    "ModbusTimeoutError",
    "ModbusUnavailableError",
    "ReplyBatching",
    "open_connection",
    "reply_batching",
]

_SOCKET_FRAMER = FramerSocket(DecodePDU(False))
_RTU_FRAMER = FramerRTU(DecodePDU(False))
# request frames by (rtu, unit, address, count): built once per process, not once per
# connection (a logger that drops idle connections is reconnected every cycle)
_FRAMES: dict[tuple[bool, int, int, int], bytes] = {}
_RTU_CRC = FramerRTU.compute_CRC
_WORDS: dict[int, struct.Struct] = {}  # big-endian register layouts by word count


class ModbusError(PvmonError):
    """A Modbus request failed."""


class ModbusTimeoutError(ModbusError):
    """No (matching) answer within the timeout."""


class ModbusUnavailableError(ModbusError):
    """The endpoint refused or dropped the connection."""


class BadFrameError(ModbusError):
    """A reply that is not a valid frame (bad CRC, wrong unit or function)."""


class ModbusExceptionResponse(ModbusError):
    """The device answered with a Modbus exception ``code``."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass
class ConnectionStats:
    requests: int = 0
    timeouts: int = 0
    stale_frames: int = 0
    bad_frames: int = 0
    tid_zero_replies: int = 0  # answers with transaction id 0 that matched the request


_TICK_S = 0.05  # request deadlines are checked on this grid [s]
# connection, request number, unit, address, count, timeout
_Pending = tuple["ModbusConnection", int, int, int, int, float]
OnReply = Callable[[bytes | None, "ModbusError | None"], None]


class _Deadlines:
    """Request timeouts of one event loop, on a coarse grid.

    One loop timer per tick of the grid with requests due in it, instead of a timer
    handle created, pushed on the loop's heap and cancelled for every request (the
    collector sends thousands a second, nearly all answered in time). A request expires
    at most one tick after its timeout.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[int, list[_Pending]] = {}

    def add(self, pending: _Pending) -> None:
        """Watch ``pending`` (connection, request number, unit, address, count, timeout)."""
        slot = math.ceil((self._loop.time() + pending[5]) / _TICK_S)
        due = self._slots.get(slot)
        if due is None:
            due = self._slots[slot] = []
            self._loop.call_at(slot * _TICK_S, self._fire, slot)
        due.append(pending)

    def _fire(self, slot: int) -> None:
        for pending in self._slots.pop(slot, ()):
            connection = pending[0]
            if connection._seq == pending[1] and connection._on_reply is not None:
                connection._expire(pending)


_DEADLINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = (
    weakref.WeakKeyDictionary()
)


class ReplyBatching:
    """Replies of one event loop handled in batches, at most one batch per ``window_s``.

    Loggers behind 4G answer each at its own moment (0.3-2.5 s late, field note 4), so
    without this every reply wakes the loop on its own, and a wake-up (the poll system
    call, the loop's bookkeeping, caches gone cold while the process slept) costs more
    than handling the reply. When replies come closer together than ``window_s``, the
    loop holds for the rest of the window after handling one, so that the next wake-up
    finds all that arrived meanwhile: interrupt moderation, as network cards do. A reply
    waits at most ``window_s`` more; ``window_s`` 0 turns it off. The collector sets the
    window from its endpoints' schedules and latencies (:func:`batch_window_s`).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.window_s = 0.0
        self.batches = 0  # wake-ups that handled replies
        self._armed = False
        self._last = 0.0

    def _reply_arrived(self) -> None:
        if not self._armed:
            self._armed = True
            self._loop.call_soon(self._behind)

    def _behind(self) -> None:
        # once more to the back of the queue: the callbacks this wake-up's replies
        # scheduled (tasks awaiting them) run before the hold, not a window later
        self._loop.call_soon(self._hold)

    def _hold(self) -> None:
        """After this wake-up's replies: wait out the window since the previous batch."""
        self._armed = False
        self.batches += 1
        now = time.monotonic()
        wait = min(self._last + self.window_s - now, self.window_s)
        if wait > 0:
            time.sleep(wait)  # replies queue up in the sockets meanwhile
            now += wait
        self._last = now


_BATCHING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReplyBatching] = (
    weakref.WeakKeyDictionary()
)


def reply_batching(loop: asyncio.AbstractEventLoop | None = None) -> ReplyBatching:
    """The reply batching of ``loop`` (the running one by default); off until its
    ``window_s`` is set."""
    loop = loop or asyncio.get_running_loop()
    batching = _BATCHING.get(loop)
    if batching is None:
        batching = _BATCHING[loop] = ReplyBatching(loop)
    return batching


def _deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    deadlines = _DEADLINES.get(loop)
    if deadlines is None:
        deadlines = _DEADLINES[loop] = _Deadlines(loop)
    return deadlines


class ModbusConnection(asyncio.Protocol):
    """One TCP connection to a data logger, Modbus TCP or RTU framing."""

    def __init__(self, *, framing: str, accept_tid_zero: bool | None = None) -> None:
        """``accept_tid_zero``: True, every reply with transaction id 0 is taken for the
        outstanding request; False, none is; None (learn), one is when it matches the
        request's unit, function and length."""
        if framing not in ("tcp", "rtu-over-tcp"):
            raise ModbusError(f"unknown framing {framing!r}")
        self.rtu = framing == "rtu-over-tcp"
        self.accept_tid_zero = accept_tid_zero
        self.stats = ConnectionStats()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._tid = 0
        self._on_reply: OnReply | None = None  # the outstanding request's callback
        self._seq = 0  # number of the outstanding request
        self._expect_unit = 0
        self._expect_bytes = 0  # the data bytes the outstanding request's reply carries
        self._deadlines: _Deadlines | None = None
        self._batching: ReplyBatching | None = None
        self.lost = asyncio.Event()

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is one without subclassing asyncio.Transport)
        self._transport = cast(asyncio.Transport, transport)
        loop = asyncio.get_running_loop()
        self._deadlines = _deadlines(loop)
        self._batching = reply_batching(loop)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.lost.set()
        on_reply, self._on_reply = self._on_reply, None
        if on_reply is not None:
            on_reply(
                None,
                ModbusUnavailableError(
                    f"connection closed by the device{': ' + str(exc) if exc else ''}"
                ),
            )

    def data_received(self, data: bytes) -> None:
        batching = self._batching
        if batching is not None and batching.window_s:
            batching._reply_arrived()
        self._buffer += data
        if self.rtu:
            self._parse_rtu()
        else:
            self._parse_tcp()

    # -- framing ------------------------------------------------------------------

    def _parse_tcp(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 8:
            tid, protocol, length = struct.unpack_from(">HHH", buffer)
            if protocol != 0 or not 2 <= length <= 254:
                self.stats.bad_frames += 1
                buffer.clear()
                return
            end = 6 + length
            if len(buffer) < end:
                return
            unit = buffer[6]
            pdu = bytes(buffer[7:end])
            del buffer[:end]
            on_reply = self._on_reply
            if on_reply is None or unit != self._expect_unit:
                self.stats.stale_frames += 1  # a late answer to an earlier request
                continue
            if tid != self._tid:
                if (
                    tid != 0
                    or self.accept_tid_zero is False
                    or not (self.accept_tid_zero or self._answers(pdu))
                ):
                    self.stats.stale_frames += 1
                    continue
                # a logger that always answers with transaction id 0 (field note 4):
                # the reply matches the request's unit, function and length
                self.stats.tid_zero_replies += 1
            self._on_reply = None
            on_reply(pdu, None)

    def _answers(self, pdu: bytes) -> bool:
        """Whether ``pdu`` has the shape of the outstanding request's reply: its
        function and byte count, or its exception."""
        if len(pdu) == 2 and pdu[0] == 0x83:
            return True
        return len(pdu) == 2 + self._expect_bytes and pdu[0] == 3 and pdu[1] == self._expect_bytes

    def _parse_rtu(self) -> None:
        buffer = self._buffer
        on_reply = self._on_reply
        if on_reply is None:
            self.stats.stale_frames += 1
            buffer.clear()
            return
        if len(buffer) < 5:
            return
        unit, function = buffer[0], buffer[1]
        size = 5 if function & 0x80 else 5 + buffer[2]
        if len(buffer) < size:
            return
        frame = bytes(buffer[:size])
        buffer.clear()
        if (
            unit != self._expect_unit
            or (function & 0x7F) != 3
            or _RTU_CRC(frame[:-2]) != int.from_bytes(frame[-2:], "big")
        ):
            self.stats.bad_frames += 1
            self._on_reply = None
            on_reply(
                None,
                BadFrameError(f"bad RTU frame {frame[:8].hex()}... (receive buffer flushed)"),
            )
            return
        self._on_reply = None
        on_reply(frame[1:-2], None)

    def _frame(self, unit: int, address: int, count: int) -> bytes:
        key = (self.rtu, unit, address, count)
        frame = _FRAMES.get(key)
        if frame is None:
            request = ReadHoldingRegistersRequest(address=address, count=count, dev_id=unit)
            payload = request.function_code.to_bytes(1, "big") + request.encode()
            framer = _RTU_FRAMER if self.rtu else _SOCKET_FRAMER
            frame = framer.encode(payload, unit, 0)
            _FRAMES[key] = frame
        return frame

    # -- requests -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def send(
        self, unit: int, address: int, count: int, *, timeout: float, on_reply: OnReply
    ) -> None:
        """Send a read of ``count`` holding registers at ``address`` from ``unit``.

        ``on_reply(pdu, None)`` is called with the reply's PDU (pass it to
        :meth:`registers`), or ``on_reply(None, error)`` with :class:`ModbusTimeoutError`
        after ``timeout`` [s], :class:`BadFrameError` or :class:`ModbusUnavailableError`.
        It is called from the protocol's callbacks, so it may send the next request at
        once: no task wake-up and no loop iteration between a reply and the next request
        (the collector's hot path). Raises :class:`ModbusUnavailableError` if not
        connected.
        """
        transport = self._transport
        if transport is None or transport.is_closing() or self._deadlines is None:
            raise ModbusUnavailableError("not connected")
        frame = self._frame(unit, address, count)
        self._expect_unit = unit
        self._expect_bytes = 2 * count
        if self.rtu:
            self._buffer.clear()
        else:
            self._tid = self._tid + 1 if self._tid < 0xFFFF else 1
            frame = self._tid.to_bytes(2, "big") + frame[2:]
        self._seq += 1
        self._on_reply = on_reply
        self.stats.requests += 1
        transport.write(frame)
        self._deadlines.add((self, self._seq, unit, address, count, timeout))

    def _expire(self, pending: _Pending) -> None:
        """The deadline of the outstanding request passed without its answer."""
        _, _, unit, address, count, timeout = pending
        on_reply, self._on_reply = self._on_reply, None
        self.stats.timeouts += 1
        if self.rtu:
            self._buffer.clear()
        if on_reply is not None:
            on_reply(
                None,
                ModbusTimeoutError(
                    f"no answer from unit {unit} within {timeout:g} s (read {address}+{count})"
                ),
            )

    def registers(self, pdu: bytes, unit: int, address: int, count: int) -> tuple[int, ...]:
        """The register words of a reply ``pdu`` to a read of ``count`` at ``address``."""
        function = pdu[0]
        if function & 0x80:
            code = pdu[1] if len(pdu) > 1 else 0
            raise ModbusExceptionResponse(
                code, f"unit {unit} answered exception {code} to read {address}+{count}"
            )
        if function != 3 or len(pdu) != 2 + 2 * count or pdu[1] != 2 * count:
            self.stats.bad_frames += 1
            raise BadFrameError(f"unit {unit}: malformed reply to read {address}+{count}")
        layout = _WORDS.get(count)
        if layout is None:
            layout = _WORDS[count] = struct.Struct(f">{count}H")
        return layout.unpack_from(pdu, 2)

    async def read_holding(
        self, unit: int, address: int, count: int, *, timeout: float
    ) -> list[int]:
        """Read ``count`` holding registers at ``address`` from ``unit`` (function 3)."""
        waiting: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def on_reply(pdu: bytes | None, error: ModbusError | None) -> None:
            if waiting.done():
                return
            if error is not None:
                waiting.set_exception(error)
            else:
                assert pdu is not None
                waiting.set_result(pdu)

        self.send(unit, address, count, timeout=timeout, on_reply=on_reply)
        pdu = await waiting
        return list(self.registers(pdu, unit, address, count))

    def flush(self) -> None:
        """Drop whatever arrived unasked (a late RTU reply), so the next frame parses clean."""
        if self._buffer:
            self.stats.stale_frames += 1
        self._buffer.clear()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_connection(
    host: str, port: int, *, framing: str, timeout: float, accept_tid_zero: bool | None = None
) -> ModbusConnection:
    """Connect to ``host:port``; raises :class:`ModbusUnavailableError` when refused."""
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: ModbusConnection(framing=framing, accept_tid_zero=accept_tid_zero),
                host,
                port,
            ),
            timeout,
        )
    except (OSError, TimeoutError) as exc:
        raise ModbusUnavailableError(f"cannot connect to {host}:{port}: {exc}") from exc
    return protocol
