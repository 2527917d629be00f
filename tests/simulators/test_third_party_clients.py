"""Third-party clients read a simulated SunSpec inverter: pysunspec2 and Debian's mbpoll."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from simulators.clock import SimClock
from simulators.device import DeviceSpec, SimulatedInverter
from simulators.physics import Site
from simulators.server import Endpoint, EndpointServer

NOON = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture(params=[1, 3], ids=["model101", "model103"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[int, SimulatedInverter]]:
    """A simulated SunSpec inverter served from a thread of its own (the clients block)."""
    phases = request.param
    site = Site(
        latitude=33.1,
        longitude=116.2,
        capacity_kwp=62.4 if phases == 3 else 4.32,
        tilt_deg=30,
        azimuth_deg=180,
        rated_ac_w=50000 if phases == 3 else 4000,
        commissioned_on=date(2018, 1, 1),
    )
    device = SimulatedInverter(
        DeviceSpec(
            serial="SS-TEST-1",
            site=site,
            register_map="sunspec",
            phases=phases,
            host="127.0.0.1",
            port=0,
            unit_id=17,  # not 1: the device address must be the unit's own
            manufacturer="pvmon-sim",
            model="SS-SIM",
        ),
        seed=3,
        start=NOON,
    )
    loop = asyncio.new_event_loop()
    server = EndpointServer(
        Endpoint("127.0.0.1", 0, "tcp", {17: device}), clock=SimClock(start=NOON)
    )
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield server.endpoint.port, device
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_pysunspec2_discovers_models_and_reads_power_and_energy(
    served: tuple[int, SimulatedInverter],
) -> None:
    port, device = served
    client = SunSpecModbusClientDeviceTCP(
        slave_id=device.spec.unit_id, ipaddr="127.0.0.1", ipport=port, timeout=5
    )
    try:
        client.scan()
        inverter_model = 101 if device.spec.phases == 1 else 103
        assert {1, inverter_model, 120} <= {k for k in client.models if isinstance(k, int)}
        common = client.common[0]
        assert common.Mn.cvalue == "pvmon-sim" and common.SN.cvalue == "SS-TEST-1"
        inverter = client.models[inverter_model][0]
        truth = device.values_at(NOON)
        # one step of the scale factor the device chose (10 W once the power passes 32,767 W)
        step_w = 10.0**inverter.W_SF.value
        assert inverter.W.cvalue == pytest.approx(truth["ac_power_w"], abs=max(step_w, 1.0))
        assert inverter.WH.cvalue == pytest.approx(truth["energy_wh"], abs=10)
        assert inverter.St.cvalue == truth["state"]
        assert client.models[120][0].WRtg.cvalue == pytest.approx(device.spec.site.rated_ac_w)
    finally:
        client.close()


@pytest.mark.parametrize("model_id", [1, 120])
def test_pysunspec2_reads_no_mandatory_point_as_not_implemented(
    served: tuple[int, SimulatedInverter], model_id: int
) -> None:
    port, device = served
    client = SunSpecModbusClientDeviceTCP(
        slave_id=device.spec.unit_id, ipaddr="127.0.0.1", ipport=port, timeout=5
    )
    try:
        client.scan()
        model = client.models[model_id][0]
        mandatory = [
            name for name, point in model.points.items() if point.pdef.get("mandatory") == "M"
        ]
        assert len(mandatory) >= (5 if model_id == 1 else 19)
        # pysunspec2 reads a "not implemented" value (0x8000, 0xFFFF, empty string) as None
        assert {n: model.points[n].value for n in mandatory if model.points[n].value is None} == {}
        if model_id == 1:
            assert model.Mn.cvalue == "pvmon-sim"
            assert model.DA.cvalue == device.spec.unit_id
        else:
            rated = device.spec.site.rated_ac_w
            phases = device.spec.phases
            assert model.DERTyp.cvalue == 4  # PV
            assert model.VARtg.cvalue == pytest.approx(rated)
            assert model.VArRtgQ1.cvalue == pytest.approx(0.44 * rated, rel=1e-3)
            assert model.VArRtgQ4.cvalue == pytest.approx(-0.44 * rated, rel=1e-3)
            assert model.ARtg.cvalue == pytest.approx(rated / (230 * phases), abs=0.01)
            assert model.PFRtgQ1.cvalue == pytest.approx(0.8)
            assert model.PFRtgQ4.cvalue == pytest.approx(-0.8)
    finally:
        client.close()


@pytest.mark.skipif(
    shutil.which("mbpoll") is None,
    reason="mbpoll not installed (make test installs it with apt-get when it can)",
)
def test_mbpoll_reads_the_sunspec_marker(served: tuple[int, SimulatedInverter]) -> None:
    port, _ = served
    # -0: references are protocol addresses (no +1 offset)
    result = subprocess.run(
        [
            "mbpoll",
            "-m",
            "tcp",
            "-a",
            "17",
            "-p",
            str(port),
            "-t",
            "4:hex",
            "-r",
            "40000",
            "-c",
            "4",
            "-1",
            "-0",
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # 'SunS' = 0x5375 0x6e53, then common model id 1 and its length 66
    lines = [line.split() for line in result.stdout.upper().splitlines() if line.startswith("[")]
    assert lines == [
        ["[40000]:", "0X5375"],
        ["[40001]:", "0X6E53"],
        ["[40002]:", "0X0001"],
        ["[40003]:", "0X0042"],
    ], result.stdout
