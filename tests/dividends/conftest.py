"""A small hand-built registry for dividend tests: one county, four villages, stations of
each kind; prices of 0.40 (benchmark) and 1.00 yuan/kWh (tariff), so 1 kWh = 100 fen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from dividends.periods import parse_period
from dividends.revenue import feed_energy
from dividends.schemes import (
    STANDARD_SCHEMES,
    define_scheme,
    enrol,
    set_benchmark_price,
    set_tariff,
)
from pvmon.privacy import id_number_check_char

PROVINCE = "辽宁省"


@dataclass
class World:
    conn: psycopg.Connection
    county: int
    villages: list[int]

    def household(self, village: int, *, served_by: int | None = None, members: int = 1) -> int:
        n = self.conn.execute("SELECT count(*) + 1 FROM households").fetchone()[0]  # type: ignore[index]
        first17 = f"21138219800101{n:03d}"
        row = self.conn.execute(
            """INSERT INTO households (file_no, name, village_id, id_number, bank_name,
                   bank_account, members, served_by_station_id)
               VALUES (%s, %s, %s, %s, '农村信用社', %s, %s, %s) RETURNING id""",
            (
                f"F{n:05d}",
                f"张{n}三",
                village,
                first17 + id_number_check_char(first17),
                f"62170000{n:011d}",
                members,
                served_by,
            ),
        ).fetchone()
        assert row
        return int(row[0])

    def station(
        self,
        code: str,
        kind: str,
        village: int,
        *,
        owner: int | None = None,
        capacity: str = "187.2",
        shares: dict[int, str] | None = None,
    ) -> int:
        row = self.conn.execute(
            """INSERT INTO stations (code, name, kind, capacity_kwp, village_id, latitude,
                   longitude, commissioned_on, grid_connected_on, tariff_ref, owner_household_id)
               VALUES (%s, %s, %s, %s, %s, 41.2, 119.4, '2016-06-01', '2016-06-20', 'T1', %s)
               RETURNING id""",
            (code, code, kind, Decimal(capacity), village, owner),
        ).fetchone()
        assert row
        for v, w in (shares or {}).items():
            self.conn.execute(
                "INSERT INTO station_village_shares VALUES (%s, %s, %s)", (row[0], v, Decimal(w))
            )
        return int(row[0])

    def slot(
        self,
        station: int,
        *,
        slot_no: int = 1,
        village: int | None = None,
        first: date = date(2017, 1, 1),
    ) -> int:
        v = (
            village
            or self.conn.execute(
                "SELECT village_id FROM stations WHERE id = %s", (station,)
            ).fetchone()[0]
        )  # type: ignore[index]
        row = self.conn.execute(
            "INSERT INTO station_slots (station_id, slot_no, village_id, first_dividend_on)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (station, slot_no, v, first),
        ).fetchone()
        assert row
        return int(row[0])

    def enrolled_village_household(self, village: int, *, code: str = "V1") -> tuple[int, int]:
        """A village station with one slot held since 2017 by one household under
        ``village_slot``: returns (station id, household id)."""
        station = self.station(code, "village", village)
        household = self.household(village, served_by=station)
        enrol(
            self.conn,
            slot_id=self.slot(station),
            scheme="village_slot",
            household_id=household,
            starts_on=date(2017, 1, 1),
        )
        return station, household

    def feed(
        self,
        period: str,
        energy: dict[int, int],
        *,
        estimated: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        """Energy per station [kWh] (and estimated [kWh], days)."""
        est = estimated or {}
        feed_energy(
            self.conn,
            parse_period(period),
            [
                (s, kwh * 1000, est.get(s, (0, 0))[0] * 1000, est.get(s, (0, 0))[1])
                for s, kwh in energy.items()
            ],
        )


def finance_keys(conn: psycopg.Connection, *names: str) -> dict[str, str]:
    """Plain finance API keys by name, for commands that act as a person."""
    from pvmon.api.auth import create_key

    return {n: create_key(conn, name=n, role="finance")[1] for n in names}


@pytest.fixture
def world(conn: psycopg.Connection) -> World:
    county = conn.execute(
        "INSERT INTO counties (code, name, province) VALUES ('LY', '凌源', %s) RETURNING id",
        (PROVINCE,),
    ).fetchone()[0]  # type: ignore[index]
    town = conn.execute(
        "INSERT INTO townships (code, name, county_id) VALUES ('T1', '城关镇', %s) RETURNING id",
        (county,),
    ).fetchone()[0]  # type: ignore[index]
    villages = [
        conn.execute(
            "INSERT INTO villages (code, name, township_id) VALUES (%s, %s, %s) RETURNING id",
            (f"V{i}", f"{i}村", town),
        ).fetchone()[0]  # type: ignore[index]
        for i in range(1, 5)
    ]
    set_benchmark_price(
        conn, province=PROVINCE, effective_from=date(2010, 1, 1), yuan_per_kwh=Decimal("0.40")
    )
    set_tariff(conn, tariff_ref="T1", effective_from=date(2010, 1, 1), yuan_per_kwh=Decimal("1.00"))
    for spec in STANDARD_SCHEMES:
        define_scheme(conn, spec)
    return World(conn, county, villages)
