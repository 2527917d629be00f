"""A simulated fleet from a fleet file: what each simulated inverter says it is."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pvmon.registry.models import FleetFile, InverterRecord, StationRecord
from simulators.device import SIMULATOR_MANUFACTURER
from simulators.fleet import device_specs


def _fleet(vendor: str) -> FleetFile:
    inverter = InverterRecord(
        serial="INV-V001-1",
        vendor=vendor,
        model="SS-50K-3P",
        rated_ac_w=50_000,
        phases=3,
        host="127.0.0.1",
        port=15020,
        unit_id=1,
        register_map="sunspec",
    )
    station = StationRecord(
        code="V001",
        name="Village station",
        kind="village",
        capacity_kwp=Decimal("62.4"),
        village="V001",
        latitude=41.2,
        longitude=119.4,
        inverters=[inverter],
    )
    return FleetFile(stations=[station])


@pytest.mark.parametrize(
    ("vendor", "manufacturer"),
    [
        ("SunSpec", SIMULATOR_MANUFACTURER),  # the generator's protocol name, not a maker
        ("sunspec", SIMULATOR_MANUFACTURER),
        ("SUNSPEC", SIMULATOR_MANUFACTURER),
        ("Huawei", "Huawei"),
        ("Fronius", "Fronius"),
        ("SunSpec Alliance member", "SunSpec Alliance member"),  # only the bare name
    ],
)
def test_the_manufacturer_is_the_maker_never_the_protocol(vendor: str, manufacturer: str) -> None:
    (spec,) = device_specs(_fleet(vendor))
    assert spec.manufacturer == manufacturer
    assert (spec.model, spec.unit_id) == ("SS-50K-3P", 1)
