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
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from collectors.health import HealthTracker
from collectors.metrics import CollectorMetrics
from collectors.modbus import (
    BadFrameError,
    ModbusConnection,
    ModbusError,
    ModbusExceptionResponse,
    ModbusTimeoutError,
    ModbusUnavailableError,
    open_connection,
)
from collectors.validate import CounterState, validate
from collectors.writer import ReadingWriter
from pvmon.errors import ConfigError
from pvmon.quality import Quality
from pvmon.registermaps import Block, RegisterMap, RegisterMapError

__all__ = ["Clock", "EndpointOptions", "EndpointPoller", "Target", "batch_window_s"]

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


_BOOLEAN_OPTIONS = frozenset({"accept_tid_zero"})
# the options that are wall-clock durations on the wire (the rest count on the polling
# schedule's timeline, which runs in simulated seconds for an accelerated fleet)
_WALL_CLOCK_OPTIONS = (
    "timeout_s",
    "connect_delay_s",
    "first_connect_delay_s",
    "max_connect_delay_s",
    "min_gap_s",
    "max_min_gap_s",
    "max_timeout_s",
)
# a scaled timeout never goes below this [s]: request deadlines are checked on a 50 ms
# grid (collectors.modbus), and a TCP connect on a busy machine takes milliseconds
_SHORTEST_TIMEOUT_S = 0.05


@dataclass(frozen=True)
class EndpointOptions:
    """Per-endpoint behaviour (registry ``endpoint_options``); defaults suit most loggers."""

    timeout_s: float = 3.0
    connect_delay_s: float = 0.0  # wait after connecting before the first request [s]
    # the first delay learned from a deaf logger [s] (not a fleet-file option: it is
    # here to scale with the rest, :meth:`scaled`)
    first_connect_delay_s: float = 0.5
    max_connect_delay_s: float = 5.0  # a learned connect delay never exceeds this [s]
    min_gap_s: float = 0.0  # least time between two requests [s]
    # the logger always answers with transaction id 0: True / False as the fleet file
    # says, None (not said) learned from the replies
    accept_tid_zero: bool | None = None
    backoff_base_s: float = 10.0
    backoff_max_s: float = 600.0
    max_timeout_s: float = 15.0  # adaptive timeouts never exceed this [s]
    rtu_guard_s: float = 1.0  # RTU: after a timeout, wait this long and flush [s]
    # unsupported blocks are tried again, and identity blocks read again, after this [s]
    reprobe_s: float = 6 * 3600.0
    night_interval_s: float = 900.0  # poll a sleeping endpoint at most this often [s]
    max_min_gap_s: float = 2.0  # a learned gap between requests never exceeds this [s]
    # the options the fleet file gave (they win over anything learned); not an option
    said: frozenset[str] = frozenset()

    @classmethod
    def from_registry(cls, options: dict[str, Any], *, timeout_s: float) -> EndpointOptions:
        """The options stored in the registry over the defaults; ``ValueError`` naming
        the option when one is not a finite non-negative number (or true/false)."""
        known: dict[str, Any] = {"timeout_s": timeout_s}
        for name, value in options.items():
            if name not in cls.__dataclass_fields__ or name == "said":
                continue
            if name in _BOOLEAN_OPTIONS:
                if not isinstance(value, bool):
                    raise ValueError(f"{name}: {value!r} is not true or false")
                known[name] = value
                continue
            try:
                number = float(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}: {value!r} is not a number") from exc
            if not math.isfinite(number) or number < 0 or isinstance(value, bool):
                raise ValueError(f"{name}: {value!r} is not a non-negative number")
            known[name] = number
        said = frozenset(known) - {"timeout_s"}
        return cls(**known, said=said)

    def scaled(self, factor: float) -> EndpointOptions:
        """These options with their wall-clock durations (request timeouts, connect
        delays, the gap between requests) times ``factor``: ``pvmon collect --speed N``
        polls a simulated fleet whose loggers answer and recover N times faster
        (``simulators.behaviour.draw_field_behaviours``), so it waits 1/N as long.
        Back-off, night polling and re-probing count in simulated seconds already.
        Timeouts stay at least 50 ms (what the machine can tell apart), unless set
        lower."""
        if not factor > 0:
            raise ValueError(f"scale factor must be positive, not {factor}")
        scaled = {name: getattr(self, name) * factor for name in _WALL_CLOCK_OPTIONS}
        for name in ("timeout_s", "max_timeout_s"):
            scaled[name] = max(scaled[name], min(getattr(self, name), _SHORTEST_TIMEOUT_S))
        return replace(self, **scaled)


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
    unsupported: dict[Block, float] = field(default_factory=dict)  # found at [schedule s]
    identified_at: float | None = None  # when the identity blocks were last read [schedule s]

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


