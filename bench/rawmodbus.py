"""A minimal asyncio Modbus TCP client: the machine's raw ceiling for benchmarks.

No framework, no retries: one request at a time per connection, transaction ids
checked, function 3 only. Used to measure what the hardware and the simulator can do,
beside the real pymodbus-based collector.
"""

from __future__ import annotations

import asyncio
import struct

__all__ = ["RawModbusClient"]


class RawModbusClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tid = 0

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def read_holding(self, unit: int, address: int, count: int) -> list[int]:
        assert self._reader is not None and self._writer is not None
        self._tid = (self._tid + 1) & 0xFFFF
        self._writer.write(struct.pack(">HHHBBHH", self._tid, 0, 6, unit, 3, address, count))
        header = await self._reader.readexactly(7)
        tid, _, length, _ = struct.unpack(">HHHB", header)
        body = await self._reader.readexactly(length - 1)
        if tid != self._tid:
            raise RuntimeError(f"transaction id {tid} != {self._tid}")
        if body[0] & 0x80:
            raise RuntimeError(f"exception {body[1]}")
        return list(struct.unpack(f">{body[1] // 2}H", body[2:]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
