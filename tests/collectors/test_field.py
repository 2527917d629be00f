"""Field behaviours (../shared/FIELD-NOTES.md), one test each: the simulated device shows
it on the wire, and the collector's outcome is right (what is stored, the state, the
alarm, the log volume, the number of connects).

Real Modbus TCP on loopback: a simulated logger (simulators.server) and the collector's
own endpoint poller; readings are captured from the poller's writer queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest

from collectors.health import HealthTracker, InverterInfo
from collectors.metrics import CollectorMetrics
from collectors.modbus import open_connection
from collectors.poller import EndpointOptions, EndpointPoller, Target
from pvmon.db.readings import READING_COLUMNS
from pvmon.quality import Quality
from pvmon.registermaps import get_map
from simulators.behaviour import DeviceBehaviour, LoggerBehaviour
from simulators.clock import SimClock
from simulators.device import DeviceSpec, SimulatedInverter
from simulators.server import Endpoint, EndpointServer, FleetServer
from tests.sites import household_site

NOON = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in China
SITE = household_site(commissioned_on=date(2018, 1, 1))
ENERGY = READING_COLUMNS.index("energy_wh")
QUALITY = READING_COLUMNS.index("quality")
POWER = READING_COLUMNS.index("ac_power_w")


class _Sink:
    """Stands in for the database writer: keeps the rows the poller queues."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add_one(self, row: Sequence[object]) -> None:
        self.rows.append(tuple(row))


@dataclass
class Rig:
    server: EndpointServer
    poller: EndpointPoller
    sink: _Sink
    health: HealthTracker
    devices: dict[int, SimulatedInverter]
    clock: SimClock
    extra: dict[str, Any] = field(default_factory=dict)

    async def cycles(self, count: int, *, gap_s: float = 0.0) -> None:
        for _ in range(count):
            await self.poller.poll()
            if gap_s:
                await asyncio.sleep(gap_s)

    async def close(self) -> None:
        await self.poller.close()
        await self.server.stop()


async def _rig(
    *,
    units: int = 1,
    map_name: str = "sunspec",
    framing: str = "tcp",
    logger: LoggerBehaviour | None = None,
    behaviours: dict[int, DeviceBehaviour] | None = None,
    options: EndpointOptions | None = None,
    start: datetime = NOON,
    speed: float = 1.0,
    faults: dict[int, list[Any]] | None = None,
    daylight: bool = True,
) -> Rig:
    clock = SimClock(start=start, speed=speed)
    devices = {
        unit: SimulatedInverter(
            DeviceSpec(
                serial=f"INV{unit}",
                site=SITE,
                register_map=map_name,
                phases=1,
                host="127.0.0.1",
                port=0,
                unit_id=unit,
                framing=framing,
            ),
            seed=9,
            start=start,
            faults=(faults or {}).get(unit, ()),
            behaviour=(behaviours or {}).get(unit),
        )
        for unit in range(1, units + 1)
    }
    server = EndpointServer(
        Endpoint("127.0.0.1", 0, framing, devices, logger or LoggerBehaviour()), clock=clock
    )
    await server.start()
    targets = [
        Target(
            unit,
            f"INV{unit}",
            1,
            1,
            unit,
            4000.0,
            get_map(map_name, phases=1),
            SITE.latitude,
            SITE.longitude,
        )
        for unit in devices
    ]
    health = HealthTracker([InverterInfo(unit, 1, 1, 4000.0) for unit in devices])
    sink = _Sink()
    poller = EndpointPoller(
        host="127.0.0.1",
        port=server.endpoint.port,
        framing=framing,
        targets=targets,
        writer=sink,  # type: ignore[arg-type]
        health=health,
        metrics=CollectorMetrics(),
        daylight=lambda target, at: daylight,
        speed=speed,
        options=options or EndpointOptions(timeout_s=0.5),
    )
    return Rig(server, poller, sink, health, devices, clock)


def _stored(rig: Rig, unit: int = 1) -> list[tuple[Any, ...]]:
    return [r for r in rig.sink.rows if r[1] == unit]


# -- 1: one client only ---------------------------------------------------------------


