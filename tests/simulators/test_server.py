"""Simulated inverters on the wire: what a Modbus client sees, fault by fault."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from pvmon.registermaps import get_map
from simulators.clock import SimClock
from simulators.device import DeviceSpec, SimulatedInverter
from simulators.faults import Fault
from simulators.server import Endpoint, EndpointServer, FleetServer
from tests.sites import household_site

NOON = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 China Standard Time
SITE = household_site()


def _device(
    serial: str = "INV1",
    *,
    map_name: str = "sunspec",
    phases: int = 1,
    faults: Sequence[Fault] = (),
    start: datetime = NOON,
    unit_id: int = 1,
) -> SimulatedInverter:
    spec = DeviceSpec(
        serial=serial,
        site=SITE,
        register_map=map_name,
        phases=phases,
        host="127.0.0.1",
        port=0,
        unit_id=unit_id,
    )
    return SimulatedInverter(spec, seed=7, start=start, faults=faults)


async def _serve(
    devices: dict[int, SimulatedInverter], *, framing: str = "tcp", clock: SimClock | None = None
) -> EndpointServer:
    server = EndpointServer(
        Endpoint("127.0.0.1", 0, framing, devices), clock=clock or SimClock(start=NOON, speed=1.0)
    )
    await server.start()
    return server


@pytest.fixture
async def client_for() -> AsyncIterator:  # type: ignore[type-arg]
    clients: list[AsyncModbusTcpClient] = []

    async def make(server: EndpointServer, *, timeout: float = 2.0) -> AsyncModbusTcpClient:
        framer = FramerType.RTU if server.endpoint.framing == "rtu-over-tcp" else FramerType.SOCKET
        client = AsyncModbusTcpClient(
            "127.0.0.1",
            port=server.endpoint.port,
            framer=framer,
            timeout=timeout,
            retries=0,
            reconnect_delay=0,
        )
        assert await client.connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


async def _read_all(
    client: AsyncModbusTcpClient, device: SimulatedInverter, unit: int = 1
) -> dict[str, object]:
    values: dict[str, object] = {}
    for block in device.register_map.blocks:
        response = await client.read_holding_registers(
            block.start, count=block.count, device_id=unit
        )
        assert not response.isError(), response
        values.update(device.register_map.decode_block(block, response.registers))
    return values


@pytest.mark.parametrize(
    ("map_name", "phases", "framing"),
    [
        ("sunspec", 1, "tcp"),
        ("sunspec", 3, "tcp"),
        ("huawei_sun2000", 1, "tcp"),
        ("sunspec", 3, "rtu-over-tcp"),
        ("huawei_sun2000", 3, "rtu-over-tcp"),
    ],
)
async def test_a_client_reads_what_the_device_produces(
    client_for, map_name: str, phases: int, framing: str
) -> None:
    device = _device(map_name=map_name, phases=phases)
    server = await _serve({1: device}, framing=framing)
    try:
        values = await _read_all(await client_for(server), device)
        truth = device.values_at(NOON)
        assert values["ac_power_w"] == pytest.approx(truth["ac_power_w"], abs=1.0)
        assert values["ac_power_w"] > 0  # a June noon (cloudy or not)
        assert abs(int(values["energy_wh"]) - int(truth["energy_wh"])) <= 10  # type: ignore[call-overload]
        assert values["state"] == 4
        assert values["serial"] == "INV1"
    finally:
        await server.stop()


async def test_many_units_behind_one_logger_and_a_missing_unit(client_for) -> None:
    devices = {unit: _device(f"INV{unit}") for unit in range(1, 6)}
    server = await _serve(devices)
    try:
        client = await client_for(server)
        for unit, device in devices.items():
            assert (await _read_all(client, device, unit))["serial"] == f"INV{unit}"
        block = devices[1].register_map.blocks[0]
        response = await client.read_holding_registers(block.start, count=block.count, device_id=9)
        assert response.isError() and response.exception_code == 11  # gateway: no target
    finally:
        await server.stop()


async def test_a_read_outside_the_map_answers_exception_2(client_for) -> None:
    server = await _serve({1: _device()})
    try:
        response = await (await client_for(server)).read_holding_registers(
            100, count=4, device_id=1
        )
        assert response.isError() and response.exception_code == 2
    finally:
        await server.stop()


async def test_fault_exception_response(client_for) -> None:
    server = await _serve({1: _device(faults=[Fault("exception", params={"code": 4})])})
    try:
        response = await (await client_for(server)).read_holding_registers(
            40000, count=2, device_id=1
        )
        assert response.isError() and response.exception_code == 4
    finally:
        await server.stop()


async def test_fault_silent_times_out_but_keeps_the_connection(client_for) -> None:
    server = await _serve({1: _device(faults=[Fault("silent")]), 2: _device("INV2")})
    try:
        client = await client_for(server, timeout=0.5)
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(40000, count=2, device_id=1)
        assert server.stats.connections == 1
    finally:
        await server.stop()


async def test_fault_slow_answers_late(client_for) -> None:
    server = await _serve({1: _device(faults=[Fault("slow", params={"delay_s": 0.4})])})
    try:
        client = await client_for(server)
        began = time.perf_counter()
        response = await client.read_holding_registers(40000, count=2, device_id=1)
        assert not response.isError()
        assert time.perf_counter() - began >= 0.39
    finally:
        await server.stop()


async def test_fault_unreachable_refuses_connections() -> None:
    clock = SimClock(start=NOON)
    device = _device(faults=[Fault("unreachable", NOON, NOON + timedelta(hours=1))])
    fleet = FleetServer([Endpoint("127.0.0.1", 0, "tcp", {1: device})], clock=clock)
    await fleet.start()
    try:
        server = fleet.servers[0]
        assert not server.listening
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.endpoint.port or 1)
    finally:
        await fleet.stop()


async def test_fault_sentinel_reads_as_none(client_for) -> None:
    device = _device(faults=[Fault("sentinel", params={"points": ("temperature_c", "dc_power_w")})])
    server = await _serve({1: device})
    try:
        values = await _read_all(await client_for(server), device)
        assert values["temperature_c"] is None and values["dc_power_w"] is None
        assert values["ac_power_w"] is not None
    finally:
        await server.stop()


async def test_fault_out_of_range_shows_garbage(client_for) -> None:
    device = _device(faults=[Fault("out_of_range")])
    server = await _serve({1: device})
    try:
        values = await _read_all(await client_for(server), device)
        assert values["ac_power_w"] > 100 * SITE.rated_ac_w  # type: ignore[operator]
        assert values["energy_wh"] > 4_000_000_000  # type: ignore[operator]
    finally:
        await server.stop()


async def test_fault_stuck_freezes_values_while_energy_is_still_produced(client_for) -> None:
    clock = SimClock(start=NOON, speed=600.0)  # ten simulated minutes per wall second
    device = _device(faults=[Fault("stuck", NOON, NOON + timedelta(days=1))])
    server = await _serve({1: device}, clock=clock)
    try:
        client = await client_for(server)
        first = await _read_all(client, device)
        await asyncio.sleep(0.3)
        second = await _read_all(client, device)
        assert first == second
        assert device.counter_wh(clock.now()) > int(first["energy_wh"])  # type: ignore[call-overload]
    finally:
        await server.stop()


def test_fault_grid_outage_zero_output_fault_state_and_true_energy() -> None:
    outage = Fault("grid_outage", NOON, NOON + timedelta(hours=2), {"event_code": 0x40})
    device = _device(faults=[outage], start=NOON - timedelta(hours=6))
    clean = _device(start=NOON - timedelta(hours=6))
    values = device.values_at(NOON + timedelta(minutes=30))
    assert values["ac_power_w"] == 0 and values["state"] == 7 and values["event_code"] == 0x40
    day = date(2025, 6, 1)
    lost = clean.true_energy_between_wh(NOON, NOON + timedelta(hours=2))
    assert lost > 500
    assert device.true_daily_energy_wh(day) == pytest.approx(clean.true_daily_energy_wh(day) - lost)


def test_fault_replaced_restarts_the_counter() -> None:
    start = NOON - timedelta(hours=3)
    device = _device(faults=[Fault("replaced", NOON, None)], start=start)
    before = device.counter_wh(NOON - timedelta(minutes=1))
    after = device.counter_wh(NOON + timedelta(hours=1))
    assert before > 1_000_000
    assert after == int(device.true_energy_between_wh(NOON, NOON + timedelta(hours=1)))


def test_night_standby() -> None:
    midnight = datetime(2025, 6, 1, 16, 0, tzinfo=UTC)
    values = _device(start=midnight).values_at(midnight)
    assert values["ac_power_w"] == 0 and values["state"] == 2


def test_counter_is_the_exact_integral_of_power() -> None:
    start = datetime(2025, 5, 31, 16, 0, tzinfo=UTC)  # local midnight
    device = _device(start=start)
    first = device.counter_wh(start)
    readings = [device.counter_wh(start + timedelta(minutes=m)) for m in range(1, 1441)]
    assert readings == sorted(readings)
    assert readings[-1] - first == pytest.approx(
        device.true_daily_energy_wh(date(2025, 6, 1)), abs=1
    )


async def test_device_clock_register_in_accelerated_mode(client_for) -> None:
    clock = SimClock(start=NOON, speed=3600.0)
    device = _device()
    server = await _serve({1: device}, clock=clock)
    try:
        client = await client_for(server)
        clock_block = get_map("sunspec", phases=1).clock_block
        assert clock_block is not None
        response = await client.read_holding_registers(
            clock_block.start, count=clock_block.count, device_id=1
        )
        seen = device.register_map.decode_block(clock_block, response.registers)
        assert abs(float(seen["device_time"]) - clock.now().timestamp()) < 3600  # type: ignore[arg-type]
        assert float(seen["device_time"]) > NOON.timestamp()  # type: ignore[arg-type]
    finally:
        await server.stop()


# -- what a SunSpec or SUN2000 client notices beyond pvmon's own blocks -----------------


@pytest.mark.parametrize(
    ("start", "count", "exception_code"),
    [
        (32106, 10, None),  # accumulated and daily yield in one request, as clients read
        (32114, 2, None),  # the daily yield alone
        (32108, 6, None),  # undocumented between the two: 0
        (32064, 52, None),  # pvmon's measurement block through the daily yield
        (32106, 11, 2),  # 32116 is not served
        (32116, 2, 2),
    ],
)
@pytest.mark.parametrize("phases", [1, 3])
async def test_a_sun2000_answers_the_yields_block_as_the_real_one(
    client_for, phases: int, start: int, count: int, exception_code: int | None
) -> None:
    device = _device(map_name="huawei_sun2000", phases=phases)
    server = await _serve({1: device}, clock=SimClock(start=NOON, stepped=True))
    try:
        response = await (await client_for(server)).read_holding_registers(
            start, count=count, device_id=1
        )
        if exception_code is not None:
            assert response.isError() and response.exception_code == exception_code
            return
        assert not response.isError(), response
        registers = dict(zip(range(start, start + count), response.registers, strict=True))
        expected = {
            32106: device.counter_wh(NOON) // 10,  # kWh x 100
            32114: device.daily_yield_wh(NOON) // 10,
        }
        for address, value in expected.items():
            if address in registers:
                assert (registers[address] << 16) | registers[address + 1] == value
        assert all(registers[a] == 0 for a in range(32108, 32114) if a in registers)
        if 32114 in registers:
            assert expected[32114] > 0  # a June noon has produced something, cloudy or not
    finally:
        await server.stop()


async def test_every_sunspec_unit_reports_its_unit_id_as_device_address(client_for) -> None:
    devices = {unit: _device(f"INV{unit}", unit_id=unit) for unit in (1, 2, 17, 247)}
    server = await _serve(devices)
    try:
        client = await client_for(server)
        for unit in devices:
            # model 1 from its header to DA and the pad: 40002 + 2 + 66
            response = await client.read_holding_registers(40002, count=68, device_id=unit)
            assert not response.isError(), response
            header, body = response.registers[:2], response.registers[2:]
            assert header == [1, 66]
            manufacturer = b"".join(w.to_bytes(2, "big") for w in body[0:16]).rstrip(b"\0")
            assert manufacturer == b"pvmon-sim"
            assert body[64] == unit  # DA
    finally:
        await server.stop()
