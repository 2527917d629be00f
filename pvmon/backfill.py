"""Simulated history written straight into ``readings`` (CLI layer: simulators + database).

For every inverter of the registry and every local day, the simulator's physics gives a
minute-resolution power profile; readings are sampled every ``interval_min`` minutes
while the inverter is awake (30 minutes either side of production), with the lifetime
counter as the exact running integral of that power. Rows are built with numpy and
loaded through the same idempotent staging insert as collected readings, marked
``Quality.SIMULATED``. The counter is anchored so that it ends, at ``end``, where a
live simulated inverter started at ``end`` begins, so live readings continue the history.

Speed (the demo writes 0.8-1.2 million readings for 221 inverters, winter to summer):
inverters are taken in order of their normalised profile (weather cell, orientation), so
one vectorised pass of :func:`simulators.physics.days_power_w` computes a cell's sun,
clear sky and weather for all the days once, and every inverter of that cell and
orientation (the inverters of one station, the stations of one village) reuses it; rows
go to the database in PostgreSQL's binary COPY format, laid out by numpy (formatting
them as CSV text took pandas 7-13 s); and COPY into the database runs in a second
thread while the next batch is computed, so the database's insert is what bounds it
(~15 s of the demo's 30 days on 2 cores). ``progress`` hears after each batch is
stored; ``stop`` ends the work after the current batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from pvmon.db.readings import binary_reading_rows, write_readings_binary
from pvmon.quality import Quality
from simulators.device import plausible_counter_wh
from simulators.fleet import DEFAULT_COMMISSIONED
from simulators.physics import Site, days_power_w, profile_key

__all__ = ["BACKFILL_COLUMNS", "BATCH_INVERTERS", "backfill_readings", "registry_sites"]

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
BATCH_INVERTERS = 20  # inverters per COPY (~100,000 rows for 30 summer days)


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


class _Window(NamedTuple):
    """The days of the backfill, from the first day's local midnight."""

    days: list[date]
    start_utc: np.datetime64  # the first day's local midnight, UTC [us]
    end_minute: int  # minutes from start_utc to ``end`` (last minute written)


def _window(days: list[date], end: datetime) -> _Window:
    start = datetime(days[0].year, days[0].month, days[0].day, tzinfo=_LOCAL)
    start_utc = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "us")
    end_minute = min(int((end - start).total_seconds() // 60), len(days) * 1440)
    return _Window(days, start_utc, end_minute)


def _device_rows(
    *,
    inverter_id: int,
    serial: str,
    site: Site,
    phases: int,
    window: _Window,
    end: datetime,
    seed: int,
    interval_min: int,
) -> bytes:
    """One inverter's readings over the window as binary COPY rows."""
    profiles = days_power_w(site, window.days, seed=seed, device_key=serial)
    # energy of each minute (trapezoid of the piecewise-linear power) [Wh]
    minute_wh = (profiles[:, 1:] + profiles[:, :-1]) / 2.0 / 60.0
    cumulative = np.concatenate([[0.0], np.cumsum(minute_wh.ravel())])
    # cumulative[k] = energy from the first day's midnight to minute k
    end_minute = window.end_minute
    base = max(plausible_counter_wh(site, end) - cumulative[end_minute], 0.0)
    power = profiles[:, :-1]
    producing = power > 0
    # awake from 30 minutes before the first production of a day to 30 after its last
    any_on = np.asarray(producing.any(axis=1), dtype=bool)
    first_on = np.argmax(producing, axis=1)
    last_on = 1439 - np.argmax(producing[:, ::-1], axis=1)
    minutes = np.arange(1440)
    awake = (
        any_on[:, np.newaxis]
        & (minutes >= (first_on - 30)[:, np.newaxis])
        & (minutes < (last_on + 31)[:, np.newaxis])
    )
    sample = np.zeros(1440, dtype=bool)
    sample[::interval_min] = True
    minute_index = np.flatnonzero((awake & sample).ravel())
    minute_index = minute_index[minute_index <= end_minute]
    p = power.ravel()[minute_index]
    rated = float(site.rated_ac_w)
    load = p / rated
    voltage = 229.0 + 3.0 * load
    values = {
        "time": window.start_utc + minute_index.astype("timedelta64[m]"),
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
    }
    return binary_reading_rows(BACKFILL_COLUMNS, values, len(minute_index))


def backfill_readings(
    conn: psycopg.Connection,
    *,
    days: int,
    end: datetime,
    seed: int,
    interval_min: int = 5,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Write ``days`` days of simulated readings ending at ``end``; returns rows written.

    ``progress(done, total)`` [inverters] is called after each batch is stored (from the
    calling thread); once ``stop`` is set, no further batch is started.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if not 1 <= interval_min <= 60:
        raise ValueError("interval_min must be between 1 and 60")
    local_end = end.astimezone(_LOCAL).date()
    window = _window([local_end - timedelta(days=offset) for offset in range(days, -1, -1)], end)
    # in order of the normalised profile, so each cell's days are computed once and
    # reused by every inverter that shares them while they are still cached
    sites = sorted(registry_sites(conn), key=lambda s: (profile_key(s[2]), s[0]))
    written = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-copy") as copier:
        pending: tuple[Future[int], int] | None = None

        def settle() -> None:
            nonlocal written, pending
            if pending is not None:
                future, done = pending
                pending = None
                written += future.result()
                if progress:
                    progress(done, len(sites))

        for first in range(0, len(sites), BATCH_INVERTERS):
            if stop is not None and stop.is_set():
                break
            batch = [
                _device_rows(
                    inverter_id=inverter_id,
                    serial=serial,
                    site=site,
                    phases=phases,
                    window=window,
                    end=end,
                    seed=seed,
                    interval_min=interval_min,
                )
                for inverter_id, serial, site, phases in sites[first : first + BATCH_INVERTERS]
            ]
            settle()  # one COPY at a time, overlapping the computation of the next batch
            done = min(first + BATCH_INVERTERS, len(sites))
            pending = (
                copier.submit(write_readings_binary, conn, columns=BACKFILL_COLUMNS, chunks=batch),
                done,
            )
        settle()
    return written