async def test_single_client_logger_drops_the_first_and_the_collector_keeps_one() -> None:
    rig = await _rig(logger=LoggerBehaviour(single_client=True))
    try:
        first = await open_connection(
            "127.0.0.1", rig.server.endpoint.port, framing="tcp", timeout=1
        )
        second = await open_connection(
            "127.0.0.1", rig.server.endpoint.port, framing="tcp", timeout=1
        )
        await asyncio.wait_for(first.lost.wait(), 2)  # the device dropped the first client
        assert second.connected
        second.close()
        await rig.cycles(20)
        assert rig.poller.connects == 1 and len(_stored(rig)) == 20
    finally:
        await rig.close()


# -- 2: deaf right after connect ------------------------------------------------------


async def test_deaf_after_connect_is_learned_as_a_connect_delay() -> None:
    rig = await _rig(
        logger=LoggerBehaviour(deaf_after_connect_s=0.4, idle_drop_s=1.0),
        options=EndpointOptions(timeout_s=0.3),
    )
    try:
        await rig.cycles(1)  # the first request is ignored: timeout
        assert rig.server.stats.ignored >= 1 and not _stored(rig)
        for _ in range(4):  # every cycle a fresh connection (the NAT drops idle ones)
            await asyncio.sleep(1.3)
            await rig.cycles(1)
        assert rig.poller._connect_delay >= 0.5
        assert len(_stored(rig)) >= 3  # after learning, every fresh connection answers
    finally:
        await rig.close()


# -- 3: idle connection dropped by NAT --------------------------------------------------


async def test_idle_drop_costs_one_reconnect_per_idle_period_and_no_reading() -> None:
    rig = await _rig(logger=LoggerBehaviour(idle_drop_s=0.2))
    try:
        for _ in range(3):
            await rig.cycles(1)
            await asyncio.sleep(0.5)  # longer than the logger keeps an idle connection
        assert rig.server.stats.dropped >= 2
        assert rig.poller.connects == 3
        assert len(_stored(rig)) == 3
    finally:
        await rig.close()


# -- 4: cellular latency and late replies ------------------------------------------------


async def test_late_replies_are_discarded_not_taken_for_the_next_answer() -> None:
    rig = await _rig(
        units=3,
        map_name="huawei_sun2000",
        # cellular round trips at a quarter of their field length (0.075-0.6 s mostly)
        logger=LoggerBehaviour(cellular_latency=True, latency_scale=0.25, seed=4),
        options=EndpointOptions(timeout_s=0.15, max_timeout_s=0.15),
    )
    try:
        await rig.cycles(6)
        connection = rig.poller._connection
        assert connection is not None
        assert connection.stats.timeouts > 0 and connection.stats.stale_frames > 0
        truth_now = rig.clock.now()
        for unit in rig.devices:
            for row in _stored(rig, unit):
                # every stored counter belongs to this unit: never another unit's value
                true_counter = rig.devices[unit].counter_wh(truth_now)
                assert row[ENERGY] is None or abs(row[ENERGY] - true_counter) < 2000
        assert rig.poller.timeout_s <= 0.15
    finally:
        await rig.close()


async def test_timeout_adapts_to_observed_latency() -> None:
    rig = await _rig(logger=LoggerBehaviour(), options=EndpointOptions(timeout_s=0.2))
    rig.server.latency_s = 0.1
    try:
        await rig.cycles(30)
        assert rig.poller.timeout_s > 0.3  # about 4x the observed 0.1 s
        assert len(_stored(rig)) == 30
    finally:
        await rig.close()


# -- 5: transaction id 0 ---------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, True, False])
async def test_a_tid_zero_logger_is_learned_unless_the_fleet_file_says_otherwise(
    accept: bool | None,
) -> None:
    """Not said: replies with transaction id 0 that match the request's unit, function and
    length are taken, and the setting shows as learned; said, the fleet file wins."""
    rig = await _rig(
        logger=LoggerBehaviour(tid_zero=True),
        options=EndpointOptions(timeout_s=0.3, accept_tid_zero=accept),
    )
    try:
        await rig.cycles(3)
        assert len(_stored(rig)) == (0 if accept is False else 3)
        learned = generate_latest(rig.poller.metrics.registry).decode()
        shown = (
            f'pvmon_learned_setting{{endpoint="{rig.poller.name}",setting="accept_tid_zero"}} 1.0'
        )
        assert (shown in learned) == (accept is None)
        assert ("accept_tid_zero" in rig.poller.learned) == (accept is None)
    finally:
        await rig.close()


