"""A 500-inverter county under the ``field`` profile, collected through six simulated days
(or ``PVMON_FIELD_DAYS``).

Every logger and inverter has field behaviours (one client, deaf after connect, NAT
drops, cellular latency and late replies, transaction id 0, garbled RTU frames, off at
night, dawn zeros, touchy loggers, firmware updates dropping a block) and the demo fault
rates. The test's clock steps the days a poll interval at a time and the collector
polls every endpoint once per step, so what happens in simulated time does not depend on
how fast the machine is; the wall-clock parts of the behaviours (latency, deaf periods,
NAT timeouts) are shrunk for the nominal 14,400x speed by the draw that
``pvmon simulate --speed N --faults field`` makes too.

For every inverter-day with a reading before it and one after it, daily energy in the
database matches the simulator's ground truth within 0.5 %, plus a tenth of what the day
says was estimated: across a logger asleep at night and loggers unreachable for most of a
day, a counter's rise over a gap is split between the days by the sun expected in each
(migration 0015; clear-sky, where the simulator has clouds). Nothing impossible and nothing
twice is stored; connects per endpoint stay within a bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from collectors.service import Collector
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from simulators.behaviour import draw_field_behaviours
from simulators.clock import SimClock
from simulators.faults import Fault
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.ports import fleet_base_port

LOCAL = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 6, 1, 0, 0, tzinfo=LOCAL)
# 48 steps a day, each a full pass over the 500 inverters; PVMON_FIELD_DAYS=14 runs the
# issue's two weeks (about 6 minutes; the suite's six days take about 2.5)
DAYS = int(os.environ.get("PVMON_FIELD_DAYS", "6"))
SPEED = 14400.0  # nominal: four simulated hours per wall second (0.3-2.5 s of latency
# become 21-174 us)
POLL_S = 1800  # simulated seconds between polls


async def test_six_field_days_collected_within_half_a_percent(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    if flavour == "timescaledb":
        pytest.skip("one flavour is enough here: test_end_to_end covers both storage paths")
    fleet_data = generate_fleet(
        households=491, village_stations=2, joint_villages=2, base_port=fleet_base_port()
    )
    specs = device_specs(FleetFile.model_validate(fleet_data))
    assert len(specs) == 500
    # loggers are drawn by their place in the fleet, not their (random) port: reproducible
    ports = sorted({s.port for s in specs})
    by_index, behaviours = draw_field_behaviours(
        [f"logger{i}" for i in range(len(ports))],
        [s.serial for s in specs],
        seed=3,
        start=START,
        speed=SPEED,
    )
    loggers = {f"127.0.0.1:{port}": by_index[f"logger{i}"] for i, port in enumerate(ports)}
    # the draw gives transaction id 0 only to an RTU logger (whose frames carry none):
    # one Modbus TCP logger answers so too, for the collector to learn it
    tcp = sorted(f"127.0.0.1:{s.port}" for s in specs if s.framing == "tcp")
    loggers[tcp[0]] = dataclasses.replace(loggers[tcp[0]], tid_zero=True)
    # no logger's quirks in the fleet file: the same options for every endpoint, for the
    # accelerated run's shrunk wall-clock timing (the collector learns transaction id 0,
    # the delay a deaf logger needs after a connect and the gap a touchy one needs)
    for station in fleet_data["stations"]:
        for inverter in station["inverters"]:
            inverter["poll_interval_s"] = POLL_S
            inverter["endpoint_options"] = {
                "timeout_s": 0.05,
                "max_connect_delay_s": 0.01,
                "max_timeout_s": 0.2,
                "rtu_guard_s": 0.01,
                "max_min_gap_s": 0.01,
                "backoff_base_s": 600.0,
                "backoff_max_s": 3600.0,
            }
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, FleetFile.model_validate(fleet_data))
        ids = dict(conn.execute("SELECT serial, id FROM inverters").fetchall())

    clock = SimClock(start=START, speed=SPEED, stepped=True)
    endpoints = build_endpoints(
        specs,
        seed=3,
        start=START,
        fault_profile="field",
        loggers=loggers,
        behaviours=behaviours,
        speed=SPEED,
    )
    # loggers unreachable for most of a day: from before dawn until 19:23 (back at dusk,
    # reading 0 W), and from 14:00 (producing) to 10:00 two days on (a day with no reading)
    alone = [d for e in endpoints for d in e.devices.values() if len(e.devices) == 1]
    for k, device in enumerate(alone[:8]):
        dark = (
            (_local(2, 3.0), _local(2, 19.4)) if k % 2 == 0 else (_local(3, 14.0), _local(5, 10.0))
        )
        device.faults.append(Fault("unreachable", *dark))
    simulator = FleetServer(endpoints, clock=clock)
    await simulator.start()
    collector = Collector(url=db_url, spool_dir=tmp_path / "spool", speed=SPEED, clock=clock)
    end = START + timedelta(days=DAYS)
    try:
        while clock.now() < end:
            await collector.cycle()
            clock.advance(POLL_S)  # NATs forget the connections idle for longer
            await simulator.sync()  # loggers go dark and come back on the step
            for _ in range(20):  # loop turns (not time) for the collector to see the drops
                await asyncio.sleep(0)
    finally:
        await collector.close()
        await simulator.stop()

    devices = {d.spec.serial: d for e in endpoints for d in e.devices.values()}
    compared = estimated = 0
    skipped: dict[str, int] = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        refresh_rollups(conn)
        daily = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in conn.execute(
                "SELECT inverter_id, day, energy_wh, counter_reset, estimated_wh FROM energy_daily"
            )
        }
        answered: dict[int, list[datetime]] = {}
        for inverter_id, time in conn.execute(
            "SELECT inverter_id, time FROM readings WHERE energy_wh IS NOT NULL "
            "ORDER BY inverter_id, time"
        ):
            answered.setdefault(inverter_id, []).append(time)
        for serial, device in devices.items():
            seen = answered.get(ids[serial], [])
            for offset in range(DAYS):
                day = START.date() + timedelta(days=offset)
                starts, ends = _local(offset, 0.0), _local(offset + 1, 0.0)
                if not seen or seen[0] > starts or seen[-1] < ends:
                    # nothing read after it (or before it): what it produced is unknown
                    skipped["no reading after or before"] = (
                        skipped.get("no reading after or before", 0) + 1
                    )
                    continue
                energy, reset, estimated_wh = daily.get((ids[serial], day), (None, False, 0))
                if reset:  # an inverter replaced that day: flagged, not exact by design
                    skipped["counter reset"] = skipped.get("counter reset", 0) + 1
                    continue
                truth = device.true_daily_energy_wh(day)
                # what was read: within half a percent; what a gap's split estimated (the
                # hours the collector missed, more of them on a busy machine: its request
                # timeouts are wall-clock) within a tenth of itself, clouds being unknown
                allowed = max(0.005 * truth, 10) + 0.1 * (estimated_wh or 0)
                if energy is None or abs(energy - truth) > allowed:
                    near = [day + timedelta(days=k) for k in (-1, 0, 1)]
                    rows = conn.execute(
                        "SELECT time AT TIME ZONE 'Asia/Shanghai', energy_wh, ac_power_w, "
                        "quality, raw FROM readings WHERE inverter_id = %s "
                        "AND time BETWEEN %s AND %s ORDER BY time",
                        (ids[serial], starts - timedelta(hours=2), ends + timedelta(hours=10)),
                    ).fetchall()
                    raise AssertionError(
                        f"{serial} {day}: {energy} Wh stored, {truth:.0f} true; windows "
                        f"{device.production_window(day - timedelta(days=1))} "
                        f"{device.production_window(day)} "
                        f"{device.production_window(day + timedelta(days=1))} "
                        f"truths {[device.true_daily_energy_wh(d) for d in near]} "
                        f"stored {[daily.get((ids[serial], d)) for d in near]}; readings "
                        "(local time, Wh, W, quality, raw):\n" + "\n".join(str(r) for r in rows)
                    )
                compared += 1
                estimated += bool(estimated_wh)
        print(f"compared {compared} inverter-days ({estimated} partly estimated), {skipped}")
        by_id = {ids[serial]: device for serial, device in devices.items()}
        for (inverter_id, day), (energy, _, _) in daily.items():  # 0 Wh means no output
            if energy == 0:
                assert by_id[inverter_id].true_daily_energy_wh(day) < 10, (inverter_id, day)
        for device in alone[:8]:  # the long outages: every day of theirs is compared
            assert (ids[device.spec.serial], _local(4, 12).date()) in daily
        worst = conn.execute(
            "SELECT max(r.ac_power_w / i.rated_ac_w), max(r.dc_power_w / i.rated_ac_w) "
            "FROM readings r JOIN inverters i ON i.id = r.inverter_id"
        ).fetchone()
        assert worst is not None and worst[0] <= 1.2 and worst[1] <= 1.5
        read_count = dict(
            conn.execute("SELECT inverter_id, count(*) FROM readings GROUP BY inverter_id")
        )
        dupes = conn.execute(
            "SELECT count(*) - count(DISTINCT (inverter_id, time)) FROM readings"
        ).fetchone()
        assert dupes == (0,)
    # every inverter-day with readings before and after it is compared: all but the last
    # day's (the run ends with it) and the first day of a logger asleep at the start
    assert compared > 0.6 * 500 * (DAYS - 1), (compared, skipped)
    assert estimated > 0.1 * compared, estimated  # loggers asleep at night: split rises
    # connects per endpoint, the stated bound: two a day for any logger (the first, one
    # after a rare drop); a logger that is off at night adds its back-off retries through
    # the night (at most one an hour after the first few: 12); a logger behind a NAT that
    # forgets idle connections sooner than the poll interval adds one per poll
    polls_per_day = 86400 // POLL_S
    for poller in collector.pollers:
        quirks = loggers[poller.name]
        nat = quirks.idle_drop_s is not None and quirks.idle_drop_s < POLL_S / SPEED
        bound = DAYS * (2 + 12 * quirks.night_offline + polls_per_day * nat)
        assert poller.connects <= bound, (poller.name, poller.connects, bound, quirks)
        tid_zero = quirks.tid_zero and poller.framing == "tcp"  # RTU frames carry no tid
        assert ("accept_tid_zero" in poller.learned) == tid_zero, poller.name
    assert "accept_tid_zero" in next(p for p in collector.pollers if p.name == tcp[0]).learned
    # touchy loggers, with no gap in the fleet file, deliver as many readings as the rest
    touchy = [p for p in collector.pollers if loggers[p.name].min_gap_s]
    per_inverter = sorted(read_count.values())
    median = per_inverter[len(per_inverter) // 2]
    for poller in touchy:
        for target in poller.targets:
            assert read_count.get(target.inverter_id, 0) >= 0.8 * median, poller.name
    learned_gaps = [p.min_gap_s for p in collector.pollers if "min_gap_s" in p.learned]
    print(f"touchy loggers {len(touchy)}; gaps learned {len(learned_gaps)}: {learned_gaps[:5]}")


def _local(day: int, hour: float) -> datetime:
    """``hour`` o'clock on the run's day ``day``, local time."""
    return START + timedelta(days=day, hours=hour)
