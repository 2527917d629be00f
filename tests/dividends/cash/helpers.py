"""Helpers for cash tests: settlement statements and village stations with many slots."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dividends.schemes import enrol
from tests.dividends.conftest import World


def statement(path: Path, energy_kwh: dict[str, dict[str, int]], *, price: str = "0.40") -> Path:
    """A monthly settlement CSV: ``{station: {"2025-H1": kWh, ...}}`` spread over the months
    of each period (the last month takes the remainder); amount = kWh x price."""
    cents = int(price.replace(".", "").lstrip("0") or "0") * 10 ** (4 - len(price.split(".")[1]))
    rows = ["station,period,energy_kwh,price,amount"]
    for code, periods in energy_kwh.items():
        for label, kwh in periods.items():
            year = int(label[:4])
            months = {"H1": range(1, 7), "H2": range(7, 13)}.get(label[5:], range(1, 13))
            each = kwh // len(months)
            for i, m in enumerate(months):
                part = kwh - each * (len(months) - 1) if i == len(months) - 1 else each
                fen = part * cents // 100
                rows.append(f"{code},{year}-{m:02d},{part},{price},{fen // 100}.{fen % 100:02d}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def village_station(
    world: World, code: str, village: int, *, slots: int, scheme: str = "village_slot"
) -> tuple[int, list[int]]:
    """A village station with ``slots`` enrolled households; returns (station, households)."""
    station = world.station(code, "village", village)
    households = []
    for i in range(slots):
        hh = world.household(village, served_by=station)
        slot = world.slot(station, slot_no=i + 1)
        enrol(world.conn, slot_id=slot, scheme=scheme, household_id=hh, starts_on=date(2017, 1, 1))
        households.append(hh)
    return station, households