# -- 6: stray bytes and bad CRCs on RTU over TCP -------------------------------------------------


async def test_garbled_rtu_frames_are_rejected_and_the_parser_resynchronises() -> None:
    rig = await _rig(
        units=2,
        framing="rtu-over-tcp",
        logger=LoggerBehaviour(garble_rate=0.3, seed=7),
        options=EndpointOptions(timeout_s=0.3, rtu_guard_s=0.05),
    )
    try:
        await rig.cycles(20)
        connection = rig.poller._connection
        assert connection is not None and connection.stats.bad_frames > 0
        stored = _stored(rig, 1) + _stored(rig, 2)
        assert len(stored) > 15  # most polls still succeed after a bad frame
        for row in stored:
            assert row[POWER] is None or 0 <= row[POWER] <= 4000
    finally:
        await rig.close()


# -- 7: night: the logger is off from dusk to dawn ---------------------------------------------


async def test_night_offline_logger_is_sleeping_quiet_and_polled_seldom(
    caplog: pytest.LogCaptureFixture,
) -> None:
    midnight = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)  # 00:00 in China
    clock = SimClock(start=midnight, speed=60.0)
    device = SimulatedInverter(
        DeviceSpec(
            serial="N1",
            site=SITE,
            register_map="sunspec",
            phases=1,
            host="127.0.0.1",
            port=0,
            unit_id=1,
        ),
        seed=9,
        start=midnight,
    )
    fleet = FleetServer(
        [Endpoint("127.0.0.1", 0, "tcp", {1: device}, LoggerBehaviour(night_offline=True))],
        clock=clock,
    )
    await fleet.start()
    server = fleet.servers[0]
    assert not server.listening  # the logger is off at night
    port = server.endpoint.port or 1
    health = HealthTracker([InverterInfo(1, 1, 1, 4000.0)])
    poller = EndpointPoller(
        host="127.0.0.1",
        port=port,
        framing="tcp",
        targets=[Target(1, "N1", 1, 1, 1, 4000.0, get_map("sunspec", phases=1), 41.2, 119.4)],
        writer=_Sink(),
        health=health,
        metrics=CollectorMetrics(),  # type: ignore[arg-type]
        daylight=lambda target, at: False,
        speed=60.0,
        options=EndpointOptions(timeout_s=0.2, backoff_base_s=0.05, night_interval_s=600),
    )
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(40):
                await poller.poll()
                await asyncio.sleep(0.05)
        assert health.states[1].state == "sleeping"
        assert health.drain_events() == []  # no offline alarm at night
        assert poller.connects <= 3  # polled seldom once asleep
        assert len([r for r in caplog.records if r.name == "collectors.poller"]) <= 2
    finally:
        await poller.close()
        await fleet.stop()


async def test_started_at_night_soon_after_the_host_booted_it_polls_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # time.monotonic() counts from the host's boot: a collector started 60 s after it, at
    # night, once skipped its first poll (the night interval seemed not to have passed)
    real_monotonic = time.monotonic
    began = real_monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() - began + 60.0)
    midnight = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)  # 00:00 in China
    clock = SimClock(start=midnight, speed=1.0)
    device = SimulatedInverter(
        DeviceSpec(serial="N2", site=SITE, register_map="sunspec", phases=1,
                   host="127.0.0.1", port=0, unit_id=1),
        seed=9,
        start=midnight,
    )  # fmt: skip
    fleet = FleetServer([Endpoint("127.0.0.1", 0, "tcp", {1: device})], clock=clock)
    await fleet.start()
    health = HealthTracker([InverterInfo(1, 1, 1, 4000.0)])
    poller = EndpointPoller(
        host="127.0.0.1",
        port=fleet.servers[0].endpoint.port or 1,
        framing="tcp",
        targets=[Target(1, "N2", 1, 1, 1, 4000.0, get_map("sunspec", phases=1), 41.2, 119.4)],
        writer=_Sink(),
        health=health,
        metrics=CollectorMetrics(),  # type: ignore[arg-type]
        daylight=lambda target, at: False,
        options=EndpointOptions(timeout_s=2.0, night_interval_s=900),
    )
    try:
        await poller.poll()
        assert poller.connects == 1 and health.states[1].last_poll_at is not None
        await poller.poll()  # asleep now: the next poll waits for the night interval
        assert poller.connects == 1
    finally:
        await poller.close()
        await fleet.stop()


