"""A simulated inverter's values and register image: what a client notices beyond power."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from simulators.device import DeviceSpec, SimulatedInverter
from simulators.faults import Fault
from tests.sites import household_site

LOCAL_MIDNIGHT = datetime(2025, 5, 31, 16, 0, tzinfo=UTC)  # 2025-06-01 00:00 CST
SITE = household_site()


def _device(
    *, map_name: str = "sunspec", unit_id: int = 1, faults: tuple[Fault, ...] = ()
) -> SimulatedInverter:
    spec = DeviceSpec(
        serial=f"INV-{unit_id}",
        site=SITE,
        register_map=map_name,
        phases=1,
        host="127.0.0.1",
        port=0,
        unit_id=unit_id,
    )
    return SimulatedInverter(spec, seed=7, start=LOCAL_MIDNIGHT, faults=faults)


def _u32(image: dict[int, int], address: int) -> int:
    return (image[address] << 16) | image[address + 1]


@pytest.mark.parametrize(
    ("hours_after_midnight", "since_hours"),
    [
        (0.0, 0.0),  # the day has just begun: nothing yet
        (6.5, 0.0),
        (12.0, 0.0),
        (23.99, 0.0),
        (24.0, 24.0),  # the next local day starts from 0 again
        (36.0, 24.0),
    ],
)
def test_the_daily_yield_is_the_energy_of_the_local_day_so_far(
    hours_after_midnight: float, since_hours: float
) -> None:
    device = _device()
    at = LOCAL_MIDNIGHT + timedelta(hours=hours_after_midnight)
    day_start = LOCAL_MIDNIGHT + timedelta(hours=since_hours)
    expected = int(device.true_energy_between_wh(day_start, at))
    assert device.daily_yield_wh(at) == expected
    assert device.values_at(at)["daily_energy_wh"] == expected


def test_the_daily_yield_ends_at_the_day_total_and_excludes_an_outage() -> None:
    noon = LOCAL_MIDNIGHT + timedelta(hours=12)
    outage = Fault("grid_outage", noon, noon + timedelta(hours=2))
    clean, cut = _device(), _device(faults=(outage,))
    end_of_day = LOCAL_MIDNIGHT + timedelta(hours=23, minutes=59, seconds=59)
    total = clean.true_daily_energy_wh(date(2025, 6, 1))
    assert total > 2_000  # a June day of a 4.32 kWp station, cloudy or not
    assert clean.daily_yield_wh(end_of_day) == pytest.approx(total, abs=1)
    lost = clean.true_energy_between_wh(noon, noon + timedelta(hours=2))
    assert lost > 100
    assert cut.daily_yield_wh(end_of_day) == pytest.approx(total - lost, abs=1)


@pytest.mark.parametrize("hours_after_midnight", [0.0, 9.0, 15.5, 23.5])
def test_a_huawei_image_holds_the_daily_yield_at_32114(hours_after_midnight: float) -> None:
    device = _device(map_name="huawei_sun2000")
    at = LOCAL_MIDNIGHT + timedelta(hours=hours_after_midnight)
    image = device.image_at(at)
    assert _u32(image, 32114) == device.daily_yield_wh(at) // 10  # kWh x 100
    assert _u32(image, 32106) == device.counter_wh(at) // 10
    assert [image[a] for a in range(32108, 32114)] == [0] * 6


@pytest.mark.parametrize("unit_id", [0, 1, 2, 17, 247])
def test_a_sunspec_image_holds_the_unit_id_as_device_address(unit_id: int) -> None:
    device = _device(unit_id=unit_id)
    at = LOCAL_MIDNIGHT + timedelta(hours=12)
    assert device.values_at(at)["unit_id"] == unit_id
    assert device.image_at(at)[40068] == unit_id  # model 1 DA


def test_the_manufacturer_defaults_to_the_simulator() -> None:
    device = _device()
    image = device.image_at(LOCAL_MIDNIGHT)
    mn = b"".join(image[a].to_bytes(2, "big") for a in range(40004, 40020))
    assert mn.rstrip(b"\0") == b"pvmon-sim"
