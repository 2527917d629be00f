"""Simulated history written straight into ``readings`` (CLI layer: simulators + database).

For every inverter of the registry and every local day, the simulator's physics gives a
minute-resolution power profile; readings are sampled every ``interval_min`` minutes
while the inverter is awake (30 minutes either side of production), with the lifetime
counter as the exact running integral of that power. Rows are built with numpy and
pandas and loaded through the same idempotent COPY path as collected readings, marked
``Quality.SIMULATED``. The counter is anchored so that it ends, at ``end``, where a
live simulated inverter started at ``end`` begins, so live readings continue the history.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg

from pvmon.db.readings import write_readings_csv
from pvmon.quality import Quality
from simulators.device import plausible_counter_wh
from simulators.fleet import DEFAULT_COMMISSIONED
from simulators.physics import Site, day_power_w

__all__ = ["BACKFILL_COLUMNS", "backfill_readings", "registry_sites"]

_LOCAL = ZoneInfo("Asia/Shanghai")
BACKFILL_COLUMNS = (
    "time",
    "inverter_id",
    "ac_power_w",
    "energy_wh",
    "dc_power_w",
    "ac_voltage_a_v",
    "ac_current_a_a",
    "frequency_hz",
    "temperature_c",
    "state",
    "event_code",
    "quality",
)


def registry_sites(conn: psycopg.Connection) -> list[tuple[int, str, Site, int]]:
    """(inverter id, serial, site, phases) for every inverter in the registry."""
    rows = conn.execute(
        """
        SELECT i.id, i.serial, s.latitude, s.longitude,
               s.capacity_kwp / count(*) OVER (PARTITION BY s.id), s.tilt_deg, s.azimuth_deg,
               i.rated_ac_w, coalesce(s.commissioned_on, s.grid_connected_on), i.phases
          FROM inverters i JOIN stations s ON s.id = i.station_id
         ORDER BY i.id
        """
    ).fetchall()
    return [
        (
            r[0],
            r[1],
            Site(
                latitude=r[2],
                longitude=r[3],
                capacity_kwp=float(r[4]),
                tilt_deg=r[5],
                azimuth_deg=r[6],
                rated_ac_w=r[7],
                commissioned_on=r[8] or DEFAULT_COMMISSIONED,
            ),
            r[9],
        )
        for r in rows
    ]


def _device_frame(
    *,
    inverter_id: int,
    serial: str,
    site: Site,
    phases: int,
    days: list[date],
    end: datetime,
    seed: int,
    interval_min: int,
) -> pd.DataFrame:
    profiles = np.stack([day_power_w(site, d, seed=seed, device_key=serial) for d in days])
    # energy of each minute (trapezoid of the piecewise-linear power) [Wh]
    minute_wh = (profiles[:, 1:] + profiles[:, :-1]) / 2.0 / 60.0
    cumulative = np.concatenate([[0.0], np.cumsum(minute_wh.ravel())])
    # cumulative[k] = energy from the first day's midnight to minute k
    day_starts = [datetime(d.year, d.month, d.day, tzinfo=_LOCAL) for d in days]
    end_minute = int((end - day_starts[0]).total_seconds() // 60)
    end_minute = min(end_minute, len(cumulative) - 1)
    base = max(plausible_counter_wh(site, end) - cumulative[end_minute], 0.0)
    power = profiles[:, :-1]
    awake = np.zeros_like(power, dtype=bool)
    producing = power > 0
    for row in range(power.shape[0]):
        on = np.flatnonzero(producing[row])
        if on.size:
            awake[row, max(on[0] - 30, 0) : min(on[-1] + 31, 1440)] = True
    sample = np.zeros(1440, dtype=bool)
    sample[::interval_min] = True
    minute_index = np.flatnonzero((awake & sample).ravel())
    minute_index = minute_index[minute_index <= end_minute]
    p = power.ravel()[minute_index]
    rated = float(site.rated_ac_w)
    load = p / rated
    voltage = 229.0 + 3.0 * load
    start_utc = pd.Timestamp(day_starts[0]).tz_convert(UTC)
    return pd.DataFrame(
        {
            "time": start_utc + pd.to_timedelta(minute_index, unit="min"),
            "inverter_id": inverter_id,
            "ac_power_w": p.round(1),
            "energy_wh": np.floor(base + cumulative[minute_index]).astype(np.int64),
            "dc_power_w": (p / 0.975).round(1),
            "ac_voltage_a_v": voltage.round(1),
            "ac_current_a_a": np.where(p > 0, p / (voltage * phases), 0.0).round(2),
            "frequency_hz": 50.0,
            "temperature_c": (22.0 + 23.0 * load).round(1),
            "state": np.where(p >= rated * 0.999, 5, np.where(p > 0, 4, 2)),
            "event_code": 0,
            "quality": int(Quality.SIMULATED),
        },
        columns=list(BACKFILL_COLUMNS),
    )


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S%z")
    return buffer.getvalue().encode()


def backfill_readings(
    conn: psycopg.Connection,
    *,
    days: int,
    end: datetime,
    seed: int,
    interval_min: int = 5,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write ``days`` days of simulated readings ending at ``end``; returns rows written."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if not 1 <= interval_min <= 60:
        raise ValueError("interval_min must be between 1 and 60")
    local_end = end.astimezone(_LOCAL).date()
    day_list = [local_end - timedelta(days=offset) for offset in range(days, -1, -1)]
    # grouped by weather cell and orientation, so each cell's day profiles are computed
    # once and reused by every inverter in it while they are still cached
    sites = sorted(
        registry_sites(conn), key=lambda s: (s[2].cell, s[2].tilt_deg, s[2].azimuth_deg, s[0])
    )
    written = 0

    def chunks() -> Iterator[tuple[int, bytes]]:
        for index, (inverter_id, serial, site, phases) in enumerate(sites):
            frame = _device_frame(
                inverter_id=inverter_id,
                serial=serial,
                site=site,
                phases=phases,
                days=day_list,
                end=end,
                seed=seed,
                interval_min=interval_min,
            )
            yield index, _csv(frame)

    batch: list[bytes] = []
    for index, chunk in chunks():
        batch.append(chunk)
        if len(batch) == 20 or index == len(sites) - 1:
            written += write_readings_csv(conn, columns=BACKFILL_COLUMNS, chunks=batch)
            batch = []
            if progress:
                progress(index + 1, len(sites))
    return written
