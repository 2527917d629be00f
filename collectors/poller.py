"""Polling the inverters behind one data-logger endpoint over one Modbus connection.

One long-lived connection per endpoint, owned by its poller, and requests sent one at a
time on it, as real loggers require (field note 1). Each inverter is read block by block
as its register map lays out (value and scale factor in the same request), decoded with
the shared map, checked by :mod:`collectors.validate`, and queued on the writer.

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

from collectors.health import HealthTracker
from collectors.maps import Block, RegisterMap, RegisterMapError
from collectors.metrics import CollectorMetrics
from collectors.modbus import (
    BadFrameError,
    ModbusConnection,
    ModbusExceptionResponse,
    ModbusTimeoutError,
    ModbusUnavailableError,
    open_connection,
)
from collectors.validate import CounterState, validate
from collectors.writer import ReadingWriter
from pvmon.quality import Quality

__all__ = ["EndpointOptions", "EndpointPoller", "Target"]

log = logging.getLogger(__name__)
_DEVICE_CLOCK = int(Quality.DEVICE_CLOCK)

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


@dataclass(frozen=True)
class EndpointOptions:
    """Per-endpoint behaviour (registry ``endpoint_options``); defaults suit most loggers."""

    timeout_s: float = 3.0
    connect_delay_s: float = 0.0  # wait after connecting before the first request [s]
    min_gap_s: float = 0.0  # least time between two requests [s]
    accept_tid_zero: bool = False  # the logger always answers with transaction id 0
    backoff_base_s: float = 10.0
    backoff_max_s: float = 600.0
    max_timeout_s: float = 15.0  # adaptive timeouts never exceed this [s]
    rtu_guard_s: float = 1.0  # RTU: after a timeout, wait this long and flush [s]
    reprobe_s: float = 6 * 3600.0  # unsupported blocks are tried again after this [s]
    night_interval_s: float = 900.0  # poll a sleeping endpoint at most this often [s]

    @classmethod
    def from_registry(cls, options: dict[str, Any], *, timeout_s: float) -> EndpointOptions:
        known = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        known.setdefault("timeout_s", timeout_s)
        return cls(**known)


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
    unsupported: dict[Block, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.blocks:
            self.blocks = tuple(self.register_map.blocks)
        self.expected = frozenset(k for k in _MEASURED if k in self.register_map.canonical_keys)
        live = {*_MEASURED, "state", "event_code", "device_time"}
        points = [p for p in self.register_map.points if p.name in live]
        # blocks with something that changes are read every poll; the rest (marker,
        # model headers, identity) once per connection, to check the layout and identity
        self.poll_blocks = tuple(
            b for b in self.blocks if any(b.covers(p.address, p.count) for p in points)
        )
        self.identity_blocks = tuple(b for b in self.blocks if b not in self.poll_blocks)
        self.identity: dict[str, Any] = {}

    def with_device_clock(self) -> None:
        """Also read the map's simulation clock block (accelerated simulated fleets only:
        real devices answer exception 2 there)."""
        clock = self.register_map.clock_block
        if clock is not None and clock not in self.blocks:
            self.blocks = (*self.blocks, clock)
            self.poll_blocks = (*self.poll_blocks, clock)


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
        options: EndpointOptions | None = None,
    ) -> None:
        self.host, self.port, self.framing = host, port, framing
        self.targets = targets
        self.writer = writer
        self.health = health
        self.metrics = metrics
        self.daylight = daylight
        self.speed = speed
        self.use_device_clock = speed != 1.0
        self.options = options or EndpointOptions()
        self.clock_offset_s = 0.0  # device clock minus collector clock, from the last answer
        self._anchor: tuple[float, float] | None = None  # (device time, monotonic) last seen
        if self.use_device_clock:
            for target in targets:
                target.with_device_clock()
        self.connects = 0
        self._connection: ModbusConnection | None = None
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._last_request = 0.0
        self._identified: set[int] = set()
        self._latency_ewma = 0.0
        self._connect_delay = self.options.connect_delay_s
        self._fresh = False  # no request has succeeded yet on the current connection
        self._last_cycle = 0.0
        self._asleep = False
        self._unreachable_logged = False
        self._ok = metrics.polls.labels(result="ok")
        self._ok_count = 0  # polls answered this cycle, added to ``_ok`` when it ends
        self._observe_request = metrics.request_seconds.observe
        self._clock_gauge = metrics.clock_offset.labels(endpoint=self.name)

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
                device_time + (time.monotonic() - seen_at) * self.speed, UTC
            )
        return datetime.now(UTC)

    async def _connect(self) -> ModbusConnection | None:
        connection = self._connection
        if connection is not None and connection.connected:
            return connection
        if time.monotonic() < self._retry_at:
            return None
        if connection is not None:
            connection.close()
        self.connects += 1
        self.metrics.connects.inc()
        try:
            connection = await open_connection(
                self.host,
                self.port,
                framing=self.framing,
                timeout=self.options.timeout_s,
                accept_tid_zero=self.options.accept_tid_zero,
            )
        except ModbusUnavailableError:
            self._connection = None
            self._backoff_s = min(
                max(self._backoff_s * 2, self.options.backoff_base_s), self.options.backoff_max_s
            )
            self._retry_at = time.monotonic() + self._backoff_s / self.speed
            return None
        if self._connect_delay:
            await asyncio.sleep(self._connect_delay)
        self._fresh = True
        self._connection = connection
        self._identified.clear()  # a new connection may be a replaced or updated device
        self._backoff_s = 0.0
        return connection

    @property
    def timeout_s(self) -> float:
        """The request timeout now: the configured one, raised to 4x the observed latency."""
        return min(
            max(self.options.timeout_s, 4.0 * self._latency_ewma), self.options.max_timeout_s
        )

    def _sleeping(self) -> bool:
        """Night, and nothing behind the endpoint answered since dusk: poll rarely."""
        now = self.device_now()
        if any(self.daylight(t, now) for t in self.targets[:1]):
            return False
        return all(
            self.health.states[t.inverter_id].state in ("sleeping", "unknown") for t in self.targets
        )

    async def poll(self) -> None:
        """Poll every inverter of the endpoint once (at night, a sleeping one seldom)."""
        started = time.perf_counter()
        asleep = self._sleeping()
        if asleep != self._asleep:
            self._asleep = asleep
            if asleep:
                log.info(
                    "%s asleep for the night: polling every %g s",
                    self.name,
                    self.options.night_interval_s,
                )
            else:
                log.info("%s awake", self.name)
        if (
            asleep
            and time.monotonic() - self._last_cycle < self.options.night_interval_s / self.speed
        ):
            return
        self._last_cycle = time.monotonic()
        connection = await self._connect()
        if connection is None:
            now = self.device_now()
            if not self._unreachable_logged and not asleep:
                log.warning("%s unreachable; retrying with back-off (logged once)", self.name)
                self._unreachable_logged = True
            for target in self.targets:
                self._failed(
                    target, now, "connect", "endpoint unreachable (connection refused or timed out)"
                )
        else:
            if self._unreachable_logged:
                log.info("%s reachable again", self.name)
                self._unreachable_logged = False
            try:
                for target in self.targets:
                    await self._poll_target(connection, target)
                    if not connection.connected:
                        break  # the connection broke: the rest wait for the next cycle
            finally:
                self._ok.inc(self._ok_count)
                self._ok_count = 0
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)

    async def _poll_target(self, connection: ModbusConnection, target: Target) -> None:
        decoded: dict[str, Any] = {}
        decode_block = target.register_map.decode_block
        timeout = self.timeout_s
        min_gap = self.options.min_gap_s
        identify = target.unit_id not in self._identified
        blocks = target.blocks if identify else target.poll_blocks
        unsupported = target.unsupported
        unit = target.unit_id
        for block in blocks:
            if unsupported and block in unsupported:
                if time.monotonic() - unsupported[block] < self.options.reprobe_s / self.speed:
                    continue
                del unsupported[block]  # probe it again (firmware may have changed)
            if min_gap:
                wait = self._last_request + min_gap - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_request = time.monotonic()
            began = time.perf_counter()
            try:
                pdu = await connection.request(unit, block.start, block.count, timeout=timeout)
                decoded.update(
                    decode_block(block, connection.registers(pdu, unit, block.start, block.count))
                )
            except ModbusTimeoutError as exc:
                if self._fresh and self._connect_delay < 5.0:
                    # the first request after connecting got no answer: a logger that is
                    # deaf right after a connect (field note 2); wait longer next time
                    self._connect_delay = min(max(self._connect_delay * 2, 0.5), 5.0)
                if connection.rtu:
                    await asyncio.sleep(self.options.rtu_guard_s / max(self.speed, 1.0))
                    connection.flush()
                self._failed(target, self.device_now(), "timeout", str(exc))
                return
            except ModbusExceptionResponse as exc:
                if exc.code == 2:
                    # this model has no such block (field note 14): read the rest, cache it
                    unsupported[block] = time.monotonic()
                    self.metrics.polls.labels(result="unsupported_block").inc()
                    continue
                self._failed(target, self.device_now(), "exception", str(exc))
                return
            except BadFrameError as exc:
                self._failed(target, self.device_now(), "bad_frame", str(exc))
                return
            except ModbusUnavailableError as exc:
                self._failed(target, self.device_now(), "connection", str(exc))
                connection.close()
                return
            except RegisterMapError as exc:
                self._failed(target, self.device_now(), "decode", str(exc))
                return
            elapsed = time.perf_counter() - began
            self._observe_request(elapsed)
            self._latency_ewma = 0.9 * self._latency_ewma + 0.1 * elapsed
            self._fresh = False
        if not decoded:
            self._failed(
                target,
                self.device_now(),
                "exception",
                "every block answered exception 2 (unsupported)",
            )
            return
        if identify:
            target.identity = {k: decoded.get(k) for k in ("manufacturer", "model", "serial")}
            self._identified.add(target.unit_id)
        self._store(target, decoded)

    def _failed(self, target: Target, at: datetime, kind: str, error: str) -> None:
        self.metrics.polls.labels(result=kind).inc()
        self.health.failure(
            target.inverter_id, at=at, error=error, daylight=self.daylight(target, at)
        )

    def _store(self, target: Target, decoded: dict[str, Any]) -> None:
        collector_now = time.time()
        device_time = decoded.get("device_time")
        offset = None
        quality = 0
        if device_time is not None:
            offset = float(device_time) - collector_now
            self.clock_offset_s = offset
            self._anchor = (float(device_time), time.monotonic())
            self._clock_gauge.set(offset)
            if self.use_device_clock:
                collector_now = float(device_time)
                quality = _DEVICE_CLOCK
        at = datetime.fromtimestamp(collector_now, UTC)
        checked = validate(
            decoded,
            state=target.counter,
            rated_ac_w=target.rated_ac_w,
            at=at,
            expected_points=target.expected,
        )
        get = checked.values.get
        energy, power, state, event = (
            get("energy_wh"),
            get("ac_power_w"),
            get("state"),
            get("event_code"),
        )
        self.writer.add_one(
            (
                at,
                target.inverter_id,
                power,
                energy,
                get("dc_power_w"),
                get("ac_voltage_a_v"),
                get("ac_voltage_b_v"),
                get("ac_voltage_c_v"),
                get("ac_current_a_a"),
                get("ac_current_b_a"),
                get("ac_current_c_a"),
                get("frequency_hz"),
                get("temperature_c"),
                state,
                event,
                quality | checked.quality,
                offset,
                checked.raw,
            )
        )
        self._ok_count += 1
        self.health.success(
            target.inverter_id,
            at=at,
            power_w=power,
            energy_wh=energy,
            state=state,
            event_code=event,
            clock_offset_s=offset,
        )

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        await asyncio.sleep(0)
