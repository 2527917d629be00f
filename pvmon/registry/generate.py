"""Synthetic fleets modelled on the programme, for the demo and for benchmarks.

Deterministic for a given seed. Household stations are 4.32 kWp with one
single-phase inverter each; village stations are 187.2 kWp with three 50 kW
three-phase inverters; one joint station is shared by several villages. Household
inverters of a village sit behind one data logger (one host:port, unit ids 1..n);
each village or joint station has its own logger. All personal data is made up
(ID numbers carry valid check digits so they pass validation).
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

from pvmon.privacy import id_number_check_char

__all__ = ["HOUSEHOLDS_PER_VILLAGE_STATION", "generate_fleet"]

HOUSEHOLDS_PER_VILLAGE_STATION = 40
_HOUSEHOLDS_PER_JOINT_STATION = 100
_MAX_UNITS_PER_LOGGER = 247
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰凤春梅海燕建国志国淑珍"
_TOWNSHIP_NAMES = [
    "城关镇",
    "宋杖子镇",
    "三十家子镇",
    "刀尔登镇",
    "沟门子镇",
    "四官营子镇",
    "牛营子乡",
    "乌兰白镇",
    "河坎子乡",
    "北炉乡",
    "大王杖子乡",
    "佛爷洞乡",
]


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def _id_number(rng: random.Random, region: str, seq: int, issued: set[str]) -> str:
    """A made-up ID number with a valid check digit, unique within ``issued``."""
    while True:
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 60 * 365))
        first17 = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
        number = first17 + id_number_check_char(first17)
        if number not in issued:
            issued.add(number)
            return number


def _account(rng: random.Random) -> str:
    return "6217" + "".join(str(rng.randrange(10)) for _ in range(15))


def generate_fleet(
    *,
    households: int = 200,
    village_stations: int | None = None,
    joint_villages: int = 4,
    seed: int = 2016,
    host: str = "127.0.0.1",
    base_port: int = 15020,
    county_code: str = "LY",
    county_name: str = "凌源示范县",
    latitude: float = 41.2,
    longitude: float = 119.4,
) -> dict[str, Any]:
    """A fleet file (as a dict ready for YAML) with ``households`` household stations.

    ``village_stations`` defaults to 6 for the demo size and one per two villages beyond.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    rng = random.Random(seed)
    n_villages = max(12, round(households / 60))
    n_townships = max(3, round(n_villages / 12))
    if village_stations is None:
        village_stations = max(6, n_villages // 2)
    joint_villages = max(2, min(joint_villages, n_villages))

    townships: list[dict[str, Any]] = []
    villages: list[str] = []
    for t in range(n_townships):
        code = f"{county_code}-T{t + 1:02d}"
        name = _TOWNSHIP_NAMES[t % len(_TOWNSHIP_NAMES)] + ("" if t < 12 else str(t // 12 + 1))
        townships.append({"code": code, "name": name, "villages": []})
    for v in range(n_villages):
        township = townships[v % n_townships]
        code = f"{township['code']}-V{v + 1:03d}"
        township["villages"].append({"code": code, "name": f"{_SURNAMES[v % 40]}家{v + 1}村"})
        villages.append(code)

    county = {
        "code": county_code,
        "name": county_name,
        "province": "辽宁省",
        "townships": townships,
    }
    region = "211382"
    household_records: list[dict[str, Any]] = []
    stations: list[dict[str, Any]] = []
    port = base_port
    seq = 0
    issued: set[str] = set()

    def new_household(village: str, served_by: str | None) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        entered = date(2014, 1, 1) + timedelta(days=rng.randrange(0, 900))
        period: dict[str, Any] = {"entered_on": entered}
        roll = rng.random()
        if roll < 0.6:
            period["left_on"] = date(2019, 1, 1) + timedelta(days=rng.randrange(0, 700))
            period["status"] = "out_of_poverty"
        elif roll < 0.7:
            period["status"] = "monitored"
        record: dict[str, Any] = {
            "file_no": f"{county_code}{seq:07d}",
            "name": _name(rng),
            "village": village,
            "id_number": _id_number(rng, region, seq, issued),
            "bank_name": "农村信用合作社",
            "bank_account": _account(rng),
            "members": rng.randint(1, 6),
            "poverty": [period],
        }
        if served_by:
            record["served_by_station"] = served_by
        household_records.append(record)
        return record

    def place(village_index: int) -> tuple[float, float]:
        return (
            round(latitude + rng.uniform(-0.2, 0.2), 5),
            round(longitude + rng.uniform(-0.2, 0.2), 5),
        )

    # household stations, grouped per village behind one logger per 247 inverters
    per_village = math.ceil(households / n_villages)
    made = 0
    for v, village in enumerate(villages):
        count = min(per_village, households - made)
        for start in range(0, count, _MAX_UNITS_PER_LOGGER):
            logger_port = port
            port += 1
            for unit in range(1, min(_MAX_UNITS_PER_LOGGER, count - start) + 1):
                made += 1
                owner = new_household(village, None)
                lat, lon = place(v)
                commissioned = date(2017, 5, 1) + timedelta(days=rng.randrange(0, 400))
                huawei = rng.random() < 0.3
                stations.append(
                    {
                        "code": f"H{made:06d}",
                        "name": f"{owner['name']}户用电站",
                        "kind": "household",
                        "capacity_kwp": "4.32",
                        "village": village,
                        "latitude": lat,
                        "longitude": lon,
                        "tilt_deg": 35,
                        "azimuth_deg": 180,
                        "commissioned_on": commissioned,
                        "grid_connected_on": commissioned + timedelta(days=rng.randrange(3, 30)),
                        "tariff_ref": "LN-2017-household",
                        "owner_household": owner["file_no"],
                        "inverters": [
                            {
                                "serial": f"INV-H{made:06d}",
                                "vendor": "Huawei" if huawei else "SunSpec",
                                "model": "SUN2000-4KTL-L1" if huawei else "SS-4000-1P",
                                "rated_ac_w": 4000,
                                "phases": 1,
                                "host": host,
                                "port": logger_port,
                                "unit_id": unit,
                                "register_map": "huawei_sun2000" if huawei else "sunspec",
                            }
                        ],
                    }
                )
        if made >= households:
            break

    def village_station(
        code: str,
        name: str,
        kind: str,
        village: str,
        framing: str,
        shares: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        nonlocal port
        logger_port = port
        port += 1
        lat, lon = place(0)
        commissioned = date(2017, 9, 1) + timedelta(days=rng.randrange(0, 300))
        station: dict[str, Any] = {
            "code": code,
            "name": name,
            "kind": kind,
            "capacity_kwp": "187.2",
            "village": village,
            "latitude": lat,
            "longitude": lon,
            "tilt_deg": 30,
            "azimuth_deg": 180,
            "commissioned_on": commissioned,
            "grid_connected_on": commissioned + timedelta(days=rng.randrange(10, 60)),
            "tariff_ref": "LN-2017-village",
            "inverters": [
                {
                    "serial": f"INV-{code}-{i}",
                    "vendor": "Huawei" if i == 3 else "SunSpec",
                    "model": "SUN2000-50KTL-M3" if i == 3 else "SS-50K-3P",
                    "rated_ac_w": 50000,
                    "phases": 3,
                    "host": host,
                    "port": logger_port,
                    "unit_id": i,
                    "framing": framing,
                    "register_map": "huawei_sun2000" if i == 3 else "sunspec",
                }
                for i in (1, 2, 3)
            ],
        }
        if shares:
            station["shares"] = shares
        return station

    for s in range(village_stations):
        village = villages[(s * 2) % n_villages]
        code = f"V{s + 1:03d}"
        stations.append(
            village_station(
                code,
                f"{village}村级电站",
                "village",
                village,
                "rtu-over-tcp" if s == 0 else "tcp",
                None,
            )
        )
        for _ in range(HOUSEHOLDS_PER_VILLAGE_STATION):
            new_household(village, code)
    joint = villages[-joint_villages:]
    stations.append(
        village_station(
            "J001",
            "联村电站",
            "joint",
            joint[0],
            "rtu-over-tcp",
            [{"village": v, "weight": str(round(187.2 / joint_villages, 3))} for v in joint],
        )
    )
    for i in range(_HOUSEHOLDS_PER_JOINT_STATION):
        new_household(joint[i % joint_villages], "J001")

    return {"counties": [county], "households": household_records, "stations": stations}
