"""``pvmon simulate`` serves a fleet file's inverters, says where, and stops on Ctrl-C or
SIGTERM (docker stop), however it was started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pymodbus.client import ModbusTcpClient

from pvmon.registry import generate_fleet
from tests.ports import fleet_base_port
from tests.processes import FAULTHANDLER_ENV, interrupt


@pytest.mark.parametrize(
    ("signum", "ignore_sigint"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-in-a-background-job"],
)
def test_simulate_serves_and_stops_cleanly(
    tmp_path: Path, signum: signal.Signals, ignore_sigint: bool
) -> None:
    fleet = generate_fleet(
        households=3, village_stations=1, joint_villages=2, base_port=fleet_base_port()
    )
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    log_path = tmp_path / "simulate.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pvmon.cli", "simulate", "--fleet", str(path),
             # no faults: an 'unreachable' draw closes an inverter's listener, and the
             # draws follow the start time (a run now and then was refused the connect)
             "--speed", "60", "--faults", "none"],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200", **FAULTHANDLER_ENV},
            # a shell script's background job starts with SIGINT ignored
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
            if ignore_sigint else None,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # a safety net, not a measure of speed
        while "units" not in log_path.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        lines = log_path.read_text().splitlines()
        assert any("serving" in line and "simulated inverters" in line for line in lines), lines
        first = next(
            i for s in fleet["stations"] for i in s["inverters"] if i["register_map"] == "sunspec"
        )
        client = ModbusTcpClient("127.0.0.1", port=first["port"], timeout=5)
        assert client.connect()
        response = client.read_holding_registers(40000, count=2, device_id=first["unit_id"])
        client.close()
        assert response.registers == [0x5375, 0x6E53]
        returncode = interrupt(
            process, signum=signum, timeout_s=300
        )  # a safety net, not a measure of speed
        output = log_path.read_text()
        assert returncode == 0, output
        assert "stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
