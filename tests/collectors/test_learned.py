"""What the collector learns about a logger is kept across restarts and shown to the
operator: the metric, the API's inverter detail; the fleet file's word wins."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from collectors.service import Collector
from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.behaviour import LoggerBehaviour
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.ports import fleet_base_port


@pytest.mark.parametrize("fleet_file_says", [None, False])
async def test_a_learned_setting_is_kept_shown_and_used_after_a_restart(
    db_url: str, flavour: str, tmp_path: Path, fleet_file_says: bool | None
) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage of a small table: one flavour is enough")
    fleet_data = generate_fleet(
        households=1, village_stations=0, joint_villages=0, base_port=fleet_base_port()
    )
    inverter = fleet_data["stations"][0]["inverters"][0]
    inverter["endpoint_options"] = {"timeout_s": 3.0}  # replies come at once
    if fleet_file_says is not None:
        inverter["endpoint_options"]["accept_tid_zero"] = fleet_file_says
    fleet = FleetFile.model_validate(fleet_data)
    specs = device_specs(fleet)
    clock = SimClock()
    loggers = {f"{s.host}:{s.port}": LoggerBehaviour(tid_zero=True) for s in specs}
    endpoints = build_endpoints(specs, seed=1, start=clock.now(), loggers=loggers)
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
        key = create_key(conn, name="ops", role="operator")[1]
    simulator = FleetServer(endpoints, clock=clock)
    await simulator.start()
    try:
        first = Collector(url=db_url, spool_dir=tmp_path / "spool")
        for _ in range(2):
            await first.cycle()
        learned = generate_latest(first.metrics.registry).decode()
        await first.close()
        shown = 'setting="accept_tid_zero"} 1.0' in learned
        assert shown is (fleet_file_says is None)

        with TestClient(create_app(database_url=db_url)) as api:
            got = api.get(f"/v1/inverters/{inverter['serial']}", headers={"X-API-Key": key}).json()
            listed = api.get("/v1/inverters", headers={"X-API-Key": key}).json()["items"]
        (row,) = [r for r in listed if r["serial"] == inverter["serial"]]
        if fleet_file_says is not None:  # the fleet file's word: nothing learned, nothing kept
            assert got["endpoint_learned"] == [] and row["learned"] == []
            return
        assert row["learned"] == ["accept_tid_zero"]  # the fleet's health list says so too
        (setting,) = got["endpoint_learned"]  # the endpoint of this inverter
        assert setting["setting"] == "accept_tid_zero" and setting["value"] is True
        assert "transaction id 0" in setting["why"]

        second = Collector(url=db_url, spool_dir=tmp_path / "spool")  # a restart
        poller = next(p for p in second.pollers if p.port == inverter["port"])
        assert poller.accept_tid_zero is True  # used from the first request on
        for _ in range(10):  # a poll answered after the restart (a busy machine may time out)
            await second.cycle()
            if _answered(second):
                break
        assert all(p.drain_learned() == [] for p in second.pollers)  # known: nothing new
        await second.close()
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT count(*) FROM readings").fetchone()
        # every poll answered before the restart and after it is stored: none lost
        assert _answered(first) >= 1 and _answered(second) >= 1
        assert stored == (_answered(first) + _answered(second),)
    finally:
        await simulator.stop()


def _answered(collector: Collector) -> int:
    """Polls the collector stored an answer for (its ``pvmon_polls_total{result="ok"}``)."""
    value = collector.metrics.registry.get_sample_value("pvmon_polls_total", {"result": "ok"})
    return int(value or 0)