def batch_window_s(
    paces: Iterable[tuple[float, int, float]], *, ceiling_s: float, budget: float = 0.5
) -> float:
    """How far apart replies may be handled in batches [s] (``ReplyBatching``).

    ``paces`` has one ``(interval [s], requests per pass, reply latency [s])`` per
    endpoint. A pass sends its requests one after the other, and batching can add up to
    the window to each, so the window is the largest that keeps every endpoint's pass
    within ``budget`` of its interval, and at most ``ceiling_s``; 0 when an endpoint
    has no room (a pass that already takes over half its interval is not slowed).
    """
    if not ceiling_s >= 0:
        raise ConfigError(f"batch window ceiling_s must be 0 or more, not {ceiling_s!r}")
    if not 0 < budget <= 1:
        raise ConfigError(f"batch window budget must be in (0, 1], not {budget!r}")
    window = ceiling_s
    for interval_s, requests, latency_s in paces:
        if requests > 0:
            window = min(window, budget * interval_s / requests - latency_s)
    return max(window, 0.0)


class Clock(Protocol):
    """A clock the collector can be given (a test's, stepping an accelerated fleet)."""

    def now(self) -> datetime:
        """The time (UTC, aware)."""
        ...


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
        clock: Clock | None = None,
        learned: Mapping[str, tuple[Any, str]] | None = None,
    ) -> None:
        self.host, self.port, self.framing = host, port, framing
        self.clock = clock
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
        # the endpoint's cycle, in wall time [s], and the requests of a pass by day
        self.interval_s = min((t.poll_interval_s for t in targets), default=60) / speed
        self._requests_per_pass = sum(len(t.poll_blocks) for t in targets)
        self.connects = 0
        self._connection: ModbusConnection | None = None
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._last_request = 0.0
        self._latency_ewma = 0.0
        self._connect_delay = self.options.connect_delay_s
        self._fresh = False  # no request has succeeded yet on the current connection
        # never polled: the first cycle polls even at night (the schedule's timeline may
        # start near 0: time.monotonic() counts from the host's boot)
        self._last_cycle = -math.inf
        self._asleep = False
        self._unreachable_logged = False
        self._ok = metrics.polls.labels(result="ok")
        self._ok_count = 0  # polls answered this cycle, added to ``_ok`` when it ends
        self._observe_request = metrics.request_seconds.observe
        self._clock_gauge = metrics.clock_offset.labels(endpoint=self.name)
        self.learned: dict[str, str] = {}  # setting -> what showed it (from the wire)
        self.learned_changes: list[tuple[str, Any, str]] = []  # to store: value None = forget
        self._stale_seen = 0  # the current connection's stale frames already counted
        # what this endpoint needs, as the fleet file says or as learned (kept across
        # restarts in endpoint_learned); the fleet file's word always wins
        self.accept_tid_zero = self.options.accept_tid_zero
        self.min_gap_s = self.options.min_gap_s
        self._touchy_passes = 0  # passes in a row whose later requests went unanswered
        self._gap_given_up = False
        # a learned gap is checked against the least gap seen answered in the next clean
        # pass: on a busy machine requests leave later than asked, and a gap learned then
        # may only have worked because of it (a restored gap was checked when learned)
        self._gap_confirmed = True
        for setting, (value, why) in (learned or {}).items():
            if setting in self.options.said:
                continue
            if setting == "accept_tid_zero" and value is True:
                self.accept_tid_zero = True
            elif setting == "min_gap_s" and isinstance(value, int | float) and value > 0:
                self.min_gap_s = min(float(value), self.options.max_min_gap_s)
            else:
                continue
            self._note(setting, value, why)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pace(self) -> tuple[float, int, float]:
        """(poll interval [s], requests of a pass, time per request [s]: the reply
        latency seen, or the minimum gap between requests if that is longer)."""
        return (
            self.interval_s,
            self._requests_per_pass,
            max(self._latency_ewma, self.min_gap_s),
        )

    def device_now(self) -> datetime:
        """Best estimate of the devices' time.

        The collector's clock; for an accelerated simulated fleet, the last device time
        seen advanced by the wall time since, times the speed (so silent devices still
        age in simulated time).
        """
        if self.clock is not None:
            return self.clock.now()
        if self.use_device_clock and self._anchor is not None:
            device_time, seen_at = self._anchor
            return datetime.fromtimestamp(
                device_time + (time.monotonic() - seen_at) * self.speed, UTC
            )
        return datetime.now(UTC)

    def schedule_s(self) -> float:
        """Now on the polling schedule's timeline [s]: back-off, night polling and
        re-probing count in it (simulated seconds for an accelerated fleet; the given
        clock's, when the collector was given one)."""
        if self.clock is not None:
            return self.clock.now().timestamp()
        return time.monotonic() * self.speed

    async def _connect(self) -> ModbusConnection | None:
        connection = self._connection
        if connection is not None and connection.connected:
            return connection
        if self.schedule_s() < self._retry_at:
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
                accept_tid_zero=self.accept_tid_zero,
            )
        except ModbusUnavailableError:
            self._connection = None
            self.forget_identities()  # it may come back replaced or updated
            self._backoff_s = min(
                max(self._backoff_s * 2, self.options.backoff_base_s), self.options.backoff_max_s
            )
            self._retry_at = self.schedule_s() + self._backoff_s
            return None
        if self._connect_delay:
            await asyncio.sleep(self._connect_delay)
        self._fresh = True
        # a reconnect after an idle drop (NAT, field note 3) keeps what is known of the
        # devices: reading every identity block again would double a pass's requests
        self._connection = connection
        self._stale_seen = 0
        self._backoff_s = 0.0
        return connection

    def forget_identities(self) -> None:
        """Read every inverter's identity blocks again on its next poll."""
        for target in self.targets:
            target.identified_at = None

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
        if asleep and self.schedule_s() - self._last_cycle < self.options.night_interval_s:
            return
        self._last_cycle = self.schedule_s()
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
            done = _Pass(self, connection)
            try:
                await done.run()
            finally:
                self._ok.inc(self._ok_count)
                self._ok_count = 0
                self._learn_from(connection)
                self._judge_gap(done)
        self.metrics.cycle_seconds.observe(time.perf_counter() - started)

    def _learn_from(self, connection: ModbusConnection) -> None:
        """Count the pass's stale frames; note what the replies taught (once)."""
        stats = connection.stats
        if stats.stale_frames > self._stale_seen:
            self.metrics.stale_frames.inc(stats.stale_frames - self._stale_seen)
        self._stale_seen = stats.stale_frames
        said = self.options.accept_tid_zero is not None  # the fleet file's word wins
        if stats.tid_zero_replies and not said and "accept_tid_zero" not in self.learned:
            self._learn("accept_tid_zero", True, "the logger answers with transaction id 0")

    def _judge_gap(self, done: _Pass) -> None:
        """Learn the gap a touchy logger needs between requests (field note 16): in two
        passes in a row, an inverter answered a request and its next one went
        unanswered (a unit that never answers does not: its first request fails); the
        gap doubles until passes come through, up to ``max_min_gap_s``. If even that
        does not help, it was something else, and the gap is dropped again."""
        if "min_gap_s" in self.options.said or self._gap_given_up:
            return
        if done.sign_gap_s is None:
            if done.answered and not done.timeouts:
                self._touchy_passes = 0  # a clean pass
                self._confirm_gap(done.least_answered_gap_s)
            return
        self._touchy_passes += 1
        if self._touchy_passes < 2:
            return
        self._touchy_passes = 0
        if self.min_gap_s >= self.options.max_min_gap_s:
            self._gap_given_up = True
            self.min_gap_s = self.options.min_gap_s
            self.learned.pop("min_gap_s", None)
            self.metrics.learned.labels(endpoint=self.name, setting="min_gap_s").set(0)
            self.learned_changes.append(("min_gap_s", None, "a wider gap did not help"))
            log.warning("%s: a gap of %g s between requests did not help; dropped it",
                        self.name, self.options.max_min_gap_s)  # fmt: skip
            return
        gap = min(max(2 * self.min_gap_s, 2 * done.sign_gap_s, 0.01), self.options.max_min_gap_s)
        self.min_gap_s = gap
        self._gap_confirmed = False
        self._learn(
            "min_gap_s",
            gap,
            f"requests {done.sign_gap_s * 1000:.1f} ms after an answered one went unanswered",
        )

    def _confirm_gap(self, least_answered_s: float | None) -> None:
        """After a gap was learned, keep a quarter more than the least gap [s] the next
        clean pass saw answered, if that is wider than the gap asked for: requests may
        have left later than asked (a busy machine, a slow reply), and a gap right at the
        logger's limit fails on the next jitter."""
        if self._gap_confirmed or "min_gap_s" not in self.learned or least_answered_s is None:
            return
        self._gap_confirmed = True
        kept = min(1.25 * least_answered_s, self.options.max_min_gap_s)
        if kept > self.min_gap_s:
            self.min_gap_s = kept
            self._learn("min_gap_s", kept,
                        f"a quarter more than the {least_answered_s * 1000:.1f} ms between "
                        "requests seen answered")  # fmt: skip

    def _note(self, setting: str, value: Any, why: str) -> None:
        self.learned[setting] = why
        gauge = float(value) if isinstance(value, int | float) and value is not True else 1.0
        self.metrics.learned.labels(endpoint=self.name, setting=setting).set(gauge)

    def _learn(self, setting: str, value: Any, why: str) -> None:
        self._note(setting, value, why)
        self.learned_changes.append((setting, value, why))
        log.warning("%s: learned %s = %s (%s)", self.name, setting, value, why)

    def drain_learned(self) -> list[tuple[str, Any, str]]:
        """What was learned (or dropped: value None) since the last call, to store."""
        changes, self.learned_changes = self.learned_changes, []
        return changes

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


