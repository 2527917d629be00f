"""A registry with one inverter on an unknown register map and one endpoint with invalid
options (rows written before the registry validated them): every other inverter is
polled over real Modbus TCP, and the two are reported (health and an alarm each)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from collectors.poller import EndpointOptions
from collectors.service import Collector
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.ports import fleet_base_port

NOON = datetime(2025, 6, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout_s": "abc"}, "timeout_s: 'abc' is not a number"),
        ({"min_gap_s": -1}, "min_gap_s: -1 is not a non-negative number"),
        ({"backoff_max_s": float("inf")}, "backoff_max_s"),
        ({"accept_tid_zero": "yes"}, "accept_tid_zero: 'yes' is not true or false"),
        ({"timeout_s": True}, "timeout_s: True is not a non-negative number"),
    ],
)
def test_endpoint_options_are_checked_when_built(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndpointOptions.from_registry(options, timeout_s=3.0)


def test_endpoint_options_take_registry_values_over_defaults() -> None:
    built = EndpointOptions.from_registry({"min_gap_s": 1, "retries": 3}, timeout_s=2.0)
    assert built.min_gap_s == 1.0 and built.timeout_s == 2.0


def test_endpoint_options_at_speed_wait_less_on_the_wire_not_on_the_schedule() -> None:
    """``pvmon collect --speed 600``: wall-clock waits / 600 (timeouts no shorter than
    50 ms, what the machine tells apart); back-off and night polling are simulated
    seconds already."""
    field = EndpointOptions.from_registry(
        {"min_gap_s": 0.06, "connect_delay_s": 1.2}, timeout_s=3.0
    )
    fast = field.scaled(1 / 600)
    assert fast.min_gap_s == pytest.approx(0.0001) and fast.connect_delay_s == pytest.approx(0.002)
    assert fast.first_connect_delay_s == pytest.approx(0.5 / 600)
    assert fast.max_connect_delay_s == pytest.approx(5.0 / 600)
    assert fast.timeout_s == 0.05 and fast.max_timeout_s == 0.05  # 5 ms and 25 ms: floored
    assert EndpointOptions(timeout_s=0.01).scaled(1 / 600).timeout_s == 0.01  # set lower: kept
    assert (fast.backoff_base_s, fast.night_interval_s, fast.reprobe_s) == (
        field.backoff_base_s,
        field.night_interval_s,
        field.reprobe_s,
    )
    assert field.scaled(1.0) == field


async def test_one_bad_map_and_one_bad_endpoint_leave_every_other_inverter_polled(
    db_url: str, tmp_path: Path
) -> None:
    data = generate_fleet(households=4, village_stations=0, base_port=fleet_base_port())
    fleet = FleetFile.model_validate(data)
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
        rows = conn.execute("SELECT serial, id, host, port FROM inverters ORDER BY id").fetchall()
        bad_map, bad_options = rows[0], rows[1]
        conn.execute("UPDATE inverters SET register_map = 'nope' WHERE id = %s", (bad_map[1],))
        conn.execute(
            """UPDATE inverters SET endpoint_options = '{"timeout_s": "abc"}'
                WHERE host = %s AND port = %s""",
            (bad_options[2], bad_options[3]),
        )
    skipped_endpoint = {r[0] for r in rows if (r[2], r[3]) == (bad_options[2], bad_options[3])}
    endpoints = build_endpoints(device_specs(fleet), seed=3, start=NOON)
    simulator = FleetServer(endpoints, clock=SimClock(start=NOON))
    await simulator.start()
    try:
        collector = Collector(url=db_url, spool_dir=tmp_path / "spool", timeout_s=2.0)
        reasons = {bad.serial: bad.reason for bad in collector.unpollable}
        assert set(reasons) == {bad_map[0], *skipped_endpoint}
        assert "unknown register map 'nope'" in reasons[bad_map[0]]
        assert "timeout_s: 'abc' is not a number" in reasons[bad_options[0]]
        for poller in collector.pollers:
            await poller.poll()
        await collector.writer.flush()
    finally:
        await simulator.stop()
    with psycopg.connect(db_url, autocommit=True) as conn:
        polled = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT i.serial FROM readings r JOIN inverters i ON i.id = r.inverter_id"
            )
        }
        alarms: dict[str, str] = dict(
            conn.execute(
                "SELECT i.serial, a.reason FROM alarms a JOIN inverters i ON i.id = a.inverter_id"
                " WHERE a.kind = 'misconfigured' AND a.closed_at IS NULL"
            ).fetchall()
        )
        health: dict[str, str] = dict(
            conn.execute(
                "SELECT i.serial, h.state FROM inverter_health h"
                " JOIN inverters i ON i.id = h.inverter_id WHERE h.last_error LIKE 'unknown%%'"
                "  OR h.last_error LIKE 'endpoint%%'"
            ).fetchall()
        )
    assert polled == {r[0] for r in rows} - set(reasons)
    assert set(alarms) == set(reasons) and all(
        a.startswith("not polled: ") for a in alarms.values()
    )
    assert health == dict.fromkeys(reasons, "fault")
    # the same start again keeps one open alarm each
    again = Collector(url=db_url, spool_dir=tmp_path / "spool2", timeout_s=2.0)
    assert len(again.unpollable) == len(reasons)
    with psycopg.connect(db_url, autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM alarms WHERE kind = 'misconfigured'").fetchone()
    assert count is not None and count[0] == len(reasons)