# -- 8: the lifetime counter reads 0 at dawn ---------------------------------------------------


@pytest.mark.parametrize("map_name", ["sunspec", "huawei_sun2000"])
async def test_dawn_zero_counter_is_rejected_not_a_reset(map_name: str) -> None:
    night = datetime(2025, 5, 31, 20, 0, tzinfo=UTC)  # 04:00 in China, before sunrise
    rig = await _rig(
        map_name=map_name,
        start=night,
        speed=3600.0,
        behaviours={1: DeviceBehaviour(dawn_zero_minutes=30)},
    )
    try:
        await rig.cycles(80, gap_s=0.02)  # until past 05:30
        rows = _stored(rig)
        counters = [r[ENERGY] for r in rows if r[ENERGY] is not None]
        assert counters == sorted(counters) and min(counters) > 1_000_000
        assert not any(r[QUALITY] & Quality.COUNTER_RESET for r in rows)
        zeroed = [r for r in rows if r[ENERGY] is None]
        assert zeroed  # the dawn zero was seen, and stored as NULL
        if map_name == "huawei_sun2000":  # 0 is a value there: a dip, with its raw value
            assert all(r[QUALITY] & Quality.COUNTER_DIP for r in zeroed)
    finally:
        await rig.close()


# -- 9: a scale factor that changes with power -------------------------------------------------


async def test_changing_scale_factor_is_read_with_its_value() -> None:
    rig = await _rig(start=datetime(2025, 5, 31, 22, 30, tzinfo=UTC), speed=1800.0)
    try:
        await rig.cycles(40, gap_s=0.03)
        m = rig.devices[1].register_map
        w_sf = m.point("W_SF").address
        image_low = m.encode({"ac_power_w": 25.37})
        image_high = m.encode({"ac_power_w": 3999.0})
        assert image_low[w_sf] != image_high[w_sf]  # the device changes W_SF with power
        powers = [r[POWER] for r in _stored(rig) if r[POWER]]
        assert powers and max(powers) <= 4000  # never a value scaled by a stale factor
    finally:
        await rig.close()


# -- 10: a vendor map with the counter's low word first ----------------------------------------


async def test_low_word_first_counter_decodes_right() -> None:
    rig = await _rig(map_name="huawei_sun2000_lw")
    try:
        await rig.cycles(2)
        truth = rig.devices[1].counter_wh(rig.clock.now())
        stored = _stored(rig)[-1][ENERGY]
        assert stored is not None and abs(stored - truth) <= 20
    finally:
        await rig.close()


# -- 11: unsupported blocks and a firmware update ----------------------------------------------


async def test_unsupported_block_is_cached_and_reprobed_after_firmware_change() -> None:
    identity = get_map("sunspec", phases=1).blocks[0]
    update = NOON + timedelta(seconds=5)
    behaviour = DeviceBehaviour(
        missing_blocks=(),
        firmware_update_at=update,
        missing_after_update=((identity.start + 4, 2),),
    )
    rig = await _rig(
        behaviours={1: behaviour}, speed=1.0, options=EndpointOptions(timeout_s=0.5, reprobe_s=0.3)
    )
    try:
        rig.poller.use_device_clock = False
        rig.devices[1].behaviour = DeviceBehaviour(missing_blocks=((identity.start + 4, 2),))
        rig.poller.forget_identities()
        await rig.cycles(3)
        target = rig.poller.targets[0]
        assert identity in target.unsupported  # exception 2, cached
        assert len(_stored(rig)) == 3  # the measurements are still read
        requests = rig.server.stats.requests
        await rig.cycles(1)
        assert rig.server.stats.requests == requests + 1  # the cached block is not asked
        rig.devices[1].behaviour = DeviceBehaviour()  # firmware update: the block is back
        await asyncio.sleep(0.35)
        rig.poller.forget_identities()
        await rig.cycles(1)
        assert identity not in target.unsupported
    finally:
        await rig.close()