class _Pass:
    """One pass over an endpoint's inverters, driven by the connection's replies.

    Each reply is handled in the connection's ``data_received`` and the next request is
    sent from there, so a pass costs no task wake-up per request (what polling
    thousands of inverters a second spends most on). Per inverter: its blocks in order
    (every block on the first poll, after the endpoint was unreachable and every
    ``reprobe_s``, to check identity and layout; otherwise only the blocks that
    change), skipping blocks the model does not have until they are due for a
    re-probe, keeping the endpoint's minimum gap between requests. A timeout,
    a bad frame or an exception ends that inverter's poll (the others go on); a broken
    connection ends the pass.
    """

    def __init__(self, poller: EndpointPoller, connection: ModbusConnection) -> None:
        self.poller = poller
        self.connection = connection
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.targets = iter(poller.targets)
        self.timeout = poller.timeout_s
        self.min_gap = poller.min_gap_s
        self.reidentify_s = poller.options.reprobe_s
        self.target: Target | None = None
        self.blocks: tuple[Block, ...] = ()
        self.index = 0
        self.decoded: dict[str, Any] = {}
        self.identify = False
        self.began = 0.0
        # what the pass shows of a touchy logger: the gap before the first request that
        # went unanswered after one of the same inverter was answered [s]
        self.answered = self.timeouts = 0
        self.sign_gap_s: float | None = None
        self.least_answered_gap_s: float | None = None  # least gap before an answered one [s]
        self._target_answered = False
        self._sent_at = self._sent_before = 0.0

    async def run(self) -> None:
        """Poll every inverter once; returns when the pass is over."""
        self._guarded(self._next_target)
        await self.done

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Run ``step(*args)`` unless the pass is over; an unexpected error ends the pass
        with it (never lost in a protocol or timer callback)."""
        if self.done.done():
            return  # cancelled (collector stopping): send nothing more
        try:
            step(*args)
        except Exception as exc:  # handed to the awaiting poll()
            if not self.done.done():
                self.done.set_exception(exc)

    def _next_target(self) -> None:
        poller = self.poller
        while True:
            if self.target is not None and not self.connection.connected:
                break  # the connection broke: the rest wait for the next cycle
            target = next(self.targets, None)
            if target is None:
                break
            self.target = target
            self._target_answered = False
            self.timeout = poller.timeout_s  # adapted to the latency seen so far
            self.identify = (
                target.identified_at is None
                or poller.schedule_s() - target.identified_at >= self.reidentify_s
            )
            self.blocks = target.blocks if self.identify else target.poll_blocks
            self.index = 0
            self.decoded = {}
            if self._next_block():
                return  # a request (or the wait before it) is under way
        self.done.set_result(None)

    def _next_block(self) -> bool:
        """Send the current inverter's next request: True if one is under way, False
        when the inverter is done (stored or failed)."""
        poller, target = self.poller, self.target
        assert target is not None
        unsupported = target.unsupported
        while self.index < len(self.blocks):
            block = self.blocks[self.index]
            if unsupported and block in unsupported:
                if poller.schedule_s() - unsupported[block] < poller.options.reprobe_s:
                    self.index += 1
                    continue
                del unsupported[block]  # probe it again (firmware may have changed)
            if self.min_gap:
                wait = poller._last_request + self.min_gap - time.monotonic()
                if wait > 0:
                    self.loop.call_later(wait, self._guarded, self._send)
                    return True
            self._send()
            return True
        self._finish()
        return False

    def _send(self) -> None:
        """Send the request for the current block (the gap, if any, has passed)."""
        target, block = self.target, self.blocks[self.index]
        assert target is not None
        self._sent_before = self._sent_at
        self.poller._last_request = self._sent_at = time.monotonic()
        self.began = time.perf_counter()
        try:
            self.connection.send(
                target.unit_id,
                block.start,
                block.count,
                timeout=self.timeout,
                on_reply=self._on_reply,
            )
        except ModbusUnavailableError as exc:
            self._fail("connection", str(exc))
            self.connection.close()
            self._next_target()

    def _on_reply(self, pdu: bytes | None, error: ModbusError | None) -> None:
        self._guarded(self._handle, pdu, error)

    def _handle(self, pdu: bytes | None, error: ModbusError | None) -> None:
        poller, target = self.poller, self.target
        assert target is not None
        block = self.blocks[self.index]
        try:
            if error is not None:
                raise error
            assert pdu is not None
            words = self.connection.registers(pdu, target.unit_id, block.start, block.count)
            self.decoded.update(target.register_map.decode_block(block, words))
        except ModbusTimeoutError as exc:
            self.timeouts += 1
            if self._target_answered and self.sign_gap_s is None:
                self.sign_gap_s = self._sent_at - self._sent_before
            ceiling = poller.options.max_connect_delay_s
            if poller._fresh and poller._connect_delay < ceiling:
                # the first request after connecting got no answer: a logger that is
                # deaf right after a connect (field note 2); wait longer next time
                first = poller.options.first_connect_delay_s
                poller._connect_delay = min(max(poller._connect_delay * 2, first), ceiling)
            self._fail("timeout", str(exc))
            if self.connection.rtu:
                # let a late RTU reply arrive, then flush it so the next frame parses clean
                self.loop.call_later(
                    poller.options.rtu_guard_s / max(poller.speed, 1.0),
                    self._guarded,
                    self._after_rtu_guard,
                )
                return
            self._next_target()
            return
        except ModbusExceptionResponse as exc:
            if exc.code != 2:
                self._fail("exception", str(exc))
                self._next_target()
                return
            # this model has no such block (field note 14): read the rest, cache it
            target.unsupported[block] = poller.schedule_s()
            poller.metrics.polls.labels(result="unsupported_block").inc()
        except BadFrameError as exc:
            self._fail("bad_frame", str(exc))
            self._next_target()
            return
        except ModbusUnavailableError as exc:
            self._fail("connection", str(exc))
            self.connection.close()
            self._next_target()
            return
        except RegisterMapError as exc:
            self._fail("decode", str(exc))
            self._next_target()
            return
        else:
            elapsed = time.perf_counter() - self.began
            poller._observe_request(elapsed)
            poller._latency_ewma = 0.9 * poller._latency_ewma + 0.1 * elapsed
            poller._fresh = False
            self.answered += 1
            self._target_answered = True
            if self._sent_before:  # not the pass's first request
                gap = self._sent_at - self._sent_before
                least = self.least_answered_gap_s
                self.least_answered_gap_s = gap if least is None else min(least, gap)
        self.index += 1
        if not self._next_block():
            self._next_target()

    def _after_rtu_guard(self) -> None:
        self.connection.flush()
        self._next_target()

    def _finish(self) -> None:
        """Every block of the current inverter was read (or skipped): store it."""
        poller, target = self.poller, self.target
        assert target is not None
        if not self.decoded:
            self._fail("exception", "every block answered exception 2 (unsupported)")
            return
        if self.identify:
            target.identity = {k: self.decoded.get(k) for k in ("manufacturer", "model", "serial")}
            target.identified_at = poller.schedule_s()
        poller._store(target, self.decoded)

    def _fail(self, kind: str, error: str) -> None:
        assert self.target is not None
        self.poller._failed(self.target, self.poller.device_now(), kind, error)
