"""Seeded stochastic weather for the inverter simulator: daily sky state and minute clouds.

Everything here is a pure function of ``(seed, weather cell, local date)``: the live
simulator and a backfill that asks for the same day get the same weather whatever the
order of the calls or the time window requested. Stations whose coordinates round to the
same 0.1° cell (the stations of one village) share the weather exactly.

Model
-----
* **Daily sky state** (:class:`Sky`): clear, partly cloudy or overcast. A latent
  standard-normal variable ``z(d)`` is a moving average of independent seeded normal
  draws of the last :data:`PERSISTENCE_DAYS` days, so spells of cloudy or sunny days
  persist (lag-1 correlation of ``z`` ≈ :data:`PERSISTENCE`) while each day still
  depends only on its own date. ``u = Φ(z)`` is uniform and is cut by the day's
  climatological probabilities ``(p_clear, p_partly, p_overcast)``.
* **Seasonality**: two monthly climatologies, interpolated between mid-months and
  blended by latitude (33° N → 41° N):

  - north China / western Liaoning (Chaoyang, Lingyuan): dry, sunny winter and spring,
    summer monsoon with the cloudiest days in July-August;
  - Huai River plain / northern Anhui (Fuyang, Lixin): cloudier than the north all
    year, plum rains (meiyu) and summer monsoon June-August the cloudiest, damp late
    winter, sunniest in May and October.

  The tables are hand-written for plausibility and tuned so that simulated annual
  yields land inside the published resource-zone figures cited in
  :mod:`simulators.physics`; they are not fitted to station records.
* **Intraday cloud factor**: a 1-minute series over the local day (1,441 samples,
  00:00 to 24:00 inclusive) in ``[CLOUD_FACTOR_MIN, 1.0]`` that multiplies clear-sky
  GHI. Clear days stay near 0.95-1.0 with the odd passing cloud; partly cloudy days
  alternate sun and cloud shadow with run lengths of a few minutes (fast ramps that
  a 1-minute poll sees); overcast days stay at 0.1-0.4 with slow variation.
* **Ambient temperature**: a deterministic seasonal and diurnal cosine model from
  latitude and altitude (annual mean ≈ 15.5 °C at 33.1° N falling 0.75 °C per degree of
  latitude and 6.5 °C per km, seasonal half-range 13-16 °C, warmest around 19 July,
  daily maximum at 15:00) with a smaller diurnal range on cloudy days: roughly -9 /
  24 °C January / July means at Lingyuan and 2 / 28 °C at Lixin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = [
    "CLOUD_FACTOR_MAX",
    "CLOUD_FACTOR_MIN",
    "MINUTES_PER_DAY",
    "PERSISTENCE",
    "PERSISTENCE_DAYS",
    "SAMPLES_PER_DAY",
    "DayWeather",
    "Sky",
    "WeatherCell",
    "ambient_temperature_c",
    "cloud_factor",
    "day_weather",
    "expected_annual_shares",
    "monthly_interpolate",
    "sky_probabilities",
    "weather_cell",
]

MINUTES_PER_DAY = 1440
SAMPLES_PER_DAY = MINUTES_PER_DAY + 1  # 00:00 .. 24:00 inclusive, one per minute
CLOUD_FACTOR_MIN = 0.1
CLOUD_FACTOR_MAX = 1.0
PERSISTENCE = 0.5  # decay of the moving-average weights (≈ lag-1 correlation of z)
PERSISTENCE_DAYS = 7  # days of history in the moving average

# Random streams: a different stream per purpose, so adding one never shifts another.
_STREAM_DAILY = 1
_STREAM_INTRADAY = 2


class Sky(StrEnum):
    """Daily sky state."""

    CLEAR = "clear"
    PARTLY = "partly"
    OVERCAST = "overcast"


class WeatherCell(NamedTuple):
    """A 0.1° × 0.1° cell; all stations in one cell share the same weather."""

    lat_e1: int  # latitude [0.1°]
    lon_e1: int  # longitude [0.1°]

    @property
    def latitude(self) -> float:
        """Cell latitude [°]."""
        return self.lat_e1 / 10

    @property
    def longitude(self) -> float:
        """Cell longitude [°]."""
        return self.lon_e1 / 10


@dataclass(frozen=True, slots=True)
class DayWeather:
    """The daily state of one cell: sky class and where the day sits inside that class.

    ``severity`` in [0, 1) is the position of the day's uniform draw inside the band of
    its sky class: 0 is the sunniest day of that class, 1 the cloudiest.
    """

    day: date
    sky: Sky
    severity: float
    cloudiness: float  # the day's uniform draw u in (0, 1); larger = cloudier


def weather_cell(latitude: float, longitude: float) -> WeatherCell:
    """The weather cell of a location: latitude/longitude [°] rounded to 0.1°."""
    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude out of range: {latitude}")
    if not -180.0 <= longitude <= 180.0:
        raise ValueError(f"longitude out of range: {longitude}")
    # floor(x + 0.5) rather than round(): no banker's rounding surprises at .x5
    return WeatherCell(math.floor(latitude * 10 + 0.5), math.floor(longitude * 10 + 0.5))


# --- climatology ------------------------------------------------------------------------

# (p_clear, p_partly, p_overcast) per calendar month, January first.
_NORTH: tuple[tuple[float, float, float], ...] = (
    (0.62, 0.28, 0.10),
    (0.58, 0.30, 0.12),
    (0.52, 0.32, 0.16),
    (0.48, 0.34, 0.18),
    (0.48, 0.35, 0.17),
    (0.36, 0.40, 0.24),
    (0.26, 0.42, 0.32),
    (0.30, 0.42, 0.28),
    (0.50, 0.34, 0.16),
    (0.56, 0.31, 0.13),
    (0.54, 0.31, 0.15),
    (0.60, 0.29, 0.11),
)
_HUAI: tuple[tuple[float, float, float], ...] = (
    (0.35, 0.36, 0.29),
    (0.31, 0.36, 0.33),
    (0.29, 0.37, 0.34),
    (0.33, 0.38, 0.29),
    (0.37, 0.37, 0.26),
    (0.25, 0.40, 0.35),
    (0.21, 0.42, 0.37),
    (0.25, 0.40, 0.35),
    (0.33, 0.36, 0.31),
    (0.41, 0.34, 0.25),
    (0.39, 0.34, 0.27),
    (0.39, 0.34, 0.27),
)
_BLEND_SOUTH_LAT = 33.0  # at or below: Huai River climatology [°]
_BLEND_NORTH_LAT = 41.0  # at or above: north China climatology [°]


def monthly_interpolate(values: Sequence[float], day: date) -> float:
    """Interpolate a 12-value monthly climatology (January first) at ``day``.

    Each value is taken to hold at the middle of its month; in between the value is
    linear in time, wrapping from December to January.
    """
    if len(values) != 12:
        raise ValueError("a monthly climatology needs 12 values")
    days_in_month = _days_in_month(day)
    # position in months relative to mid-January (0.0) .. mid-December (11.0)
    position = (day.month - 1) + (day.day - 0.5) / days_in_month - 0.5
    lower = math.floor(position)
    frac = position - lower
    a = values[lower % 12]
    b = values[(lower + 1) % 12]
    return a + (b - a) * frac


def _days_in_month(day: date) -> int:
    if day.month == 12:
        return 31
    return (date(day.year, day.month + 1, 1) - date(day.year, day.month, 1)).days


def _north_weight(latitude: float) -> float:
    lat = abs(latitude)
    w = (lat - _BLEND_SOUTH_LAT) / (_BLEND_NORTH_LAT - _BLEND_SOUTH_LAT)
    return min(1.0, max(0.0, w))


def _season_day(cell: WeatherCell, day: date) -> date:
    """The northern-hemisphere calendar day with the same season (southern: + 6 months)."""
    if cell.lat_e1 >= 0:
        return day
    month = (day.month + 5) % 12 + 1
    return date(2001, month, min(day.day, 28))


def sky_probabilities(cell: WeatherCell, day: date) -> tuple[float, float, float]:
    """Climatological ``(p_clear, p_partly, p_overcast)`` of a cell on a day (sum 1)."""
    season_day = _season_day(cell, day)
    w = _north_weight(cell.latitude)
    probs = []
    for k in range(3):
        north = monthly_interpolate([m[k] for m in _NORTH], season_day)
        huai = monthly_interpolate([m[k] for m in _HUAI], season_day)
        probs.append(w * north + (1.0 - w) * huai)
    total = sum(probs)
    return probs[0] / total, probs[1] / total, probs[2] / total


def expected_annual_shares(cell: WeatherCell, year: int) -> dict[Sky, float]:
    """Expected share of clear, partly cloudy and overcast days over a calendar year."""
    start = date(year, 1, 1)
    n = (date(year + 1, 1, 1) - start).days
    sums = [0.0, 0.0, 0.0]
    for ordinal in range(start.toordinal(), start.toordinal() + n):
        p = sky_probabilities(cell, date.fromordinal(ordinal))
        for k in range(3):
            sums[k] += p[k]
    return {Sky.CLEAR: sums[0] / n, Sky.PARTLY: sums[1] / n, Sky.OVERCAST: sums[2] / n}


# --- seeded randomness ------------------------------------------------------------------


def _rng(stream: int, seed: int, cell: WeatherCell, ordinal: int) -> np.random.Generator:
    """A generator keyed only by (stream, seed, cell, day): no shared state between calls."""
    entropy = [stream, seed % (1 << 64), cell.lat_e1 + 900, cell.lon_e1 + 1800, ordinal]
    return np.random.default_rng(np.random.SeedSequence(entropy))


_MA_WEIGHTS = tuple(PERSISTENCE**k for k in range(PERSISTENCE_DAYS))
_MA_NORM = math.sqrt(sum(w * w for w in _MA_WEIGHTS))


@lru_cache(maxsize=65536)
def _daily_innovation(seed: int, cell: WeatherCell, ordinal: int) -> float:
    return float(_rng(_STREAM_DAILY, seed, cell, ordinal).standard_normal())


@lru_cache(maxsize=16384)
def day_weather(cell: WeatherCell, day: date, *, seed: int) -> DayWeather:
    """The sky state of ``cell`` on local calendar day ``day`` for ``seed``."""
    ordinal = day.toordinal()
    z = sum(w * _daily_innovation(seed, cell, ordinal - k) for k, w in enumerate(_MA_WEIGHTS))
    u = 0.5 * (1.0 + math.erf(z / _MA_NORM / math.sqrt(2.0)))
    u = min(max(u, 1e-12), 1.0 - 1e-12)
    p_clear, p_partly, _ = sky_probabilities(cell, day)
    if u < p_clear:
        sky, severity = Sky.CLEAR, u / p_clear
    elif u < p_clear + p_partly:
        sky, severity = Sky.PARTLY, (u - p_clear) / p_partly
    else:
        sky, severity = Sky.OVERCAST, (u - p_clear - p_partly) / (1.0 - p_clear - p_partly)
    return DayWeather(day=day, sky=sky, severity=min(severity, 1.0 - 1e-12), cloudiness=u)


# --- intraday cloud factor --------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, knot_minutes: int, amplitude: float) -> np.ndarray:
    """Zero-mean noise, linear between random knots every ``knot_minutes`` [min]."""
    n_knots = MINUTES_PER_DAY // knot_minutes + 2
    knots = rng.standard_normal(n_knots) * amplitude
    return np.interp(np.arange(SAMPLES_PER_DAY), np.arange(n_knots) * knot_minutes, knots)


def _clear_series(rng: np.random.Generator, weather: DayWeather) -> np.ndarray:
    base = 1.0 - 0.06 * weather.severity - rng.uniform(0.0, 0.02)
    factor = base + _smooth_noise(rng, 90, 0.01)
    # the odd small cumulus crossing the sun
    for _ in range(int(rng.integers(0, 4)) if rng.random() < 0.35 else 0):
        start = int(rng.integers(6 * 60, 18 * 60))
        length = int(rng.integers(2, 12))
        factor[start : start + length] *= 1.0 - rng.uniform(0.3, 0.7)
    return factor


def _partly_series(rng: np.random.Generator, weather: DayWeather) -> np.ndarray:
    cover = 0.15 + 0.5 * weather.severity + rng.uniform(-0.05, 0.05)  # share of time shaded
    cover = min(max(cover, 0.1), 0.9)
    mean_shade = rng.uniform(3.0, 12.0)  # [min]
    mean_sun = mean_shade * (1.0 - cover) / cover
    # Alternating runs of shade and sun with geometric lengths [min]; every run is at
    # least one minute long, so SAMPLES_PER_DAY runs of each always cover the day.
    n = SAMPLES_PER_DAY
    shade_first = bool(rng.random() < cover)
    shade_len = rng.geometric(1.0 / max(mean_shade, 1.0), size=n)
    sun_len = rng.geometric(1.0 / max(mean_sun, 1.0), size=n)
    shade_level = rng.uniform(0.15, 0.5, size=n)
    sun_level = rng.uniform(0.93, 1.0, size=n)
    lengths = np.empty(2 * n, dtype=np.int64)
    levels = np.empty(2 * n)
    first, second = (0, 1) if shade_first else (1, 0)
    lengths[first::2], levels[first::2] = shade_len, shade_level
    lengths[second::2], levels[second::2] = sun_len, sun_level
    runs = int(np.searchsorted(np.cumsum(lengths), n)) + 1
    factor = np.repeat(levels[:runs], lengths[:runs])[:n]
    factor += _smooth_noise(rng, 20, 0.02)
    # soften the edges: a cloud edge takes a minute or so to cross the array
    padded = np.concatenate(([factor[0]], factor, [factor[-1]]))
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def _overcast_series(rng: np.random.Generator, weather: DayWeather) -> np.ndarray:
    base = 0.38 - 0.2 * weather.severity + rng.normal(0.0, 0.03)
    factor = base + _smooth_noise(rng, 60, 0.05)
    if rng.random() < 0.25:  # a thinner spell in the cloud deck
        start = int(rng.integers(7 * 60, 16 * 60))
        length = int(rng.integers(20, 120))
        factor[start : start + length] += rng.uniform(0.1, 0.3)
    return factor


def cloud_factor(cell: WeatherCell, day: date, *, seed: int) -> np.ndarray:
    """Multiplier of clear-sky GHI at each minute of the local day (1,441 values).

    Values lie in ``[CLOUD_FACTOR_MIN, CLOUD_FACTOR_MAX]``. A fresh array is returned.
    """
    weather = day_weather(cell, day, seed=seed)
    rng = _rng(_STREAM_INTRADAY, seed, cell, day.toordinal())
    if weather.sky is Sky.CLEAR:
        factor = _clear_series(rng, weather)
    elif weather.sky is Sky.PARTLY:
        factor = _partly_series(rng, weather)
    else:
        factor = _overcast_series(rng, weather)
    return np.clip(factor, CLOUD_FACTOR_MIN, CLOUD_FACTOR_MAX)


# --- ambient temperature ----------------------------------------------------------------

_DIURNAL_RANGE_C = {Sky.CLEAR: 12.0, Sky.PARTLY: 9.0, Sky.OVERCAST: 5.0}
_WARMEST_DAY_OF_YEAR = 200  # about 19 July
_WARMEST_HOUR = 15.0  # local solar-ish time of the daily maximum [h]


def ambient_temperature_c(
    cell: WeatherCell, day: date, *, sky: Sky, altitude_m: float = 0.0
) -> np.ndarray:
    """Air temperature [°C] at each minute of the local day (1,441 values)."""
    lat = min(max(abs(cell.latitude), 18.0), 50.0)
    annual_mean = 15.5 - 0.75 * (lat - 33.1) - 0.0065 * altitude_m
    half_range = 13.2 + 0.4 * (lat - 33.1)
    doy = _season_day(cell, day).timetuple().tm_yday
    daily_mean = annual_mean + half_range * math.cos(
        2.0 * math.pi * (doy - _WARMEST_DAY_OF_YEAR) / 365.25
    )
    hours = np.arange(SAMPLES_PER_DAY) / 60.0
    diurnal = 0.5 * _DIURNAL_RANGE_C[sky] * np.cos(2.0 * np.pi * (hours - _WARMEST_HOUR) / 24.0)
    return daily_mean + diurnal