# -- 12: one dead unit behind a logger that serves several -------------------------------------


async def test_a_dead_unit_does_not_cost_the_others_their_readings() -> None:
    from simulators.faults import Fault

    rig = await _rig(units=4, faults={2: [Fault("silent")]}, options=EndpointOptions(timeout_s=0.2))
    try:
        await rig.cycles(3)
        assert [len(_stored(rig, u)) for u in (1, 2, 3, 4)] == [3, 0, 3, 3]
        assert rig.poller.connects == 1
        assert rig.health.states[2].consecutive_failures == 3
        assert rig.health.states[1].consecutive_failures == 0
    finally:
        await rig.close()


# -- 13: a logger that locks up when polled too fast -------------------------------------------


@pytest.mark.parametrize(("gap", "answered"), [(0.0, False), (0.06, True)])
async def test_min_gap_keeps_a_touchy_logger_answering(gap: float, answered: bool) -> None:
    rig = await _rig(
        units=3,
        logger=LoggerBehaviour(min_gap_s=0.05, lockout_s=5.0),
        options=EndpointOptions(timeout_s=0.2, min_gap_s=gap),
    )
    try:
        await rig.cycles(3)
        complete = all(len(_stored(rig, u)) == 3 for u in (1, 2, 3))
        assert complete is answered
    finally:
        await rig.close()


# -- 14: device clocks that drift or jump ------------------------------------------------------


async def test_device_clock_offset_is_measured_and_readings_keep_the_collector_clock() -> None:
    start = datetime.now(UTC)
    behaviour = DeviceBehaviour(clock_jump_at=start - timedelta(seconds=1), clock_jump_s=3600.0)
    rig = await _rig(map_name="huawei_sun2000", behaviours={1: behaviour}, start=start)
    try:
        await rig.cycles(2)
        assert rig.poller.clock_offset_s == pytest.approx(3600.0, abs=5)
        row = _stored(rig)[-1]
        assert abs((row[0] - datetime.now(UTC)).total_seconds()) < 5  # collector's clock
        assert row[READING_COLUMNS.index("device_clock_offset_s")] == pytest.approx(3600.0, abs=5)
    finally:
        await rig.close()


@pytest.mark.parametrize("said", [False, True])
async def test_a_touchy_logger_is_learned_unless_the_fleet_file_says_otherwise(
    said: bool,
) -> None:
    """Not said: the collector finds a gap between requests that keeps a logger answering
    that locks up when polled back to back (each pass then stores every inverter), shows
    it in the metric and hands it on to be kept; said (0 in the fleet file), never."""
    given = {"min_gap_s": 0.0} if said else {}
    rig = await _rig(
        units=2,
        logger=LoggerBehaviour(min_gap_s=0.05, lockout_s=0.2),
        options=EndpointOptions.from_registry(given, timeout_s=0.1),
    )
    try:
        for _ in range(6 if said else 60):  # passes, not seconds: a learning step takes two
            stored = len(rig.sink.rows)
            await rig.cycles(1, gap_s=0.25)  # the logger's lock-up is on the wall clock
            if "min_gap_s" in rig.poller.learned and len(rig.sink.rows) - stored == 2:
                break  # learned, and a pass came through whole
        if said:
            assert "min_gap_s" not in rig.poller.learned and rig.poller.min_gap_s == 0.0
            assert rig.poller.drain_learned() == []
            return
        # what was seen to work, with a margin: near the logger's 0.05 s on a quick machine,
        # wider on a busy one where requests left later than asked
        assert 0 < rig.poller.min_gap_s <= rig.poller.options.max_min_gap_s
        before = len(rig.sink.rows)
        await rig.cycles(2, gap_s=0.25)  # within two poll intervals of being learned
        assert len(rig.sink.rows) - before == 4  # both inverters, both passes
        shown = generate_latest(rig.poller.metrics.registry).decode()
        assert f'endpoint="{rig.poller.name}",setting="min_gap_s"}} {rig.poller.min_gap_s}' in shown
        changes = rig.poller.drain_learned()
        assert changes and changes[-1][:2] == ("min_gap_s", rig.poller.min_gap_s)
    finally:
        await rig.close()


