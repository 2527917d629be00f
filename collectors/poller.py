"""Polling the inverters behind one data-logger endpoint over one Modbus connection.

One long-lived pymodbus client per endpoint, owned by its poller, and requests sent one
at a time on it, as real loggers require (field note 1). Each inverter is read block by
block as its register map lays out (value and scale factor in the same request), decoded
with the shared map, checked by :mod:`collectors.validate`, and queued on the writer.

Failures stay per unit id (field note 15): a timeout or an exception from one inverter
does not touch the others, and a single timeout keeps the connection (field note 3).
A refused or broken connection makes the whole endpoint back off exponentially, so a
dead logger costs one connect attempt per back-off step, not a cycle's worth of timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from collectors.health import HealthTracker
from collectors.maps import Block, RegisterMap, RegisterMapError
from collectors.metrics import CollectorMetrics
from collectors.validate import CounterState, validate
from collectors.writer import ReadingWriter
from pvmon.db.readings import Reading
from pvmon.quality import Quality

__all__ = ["EndpointPoller", "Target"]

log = logging.getLogger(__name__)

_MEASURED = (
    "ac_power_w",
    "energy_wh",
    "dc_power_w",
    "ac_voltage_a_v",
    "ac_voltage_b_v",
    "ac_voltage_c_v",
    "ac_current_a_a",
    "ac_current_b_a",
    "ac_current_c_a",
    "frequency_hz",
    "temperature_c",
)


@dataclass
class Target:
    """One inverter as the collector knows it."""

    inverter_id: int
    serial: str
    station_id: int
    village_id: int
    unit_id: int
    rated_ac_w: float
    register_map: RegisterMap
    latitude: float
    longitude: float
    poll_interval_s: int = 60
    blocks: tuple[Block, ...] = ()
    counter: CounterState = field(default_factory=CounterState)

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = tuple(self.register_map.blocks)

    def with_device_clock(self) -> None:
        """Also read the map's simulation clock block (accelerated simulated fleets only:
        real devices answer exception 2 there)."""
        clock = self.register_map.clock_block
        if clock is not None and clock not in self.blocks:
            self.blocks = (*self.blocks, clock)


class EndpointPoller:
    """All inverters behind ``host:port``; :meth:`poll` runs one cycle over them."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        framing: str,
        targets: list[Target],
        writer: ReadingWriter,
        health: HealthTracker,
        metrics: CollectorMetrics,
        daylight: Callable[[Target, datetime], bool],
        speed: float = 1.0,
        timeout_s: float = 3.0,
        backoff_base_s: float = 10.0,
        backoff_max_s: float = 600.0,
    ) -> None:
        self.host, self.port, self.framing = host, port, framing
        self.targets = targets
        self.writer = writer
        self.health = health
        self.metrics = metrics
        self.daylight = daylight
        self.speed = speed
        self.use_device_clock = speed != 1.0
        self.timeout_s = timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.clock_offset_s = 0.0  # device clock minus collector clock, from the last answer
        self._anchor: tuple[float, float] | None = None  # (device time, monotonic) last seen
        if self.use_device_clock:
            for target in targets:
                target.with_device_clock()
        self.connects = 0
        self._client: AsyncModbusTcpClient | None = None
        self._backoff_s = 0.0
        self._retry_at = 0.0

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def device_now(self) -> datetime:
        """Best estimate of the devices' time.

        The collector's clock; for an accelerated simulated fleet, the last device time
        seen advanced by the wall time since, times the speed (so silent devices still
        age in simulated time).
        """
        if self.use_device_clock and self._anchor is not None:
            device_time, seen_at = self._anchor
            return datetime.fromtimestamp(
                device_time + (time.monotonic() - seen_at) * self.speed, UTC)
        return datetime.now(UTC)

    async def _connect(self) -> AsyncModbusTcpClient | None:
        if self._client is not None and self._client.connected:
            return self._client
        if time.monotonic() < self._retry_at:
            return None
        if self._client is not None:
            self._client.close()
        client = AsyncModbusTcpClient(
            self.host,
            port=self.port,
            framer=FramerType.RTU if self.framing == "rtu-over-tcp" else FramerType.SOCKET,
            timeout=self.timeout_s,
            retries=0,
            reconnect_delay=0,
        )
        self.connects += 1
        self.metrics.connects.inc()
        try:
            ok = await client.connect()
        except (OSError, ModbusException):
            ok = False
        if not ok:
            client.close()
            self._client = None
            self._backoff_s = min(max(self._backoff_s * 2, self.backoff_base_s), self.backoff_max_s)
            self._retry_at = time.monotonic() + self._backoff_s
            return None
        self._client = client
        self._backoff_s = 0.0
        return client

    async def poll(self) -> None:
        """Poll every inverter of the endpoint once."""
        started = time.perf_counter()
        client = await self._connect()
        if client is None:
            now = self.device_now()
            for target in self.targets:
                self._failed(
                    target, now, "connect", "endpoint unreachable (connection refused or timed out)"
                )
            self.metrics.cycle_seconds.observe(time.perf_counter() - started)
            return
        for target in self.targets:
            await self._poll_target(client, target)
            if not client.connected:
                break  # the connection broke: the rest wait for the next cycle
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)

    async def _poll_target(self, client: AsyncModbusTcpClient, target: Target) -> None:
        decoded: dict[str, Any] = {}
        for block in target.blocks:
            began = time.perf_counter()
            try:
                response = await client.read_holding_registers(
                    block.start, count=block.count, device_id=target.unit_id
                )
            except ModbusIOException:
                self._failed(
                    target,
                    self.device_now(),
                    "timeout",
                    f"no answer within "
                    f"{self.timeout_s:g} s to a read of {block.start}+{block.count}",
                )
                return
            except (ConnectionException, ModbusException, OSError) as exc:
                self._failed(target, self.device_now(), "connection", f"connection failed: {exc}")
                client.close()
                return
            self.metrics.request_seconds.observe(time.perf_counter() - began)
            if response.isError():
                code = getattr(response, "exception_code", 0)
                self._failed(
                    target,
                    self.device_now(),
                    "exception",
                    f"Modbus exception {code} reading {block.start}+{block.count}",
                )
                return
            try:
                decoded.update(target.register_map.decode_block(block, response.registers))
            except RegisterMapError as exc:
                self._failed(target, self.device_now(), "decode", str(exc))
                return
        self._store(target, decoded)

    def _failed(self, target: Target, at: datetime, kind: str, error: str) -> None:
        self.metrics.polls.labels(result=kind).inc()
        self.health.failure(
            target.inverter_id, at=at, error=error, daylight=self.daylight(target, at)
        )

    def _store(self, target: Target, decoded: dict[str, Any]) -> None:
        collector_now = datetime.now(UTC)
        at, quality = collector_now, 0
        device_time = decoded.get("device_time")
        offset = None
        if device_time is not None:
            offset = float(device_time) - collector_now.timestamp()
            self.clock_offset_s = offset
            self._anchor = (float(device_time), time.monotonic())
            if self.use_device_clock:
                at = datetime.fromtimestamp(float(device_time), UTC)
                quality |= Quality.DEVICE_CLOCK
        checked = validate(
            decoded,
            state=target.counter,
            rated_ac_w=target.rated_ac_w,
            at=at,
            expected_points=frozenset(k for k in _MEASURED if k in decoded),
        )
        values = checked.values
        self.writer.add(
            [
                Reading(
                    time=at,
                    inverter_id=target.inverter_id,
                    ac_power_w=values.get("ac_power_w"),
                    energy_wh=values.get("energy_wh"),
                    dc_power_w=values.get("dc_power_w"),
                    ac_voltage_a_v=values.get("ac_voltage_a_v"),
                    ac_voltage_b_v=values.get("ac_voltage_b_v"),
                    ac_voltage_c_v=values.get("ac_voltage_c_v"),
                    ac_current_a_a=values.get("ac_current_a_a"),
                    ac_current_b_a=values.get("ac_current_b_a"),
                    ac_current_c_a=values.get("ac_current_c_a"),
                    frequency_hz=values.get("frequency_hz"),
                    temperature_c=values.get("temperature_c"),
                    state=values.get("state"),
                    event_code=values.get("event_code"),
                    quality=quality | checked.quality,
                    device_clock_offset_s=offset,
                    raw=checked.raw,
                )
            ]
        )
        self.metrics.polls.labels(result="ok").inc()
        if offset is not None:
            self.metrics.clock_offset.labels(endpoint=self.name).set(offset)
        self.health.success(
            target.inverter_id,
            at=at,
            power_w=values.get("ac_power_w"),
            energy_wh=values.get("energy_wh"),
            state=values.get("state"),
            event_code=values.get("event_code"),
            clock_offset_s=offset,
        )

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        await asyncio.sleep(0)
