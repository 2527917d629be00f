"""A small world for the API: the generated demo county (LY) with two days of simulated
readings, a second county (XX) with one station, schemes, prices, an alarm per county,
a draft run, and one key per role (plus county-limited keys)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dividends.periods import parse_period
from dividends.revenue import feed_energy
from dividends.runs import compute_run
from dividends.schemes import (
    STANDARD_SCHEMES,
    define_scheme,
    enrol_registry,
    set_benchmark_price,
    set_tariff,
)
from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.backfill import backfill_readings
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from tests.conftest import _template, new_database


@dataclass
class ApiWorld:
    """The database URL, the plain keys by name and the ids the tests address."""

    url: str
    keys: dict[str, str] = field(default_factory=dict)
    station: str = ""
    inverter: str = ""
    household: str = ""
    alarm_ly: int = 0
    alarm_xx: int = 0
    run_id: int = 0
    other_station: str = "XX-H1"
    other_household: str = "XX0000001"


def _second_county(conn: psycopg.Connection) -> tuple[int, int]:
    cid = conn.execute(
        "INSERT INTO counties (code, name, province) VALUES ('XX', '另一县', '辽宁省') RETURNING id"
    ).fetchone()[0]  # type: ignore[index]
    tid = conn.execute(
        "INSERT INTO townships (code, name, county_id) VALUES ('XX-T01', '一镇', %s) RETURNING id",
        (cid,),
    ).fetchone()[0]  # type: ignore[index]
    vid = conn.execute(
        "INSERT INTO villages (code, name, township_id) VALUES ('XX-T01-V001', '一村', %s)"
        " RETURNING id",
        (tid,),
    ).fetchone()[0]  # type: ignore[index]
    hid = conn.execute(
        "INSERT INTO households (file_no, name, village_id, id_number, bank_account)"
        " VALUES ('XX0000001', '李四', %s, '21138219900307123X', '621700001234567890')"
        " RETURNING id",
        (vid,),
    ).fetchone()[0]  # type: ignore[index]
    sid = conn.execute(
        "INSERT INTO stations (code, name, kind, capacity_kwp, village_id, latitude, longitude,"
        " tariff_ref, owner_household_id) VALUES ('XX-H1', '李四户用', 'household', 4.32, %s,"
        " 41.0, 119.0, 'LN-2017-household', %s) RETURNING id",
        (vid, hid),
    ).fetchone()[0]  # type: ignore[index]
    iid = conn.execute(
        "INSERT INTO inverters (serial, station_id, vendor, model, rated_ac_w, phases, host,"
        " port, unit_id, register_map) VALUES ('INV-XX-H1', %s, 'sim', 'sim', 4000, 1,"
        " '127.0.0.1', 19999, 1, 'sunspec') RETURNING id",
        (sid,),
    ).fetchone()[0]  # type: ignore[index]
    return sid, iid


def build_world(url: str, *, households: int = 12, days: int = 2) -> ApiWorld:
    """Load the API test world into the migrated database at ``url``."""
    world = ApiWorld(url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(generate_fleet(households=households)))
        end = datetime.now(UTC).replace(microsecond=0)
        backfill_readings(conn, days=days, end=end, seed=7)
        refresh_rollups(conn)
        xx_station, xx_inverter = _second_county(conn)
        row = conn.execute(
            "SELECT s.code, i.serial, h.file_no, s.id, i.id FROM stations s"
            " JOIN inverters i ON i.station_id = s.id JOIN households h"
            " ON h.id = s.owner_household_id WHERE s.kind = 'household' ORDER BY s.code LIMIT 1"
        ).fetchone()
        assert row is not None
        world.station, world.inverter, world.household = row[0], row[1], row[2]
        conn.execute(
            "INSERT INTO inverter_health (inverter_id, state, since) SELECT id, 'online', now()"
            " FROM inverters WHERE id <> %s",
            (xx_inverter,),
        )
        opened = end - timedelta(hours=3)
        world.alarm_ly = conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason)"
            " VALUES (%s, %s, 'offline', %s, 'no reply for 10 min') RETURNING id",
            (row[4], row[3], opened),
        ).fetchone()[0]  # type: ignore[index]
        world.alarm_xx = conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason)"
            " VALUES (%s, %s, 'no_output', %s, 'zero power at noon') RETURNING id",
            (xx_inverter, xx_station, opened),
        ).fetchone()[0]  # type: ignore[index]
        for spec in STANDARD_SCHEMES:
            define_scheme(conn, spec)
        enrol_registry(conn, first_dividend_on=date(2017, 1, 1))
        set_benchmark_price(
            conn, province="辽宁省", effective_from=date(2015, 1, 1), yuan_per_kwh=Decimal("0.3749")
        )
        refs = [r[0] for r in conn.execute("SELECT DISTINCT tariff_ref FROM stations")]
        for ref in refs:
            if ref:
                set_tariff(
                    conn,
                    tariff_ref=ref,
                    effective_from=date(2015, 1, 1),
                    yuan_per_kwh=Decimal("0.85"),
                )
        period = parse_period("2024")
        stations = conn.execute("SELECT id, capacity_kwp FROM stations").fetchall()
        feed_energy(conn, period, [(sid, int(kwp * 1_200_000), 0, 0) for sid, kwp in stations])
        world.run_id = compute_run(
            conn, period="2024", scope_kind="county", scope_codes=["LY"], created_by="clerk"
        )
        for role in ("viewer", "operator", "finance", "admin"):
            world.keys[role] = create_key(conn, name=role, role=role)[1]
            world.keys[f"{role}_xx"] = create_key(conn, name=f"{role}_xx", role=role, county="XX")[
                1
            ]
            world.keys[f"{role}_ly"] = create_key(conn, name=f"{role}_ly", role=role, county="LY")[
                1
            ]
        world.keys["clerk"] = create_key(conn, name="clerk", role="finance")[1]
        world.keys["revoked"] = create_key(conn, name="gone", role="admin")[1]
        conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'gone'")
    return world


@pytest.fixture(scope="module")
def world(pg_server: EmbeddedPostgres) -> ApiWorld:
    """The world in a fresh plain-PostgreSQL database, shared by a module's tests."""
    return build_world(new_database(pg_server, template=_template(pg_server, "postgres")))


@pytest.fixture(scope="module")
def client(world: ApiWorld) -> Iterator[TestClient]:
    with TestClient(create_app(database_url=world.url), raise_server_exceptions=False) as c:
        yield c


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on an ephemeral loopback port, in a thread: its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30  # a deadline for a start, not a measure of speed
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