async def test_a_gap_learned_while_requests_left_late_becomes_the_gap_seen_answered() -> None:
    """On a busy machine a gap too short for the logger can seem to work, because each
    request leaves later than asked: the next clean pass sets the gap to a quarter more
    than the least one it saw answered, so the logger keeps answering when the machine is
    quick again."""
    rig = await _rig(
        units=2,
        logger=LoggerBehaviour(min_gap_s=0.05, lockout_s=0.2),
        options=EndpointOptions(timeout_s=0.5),
    )
    try:
        for _ in range(20):  # a first gap is learned from a request right after an answer
            await rig.cycles(1, gap_s=0.25)
            if "min_gap_s" in rig.poller.learned:
                break
        assert "min_gap_s" in rig.poller.learned
        rig.server.latency_s = 0.07  # a slow moment: no request leaves within 0.07 s
        for _ in range(20):
            stored = len(rig.sink.rows)
            await rig.cycles(1, gap_s=0.25)
            if len(rig.sink.rows) - stored == 2:
                break  # a clean pass
        assert rig.poller.min_gap_s >= 0.05, rig.poller.min_gap_s
        rig.server.latency_s = 0.0  # quick again: the gap now comes from the poller
        before = len(rig.sink.rows)
        await rig.cycles(2, gap_s=0.25)
        assert len(rig.sink.rows) - before == 4
    finally:
        await rig.close()


async def test_a_learned_gap_is_used_from_the_first_pass_after_a_restart() -> None:
    rig = await _rig(
        units=2,
        logger=LoggerBehaviour(min_gap_s=0.05, lockout_s=5.0),
        options=EndpointOptions(timeout_s=0.1),
    )
    try:
        restarted = EndpointPoller(
            host=rig.poller.host,
            port=rig.poller.port,
            framing="tcp",
            targets=rig.poller.targets,
            writer=rig.sink,  # type: ignore[arg-type]
            health=rig.health,
            metrics=CollectorMetrics(),
            daylight=lambda target, at: True,
            options=EndpointOptions(timeout_s=0.1),
            learned={"min_gap_s": (0.08, "kept from the last run")},
        )
        rig.poller = restarted
        await rig.cycles(3)
        assert len(rig.sink.rows) == 6 and restarted.learned == {
            "min_gap_s": "kept from the last run"
        }
        assert restarted.drain_learned() == []  # nothing new to keep
    finally:
        await rig.close()


async def test_a_gap_that_does_not_help_is_dropped_again() -> None:
    """A logger that needs more than the widest gap allowed (or whose inverter's second
    block never answers: the same on the wire) keeps failing after the gap reached its
    ceiling: the gap is dropped and the setting forgotten."""
    rig = await _rig(
        units=1,
        logger=LoggerBehaviour(min_gap_s=0.4, lockout_s=0.0),
        options=EndpointOptions(timeout_s=0.05, max_min_gap_s=0.02),
    )
    try:
        for _ in range(20):
            await rig.cycles(1, gap_s=0.45)  # its first request is always answered
            if rig.poller._gap_given_up:
                break
        assert rig.poller.min_gap_s == 0.0 and "min_gap_s" not in rig.poller.learned
        changes = rig.poller.drain_learned()
        assert [c[0] for c in changes] == ["min_gap_s"] * len(changes)
        assert changes[-1] == ("min_gap_s", None, "a wider gap did not help")
    finally:
        await rig.close()
