"""Sun, weather and PV physics for the inverter simulator: AC power of one inverter per minute.

A :class:`Site` is the PV array behind **one inverter**: a 4.32 kWp household station
is one site (4.32 kWp, ~4 kW inverter); a 187.2 kWp village station with three 50 kW
inverters is three sites of 62.4 kWp / 50 kW each (pass a distinct ``device_key`` per
inverter).

Power model (per local calendar day, 1,441 samples 00:00..24:00, one per minute)
--------------------------------------------------------------------------------
1. Solar position (pvlib NREL SPA, numpy) and clear sky: Ineichen/Perez with pvlib's
   shipped Linke turbidity climatology (read once per weather cell, interpolated between
   mid-months; if the lookup cannot be read, e.g. without h5py, a fixed seasonal
   turbidity table is used instead, still with Ineichen).
2. Weather: clear-sky GHI × the seeded 1-minute cloud factor of
   :mod:`simulators.weather` (same for every station of one 0.1° cell).
3. Direct and diffuse parts (:func:`all_sky_irradiance`): where the sky is clear (cloud
   factor at or above :data:`CLEAR_INDEX_CLEAR`) the clear-sky model's own DNI/DHI, scaled
   by the cloud factor (haze thins both alike); where a cloud covers the sun (factor at
   or below :data:`CLEAR_INDEX_CLOUDY`) the Erbs decomposition of the attenuated GHI,
   which puts nearly all of it into diffuse light; linear in between. (Erbs on a clear
   sky gives too much diffuse light: clear winter days came out ~9 % low on a tilted
   plane against the clear-sky model's own split.) Transposition to the fixed plane of
   array with Hay-Davies (albedo 0.2); ASHRAE incidence-angle modifier on the beam
   component.
4. Cell temperature: Faiman with the seasonal/diurnal ambient model of
   :mod:`simulators.weather` and 2 m/s wind.
5. DC: PVWatts, γ = -0.37 %/°C, 14 % system losses (PVWatts default).
6. Per device: × capacity [kWp] × linear degradation 0.5 %/year since commissioning ×
   a deterministic per-device factor within ±2 % (from ``device_key``), then the PVWatts
   inverter (96 % nominal efficiency) clipping at ``rated_ac_w``. Night is exactly 0 W;
   before ``commissioned_on`` the output is 0 W.

Power between the minute samples is piecewise linear, and every energy figure is the
exact integral of that piecewise-linear power, so a simulated lifetime counter equal to
:func:`energy_between_wh` from commissioning has :func:`daily_energy_wh` as its ground
truth per inverter-day.

Performance: steps 1-5 give a normalised DC profile [W/kWp] that depends only on
(weather cell, tilt, azimuth, altitude rounded to 100 m, time zone, day, seed); it is
kept in a bounded, thread-safe LRU cache (:data:`PROFILE_CACHE_SIZE` entries of 11.5 kB)
and reused by every station in the cell with that orientation. Step 6 is a few vector
operations. Many days at once (:func:`days_power_w`, the history backfill) compute the
missing profiles in one vectorised pass, up to :data:`_DAYS_PER_PASS` days: one solar
position and clear-sky computation per cell for all of them, shared by every
orientation in the cell. The location-independent 80 % of NREL SPA (Earth-Sun geometry,
nutation, sidereal time) is computed once per time for every cell; only the topocentric
rest is per cell, bit for bit what pvlib's ``get_solarposition`` gives (a test checks
it). A day's values are the same whichever way it was computed (elementwise arithmetic
on the same inputs).

Plausibility (published references; see tests/simulators/test_physics.py)
-------------------------------------------------------------------------
* Resource zones: the NDRC 2013 on-grid price notice (发改价格〔2013〕1638号) puts
  Liaoning in PV resource zone II and Anhui in zone III ("rest of the country")
  (pv-tech.org, "China introduces regional solar tariff zones", 2 Sep 2013; top50-solar.de
  summary of the 2013 NDRC/NEA tariffs).
* Reasonable lifetime utilisation hours per resource zone, MoF/NDRC/NEA
  Cai Jian〔2020〕426号 (20 Oct 2020): 32,000 / 26,000 / 22,000 h over 20 years for zones
  I / II / III, i.e. about 1,600 / 1,300 / 1,100 kWh/kWp per year on average over the
  life (en.linuosp.com/news_details/1848603653207023616.html).
* NDRC/NEA 发改能源〔2016〕1150号 minimum guaranteed purchase hours for PV in the zone
  I/II key areas: 1,300-1,500 h (chinaenergyportal.org translation; en.600869.com
  summary, 3 Jun 2016).
* NEA 2015 statistics: national average 1,133 full-load hours, curtailment included
  (chinaenergyportal.org "2015 PV installations utility and distributed by province").

Accepted ranges used by the tests: Lingyuan, Liaoning (zone II): 1,250-1,600 kWh/kWp;
Lixin, Anhui (zone III): 1,000-1,300 kWh/kWp (a new system in its first years, no
curtailment or outages, so at or somewhat above the zone's lifetime average).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pvlib
from pvlib import spa

from simulators.weather import (
    MINUTES_PER_DAY,
    SAMPLES_PER_DAY,
    WeatherCell,
    ambient_temperature_c,
    cloud_factor,
    day_weather,
    monthly_interpolate,
    weather_cell,
)

__all__ = [
    "ALBEDO",
    "CLEAR_INDEX_CLEAR",
    "CLEAR_INDEX_CLOUDY",
    "DEGRADATION_PER_YEAR",
    "DEVICE_SPREAD",
    "GAMMA_PDC",
    "INVERTER_EFFICIENCY_NOMINAL",
    "PROFILE_CACHE_SIZE",
    "SYSTEM_LOSSES",
    "WIND_SPEED_M_S",
    "CacheStats",
    "ProfileKey",
    "Site",
    "all_sky_irradiance",
    "annual_specific_yield_kwh_per_kwp",
    "clear_cache",
    "daily_energy_wh",
    "day_power_w",
    "days_power_w",
    "degradation_factor",
    "device_factor",
    "energy_between_wh",
    "plane_of_array_w_m2",
    "power_at_w",
    "profile_cache_info",
    "profile_key",
]

GAMMA_PDC = -0.0037  # power temperature coefficient [1/°C]
SYSTEM_LOSSES = 0.14  # soiling, mismatch, wiring, connections, LID, nameplate, availability
INVERTER_EFFICIENCY_NOMINAL = 0.96
DEGRADATION_PER_YEAR = 0.005  # linear, of the initial output [1/year]
DEVICE_SPREAD = 0.02  # per-device factor lies within 1 ± DEVICE_SPREAD
ALBEDO = 0.2
WIND_SPEED_M_S = 2.0  # at module height [m/s]
PROFILE_CACHE_SIZE = 4096  # normalised profiles kept (11.5 kB each)
# Cloud factor (clear-sky index) at or above which the sun is unobstructed: the clear-sky
# model's own direct/diffuse split holds. Sun runs of partly cloudy days and clear days
# lie at 0.92-1.0 (simulators.weather).
CLEAR_INDEX_CLEAR = 0.9
# At or below this a cloud covers the sun: the Erbs decomposition (mostly diffuse light).
# Cloud shade lies at 0.15-0.5 and overcast skies at 0.1-0.4 (simulators.weather).
CLEAR_INDEX_CLOUDY = 0.6

_ALTITUDE_STEP_M = 100.0  # profiles are shared by sites whose altitudes round alike [m]
# Days computed in one vectorised pass: 31 days of a cell's sun and sky take ~0.4 s and
# ~10 MB; one day at a time takes ~2x as long (pvlib's per-call overhead).
_DAYS_PER_PASS = 31
# Used only if pvlib's Linke turbidity climatology cannot be read (no h5py / no file):
# a rough mid-latitude East Asian seasonal course, hazier in summer.
_FALLBACK_LINKE = (2.6, 2.6, 3.0, 3.6, 4.0, 4.3, 4.5, 4.4, 3.8, 3.2, 2.8, 2.6)


@dataclass(frozen=True, slots=True)
class Site:
    """The PV array behind one inverter.

    latitude, longitude [°]; capacity_kwp [kWp] DC; tilt_deg [°] from horizontal;
    azimuth_deg [°] clockwise from north (180 = south); rated_ac_w [W] inverter rating;
    commissioned_on: first day of production; altitude_m [m]; timezone: IANA name of a
    zone without daylight saving time (days must have 1,440 minutes).
    """

    latitude: float
    longitude: float
    capacity_kwp: float
    tilt_deg: float
    azimuth_deg: float
    rated_ac_w: float
    commissioned_on: date
    altitude_m: float = 0.0
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        for name in ("latitude", "longitude", "capacity_kwp", "tilt_deg", "azimuth_deg"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "rated_ac_w", float(self.rated_ac_w))
        object.__setattr__(self, "altitude_m", float(self.altitude_m))
        if isinstance(self.commissioned_on, datetime):
            object.__setattr__(self, "commissioned_on", self.commissioned_on.date())
        if not isinstance(self.commissioned_on, date):
            raise TypeError(f"commissioned_on must be a date, got {self.commissioned_on!r}")
        weather_cell(self.latitude, self.longitude)  # validates the coordinates
        if not self.capacity_kwp > 0:
            raise ValueError(f"capacity_kwp must be positive: {self.capacity_kwp}")
        if not self.rated_ac_w > 0:
            raise ValueError(f"rated_ac_w must be positive: {self.rated_ac_w}")
        if not 0.0 <= self.tilt_deg <= 90.0:
            raise ValueError(f"tilt_deg out of range: {self.tilt_deg}")
        if not 0.0 <= self.azimuth_deg <= 360.0:
            raise ValueError(f"azimuth_deg out of range: {self.azimuth_deg}")
        zone = ZoneInfo(self.timezone)
        winter = datetime(2020, 1, 15, tzinfo=zone).utcoffset()
        summer = datetime(2020, 7, 15, tzinfo=zone).utcoffset()
        if winter != summer:
            raise ValueError(f"time zones with daylight saving time are not supported: {zone}")

    @property
    def cell(self) -> WeatherCell:
        """The 0.1° weather cell the site belongs to."""
        return weather_cell(self.latitude, self.longitude)


# --- the normalised per-kWp DC profile (cached) -----------------------------------------


@lru_cache(maxsize=1024)
def _monthly_linke(cell: WeatherCell) -> tuple[float, ...]:
    months = pd.DatetimeIndex([f"2001-{m:02d}-15" for m in range(1, 13)])
    try:
        values = pvlib.clearsky.lookup_linke_turbidity(
            months, cell.latitude, cell.longitude, interp_turbidity=False
        )
    except (ImportError, OSError):
        return _FALLBACK_LINKE
    return tuple(float(v) for v in values)


def _day_times(day: date, timezone: str) -> pd.DatetimeIndex:
    start = pd.Timestamp(datetime.combine(day, time())).tz_localize(timezone)
    return pd.date_range(start=start, periods=SAMPLES_PER_DAY, freq="1min")


class _Sun(NamedTuple):
    """Sun and clear sky of one cell over a run of days: arrays of (days, 1,441)."""

    zenith: np.ndarray  # [°]
    apparent_zenith: np.ndarray  # [°]
    azimuth: np.ndarray  # [°]
    ghi: np.ndarray  # clear-sky global horizontal [W/m2]
    dni: np.ndarray  # clear-sky direct normal [W/m2]
    dhi: np.ndarray  # clear-sky diffuse horizontal [W/m2]
    dni_extra: np.ndarray  # extraterrestrial direct normal [W/m2]
    day_of_year: np.ndarray  # [1..366]


class _Geocentric(NamedTuple):
    """The location-independent part of NREL SPA for a run of times (pvlib.spa names)."""

    times: pd.DatetimeIndex
    sidereal_time: np.ndarray  # v [°]
    right_ascension: np.ndarray  # alpha [°]
    declination: np.ndarray  # delta [°]
    radius: np.ndarray  # R, Earth-Sun distance [AU]


_SPA_DELTA_T_S = 67.0  # pvlib's default ΔT [s]
_SPA_REFRACTION_DEG = 0.5667  # pvlib's default atmospheric refraction at sunrise [°]
_SPA_TEMPERATURE_C = 12.0  # pvlib's default for the refraction correction [°C]


# 12 passes of 31 days (1.8 MB each) are a year: a year's backfill computes them once
@lru_cache(maxsize=12)
def _geocentric(timezone: str, ordinals: tuple[int, ...]) -> _Geocentric:
    """Sun as seen from the Earth's centre at each minute of the days: the costly 80 % of
    SPA, shared by every weather cell (the steps of pvlib.spa.solar_position_numpy)."""
    days = [date.fromordinal(o) for o in ordinals]
    times = _day_times(days[0], timezone) if len(days) == 1 else _many_day_times(days, timezone)
    epoch = pd.Timestamp("1970-01-01", tz="UTC").tz_convert(times.tz)
    unixtime = np.array((times - epoch) / pd.Timedelta("1s"))
    jd = spa.julian_day(unixtime)
    jde = spa.julian_ephemeris_day(jd, _SPA_DELTA_T_S)
    jc = spa.julian_century(jd)
    jce = spa.julian_ephemeris_century(jde)
    jme = spa.julian_ephemeris_millennium(jce)
    radius = spa.heliocentric_radius_vector(jme)
    theta = spa.geocentric_longitude(spa.heliocentric_longitude(jme))
    beta = spa.geocentric_latitude(spa.heliocentric_latitude(jme))
    x0 = spa.mean_elongation(jce)
    x1 = spa.mean_anomaly_sun(jce)
    x2 = spa.mean_anomaly_moon(jce)
    x3 = spa.moon_argument_latitude(jce)
    x4 = spa.moon_ascending_longitude(jce)
    nutation = np.empty((2, len(x0)))
    spa.longitude_obliquity_nutation(jce, x0, x1, x2, x3, x4, nutation)
    delta_psi, delta_epsilon = nutation[0], nutation[1]
    epsilon = spa.true_ecliptic_obliquity(spa.mean_ecliptic_obliquity(jme), delta_epsilon)
    lamd = spa.apparent_sun_longitude(theta, delta_psi, spa.aberration_correction(radius))
    v = spa.apparent_sidereal_time(spa.mean_sidereal_time(jd, jc), delta_psi, epsilon)
    alpha = spa.geocentric_sun_right_ascension(lamd, epsilon, beta)
    delta = spa.geocentric_sun_declination(lamd, epsilon, beta)
    return _Geocentric(times, v, alpha, delta, radius)


def _solar_position(geo: _Geocentric, cell: WeatherCell, altitude_m: float) -> pd.DataFrame:
    """The topocentric rest of SPA for one place: bitwise what pvlib's
    ``Location.get_solarposition(method="nrel_numpy")`` gives (a test checks it)."""
    lat, lon = cell.latitude, cell.longitude
    pressure_mbar = float(pvlib.atmosphere.alt2pres(altitude_m)) / 100.0
    hour_angle = spa.local_hour_angle(geo.sidereal_time, lon, geo.right_ascension)
    xi = spa.equatorial_horizontal_parallax(geo.radius)
    u = spa.uterm(lat)
    x = spa.xterm(u, lat, altitude_m)
    y = spa.yterm(u, lat, altitude_m)
    delta_alpha = spa.parallax_sun_right_ascension(x, xi, hour_angle, geo.declination)
    delta_prime = spa.topocentric_sun_declination(
        geo.declination, x, y, xi, delta_alpha, hour_angle
    )
    h_prime = spa.topocentric_local_hour_angle(hour_angle, delta_alpha)
    e0 = spa.topocentric_elevation_angle_without_atmosphere(lat, delta_prime, h_prime)
    delta_e = spa.atmospheric_refraction_correction(
        pressure_mbar, _SPA_TEMPERATURE_C, e0, _SPA_REFRACTION_DEG
    )
    e = spa.topocentric_elevation_angle(e0, delta_e)
    gamma = spa.topocentric_astronomers_azimuth(h_prime, delta_prime, lat)
    return pd.DataFrame(
        {
            "apparent_zenith": spa.topocentric_zenith_angle(e),
            "zenith": spa.topocentric_zenith_angle(e0),
            "apparent_elevation": e,
            "elevation": e0,
            "azimuth": spa.topocentric_azimuth_angle(gamma),
        },
        index=geo.times,
    )


@lru_cache(maxsize=4)
def _sun(cell: WeatherCell, altitude_m: float, timezone: str, ordinals: tuple[int, ...]) -> _Sun:
    """Solar position (NREL SPA) and Ineichen clear sky of one cell for all the days."""
    days = [date.fromordinal(o) for o in ordinals]
    geo = _geocentric(timezone, ordinals)
    times = geo.times
    location = pvlib.location.Location(
        cell.latitude, cell.longitude, tz=timezone, altitude=altitude_m
    )
    solpos = _solar_position(geo, cell, altitude_m)
    monthly = _monthly_linke(cell)
    linke = pd.Series(
        np.repeat([monthly_interpolate(monthly, d) for d in days], SAMPLES_PER_DAY), index=times
    )
    clear = location.get_clearsky(
        times, model="ineichen", solar_position=solpos, linke_turbidity=linke
    )
    doy = np.array([d.timetuple().tm_yday for d in days], dtype=float)
    extra = np.asarray(pvlib.irradiance.get_extra_radiation(doy), dtype=float)
    shape = (len(days), SAMPLES_PER_DAY)

    def grid(values: pd.Series | np.ndarray) -> np.ndarray:
        out = np.asarray(values, dtype=float).reshape(shape)
        out.flags.writeable = False
        return out

    return _Sun(
        zenith=grid(solpos["zenith"]),
        apparent_zenith=grid(solpos["apparent_zenith"]),
        azimuth=grid(solpos["azimuth"]),
        ghi=grid(clear["ghi"]),
        dni=grid(clear["dni"]),
        dhi=grid(clear["dhi"]),
        dni_extra=grid(np.repeat(extra, SAMPLES_PER_DAY)),
        day_of_year=grid(np.repeat(doy, SAMPLES_PER_DAY)),
    )


def _many_day_times(days: Sequence[date], timezone: str) -> pd.DatetimeIndex:
    first, *rest = (_day_times(d, timezone) for d in days)
    return first.append(rest)


def all_sky_irradiance(
    *,
    cloud: np.ndarray,
    ghi_clear: np.ndarray,
    dni_clear: np.ndarray,
    dhi_clear: np.ndarray,
    zenith: np.ndarray,
    day_of_year: np.ndarray | float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GHI, DNI, DHI [W/m2] under clouds from the clear sky and the cloud factor.

    ``cloud`` multiplies the clear-sky GHI [W/m2] (``ghi_clear``; ``dni_clear``,
    ``dhi_clear`` are the clear-sky model's own parts). With the sun unobstructed
    (``cloud >= CLEAR_INDEX_CLEAR``) the parts are the clear-sky model's, scaled by
    ``cloud``; with a cloud over the sun (``cloud <= CLEAR_INDEX_CLOUDY``) they are the
    Erbs decomposition of the attenuated GHI (true solar ``zenith`` [°]); linear in
    between. A pure function of arrays of one shape (any shape).
    """
    ghi = ghi_clear * cloud
    erbs = pvlib.irradiance.erbs(np.ravel(ghi), np.ravel(zenith), np.ravel(day_of_year))
    erbs_dni = np.asarray(erbs["dni"], dtype=float).reshape(np.shape(ghi))
    erbs_dhi = np.asarray(erbs["dhi"], dtype=float).reshape(np.shape(ghi))
    weight = np.clip(
        (cloud - CLEAR_INDEX_CLOUDY) / (CLEAR_INDEX_CLEAR - CLEAR_INDEX_CLOUDY), 0.0, 1.0
    )
    dni = weight * cloud * dni_clear + (1.0 - weight) * erbs_dni
    dhi = weight * cloud * dhi_clear + (1.0 - weight) * erbs_dhi
    return ghi, np.nan_to_num(dni), np.nan_to_num(dhi)


class _PlaneOfArray(NamedTuple):
    poa_global: np.ndarray  # [W/m2]
    effective: np.ndarray  # beam after the incidence-angle modifier + diffuse [W/m2]


def _plane_of_array(
    sun: _Sun, cloud: np.ndarray, tilt_deg: float, azimuth_deg: float
) -> _PlaneOfArray:
    ghi, dni, dhi = all_sky_irradiance(
        cloud=cloud,
        ghi_clear=sun.ghi,
        dni_clear=sun.dni,
        dhi_clear=sun.dhi,
        zenith=sun.zenith,
        day_of_year=sun.day_of_year,
    )
    shape = ghi.shape
    apparent_zenith = sun.apparent_zenith.ravel()
    azimuth = sun.azimuth.ravel()
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        apparent_zenith,
        azimuth,
        dni=dni.ravel(),
        ghi=ghi.ravel(),
        dhi=dhi.ravel(),
        dni_extra=sun.dni_extra.ravel(),
        model="haydavies",
        albedo=ALBEDO,
    )
    aoi = pvlib.irradiance.aoi(tilt_deg, azimuth_deg, apparent_zenith, azimuth)
    iam = pvlib.iam.ashrae(aoi)
    effective = np.nan_to_num(poa["poa_direct"] * iam + poa["poa_diffuse"])
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    return _PlaneOfArray(poa_global.reshape(shape), np.asarray(effective).reshape(shape))


def _compute_profiles(key: ProfileKey, ordinals: tuple[int, ...], seed: int) -> np.ndarray:
    """DC power after system losses [W per kWp], (days, 1,441), for one pass of days."""
    cell, tilt_deg, azimuth_deg, altitude_m, timezone = key
    sun = _sun(cell, altitude_m, timezone, ordinals)
    days = [date.fromordinal(o) for o in ordinals]
    cloud = np.stack([cloud_factor(cell, d, seed=seed) for d in days])
    plane = _plane_of_array(sun, cloud, tilt_deg, azimuth_deg)
    temp_air = np.stack(
        [
            ambient_temperature_c(
                cell, d, sky=day_weather(cell, d, seed=seed).sky, altitude_m=altitude_m
            )
            for d in days
        ]
    )
    temp_cell = pvlib.temperature.faiman(plane.poa_global, temp_air, wind_speed=WIND_SPEED_M_S)
    dc = pvlib.pvsystem.pvwatts_dc(plane.effective, temp_cell, pdc0=1000.0, gamma_pdc=GAMMA_PDC)
    dc = np.asarray(dc, dtype=float) * (1.0 - SYSTEM_LOSSES)
    dc[(sun.apparent_zenith >= 90.0) | ~np.isfinite(dc) | (dc < 0.0)] = 0.0
    return dc


class ProfileKey(NamedTuple):
    """What a normalised profile depends on besides the day and the seed."""

    cell: WeatherCell
    tilt_deg: float
    azimuth_deg: float
    altitude_m: float
    timezone: str


def profile_key(site: Site) -> ProfileKey:
    """The key under which sites share normalised profiles: same cell, orientation
    (0.1°), altitude (100 m) and time zone. Order work by it to reuse the cache."""
    return ProfileKey(
        site.cell,
        round(site.tilt_deg, 1),
        round(site.azimuth_deg, 1),
        round(site.altitude_m / _ALTITUDE_STEP_M) * _ALTITUDE_STEP_M,
        site.timezone,
    )


class _ProfileCache:
    """A bounded LRU of read-only profiles, safe to share between threads (the demo's
    backfill runs beside the live simulator)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._store: OrderedDict[tuple[ProfileKey, int, int], np.ndarray] = OrderedDict()

    def profiles(self, key: ProfileKey, ordinals: Sequence[int], seed: int) -> list[np.ndarray]:
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for ordinal in ordinals:
                entry = self._store.get((key, ordinal, seed))
                if entry is not None:
                    self._store.move_to_end((key, ordinal, seed))
                    found[ordinal] = entry
            missing = sorted(set(ordinals) - found.keys())
            self.hits += len(ordinals) - len(missing)
            self.misses += len(missing)
        for first in range(0, len(missing), _DAYS_PER_PASS):
            batch = tuple(missing[first : first + _DAYS_PER_PASS])
            rows = _compute_profiles(key, batch, seed)
            with self._lock:
                for ordinal, row in zip(batch, rows, strict=True):
                    row.flags.writeable = False
                    found[ordinal] = row
                    self._store[(key, ordinal, seed)] = row
                while len(self._store) > self.maxsize:
                    self._store.popitem(last=False)
        return [found[o] for o in ordinals]

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self.hits = self.misses = 0

    def info(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._store), self.maxsize)


def clear_cache() -> None:
    """Forget every cached profile (and the cached daily weather and sun)."""
    _PROFILES.clear()
    _sun.cache_clear()
    day_weather.cache_clear()


class CacheStats(NamedTuple):
    """Counters of the normalised-profile cache."""

    hits: int
    misses: int
    size: int
    maxsize: int


_PROFILES = _ProfileCache(PROFILE_CACHE_SIZE)


def profile_cache_info() -> CacheStats:
    """Hits, misses and size of the profile cache, for logs, benchmarks and tests."""
    return _PROFILES.info()


def plane_of_array_w_m2(site: Site, day: date, *, seed: int | None) -> np.ndarray:
    """Global irradiance on the plane of array [W/m2] at each minute of local ``day``.

    ``seed=None``: a cloudless sky (cloud factor 1, the clear-sky model alone); otherwise
    the seeded weather of the site's cell, as the power model sees it.
    """
    key = profile_key(site)
    sun = _sun(key.cell, key.altitude_m, key.timezone, (day.toordinal(),))
    if seed is None:
        cloud = np.ones_like(sun.ghi)
    else:
        cloud = cloud_factor(key.cell, day, seed=seed)[np.newaxis, :]
    plane = _plane_of_array(sun, cloud, site.tilt_deg, site.azimuth_deg)
    return np.array(plane.poa_global[0], dtype=float)


# --- per device -------------------------------------------------------------------------


def device_factor(device_key: str) -> float:
    """Deterministic per-device output factor within 1 ± DEVICE_SPREAD; 1.0 for ``""``."""
    if not device_key:
        return 1.0
    digest = hashlib.blake2b(device_key.encode("utf-8"), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / float(1 << 64)  # [0, 1)
    return 1.0 + DEVICE_SPREAD * (2.0 * u - 1.0)


def degradation_factor(site: Site, day: date) -> float:
    """Remaining output fraction on ``day``: 1 - 0.5 %/year × age since commissioning."""
    age_years = max(0, (day - site.commissioned_on).days) / 365.25
    return max(0.0, 1.0 - DEGRADATION_PER_YEAR * age_years)


_ZEROS = np.zeros(SAMPLES_PER_DAY)
_ZEROS.flags.writeable = False


def _ac_curves(site: Site, days: Sequence[date], seed: int, device_key: str) -> np.ndarray:
    """AC power [W] at each minute of each local day, (days, 1,441); a fresh array."""
    profiles = np.stack(_PROFILES.profiles(profile_key(site), [d.toordinal() for d in days], seed))
    scale = site.capacity_kwp * device_factor(device_key)
    degradation = np.array([degradation_factor(site, d) for d in days])
    dc = profiles * (scale * degradation)[:, np.newaxis]
    ac = pvlib.inverter.pvwatts(
        dc, site.rated_ac_w / INVERTER_EFFICIENCY_NOMINAL, INVERTER_EFFICIENCY_NOMINAL
    )
    ac = np.clip(np.asarray(ac, dtype=float), 0.0, site.rated_ac_w)
    ac[dc <= 0.0] = 0.0
    ac[np.array([d < site.commissioned_on for d in days])] = 0.0
    return ac


def _ac_curve(site: Site, day: date, seed: int, device_key: str) -> np.ndarray:
    """AC power [W] at each minute of the local day; may be a shared read-only array."""
    if day < site.commissioned_on:
        return _ZEROS
    return _ac_curves(site, [day], seed, device_key)[0]


def day_power_w(site: Site, day: date, *, seed: int, device_key: str = "") -> np.ndarray:
    """AC power [W] at each minute of local day ``day``, 00:00..24:00 inclusive (1,441)."""
    return np.array(_ac_curve(site, day, seed, device_key), dtype=float)


def days_power_w(
    site: Site, days: Sequence[date], *, seed: int, device_key: str = ""
) -> np.ndarray:
    """AC power [W] at each minute of each local day, shape (len(days), 1,441).

    Row ``i`` equals ``day_power_w(site, days[i], ...)``; the missing profiles are
    computed in vectorised passes over the days (the history backfill's path).
    """
    if not days:
        return np.zeros((0, SAMPLES_PER_DAY))
    return _ac_curves(site, days, seed, device_key)


def _cumulative_w_min(power: np.ndarray) -> np.ndarray:
    """Energy [W·min] from 00:00 to each minute sample (trapezoids = exact integral)."""
    out = np.empty(SAMPLES_PER_DAY)
    out[0] = 0.0
    np.cumsum(0.5 * (power[:-1] + power[1:]), out=out[1:])
    return out


def _energy_to_w_min(power: np.ndarray, cumulative: np.ndarray, minute: float) -> float:
    """Exact integral [W·min] of the piecewise-linear power from 00:00 to ``minute``."""
    if minute >= MINUTES_PER_DAY:
        return float(cumulative[-1])
    i = math.floor(minute)
    frac = minute - i
    if frac == 0.0:
        return float(cumulative[i])
    p_i = float(power[i])
    p_x = p_i + frac * (float(power[i + 1]) - p_i)
    return float(cumulative[i]) + frac * 0.5 * (p_i + p_x)


def _local(site: Site, t: datetime) -> tuple[date, float]:
    """Local day of an aware datetime and the minutes since that day's 00:00."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got {t!r}")
    zone = ZoneInfo(site.timezone)
    local = t.astimezone(zone)
    day = local.date()
    midnight = datetime.combine(day, time(), tzinfo=zone)
    seconds = (local.astimezone(UTC) - midnight.astimezone(UTC)) / timedelta(seconds=1)
    return day, seconds / 60.0


def power_at_w(site: Site, t: datetime, *, seed: int, device_key: str = "") -> float:
    """AC power [W] at an aware datetime, linear between the minute samples."""
    day, minute = _local(site, t)
    if day < site.commissioned_on:
        return 0.0
    power = _ac_curve(site, day, seed, device_key)
    i = min(math.floor(minute), MINUTES_PER_DAY - 1)
    frac = minute - i
    return float(power[i] + frac * (power[i + 1] - power[i]))


def energy_between_wh(
    site: Site, start: datetime, end: datetime, *, seed: int, device_key: str = ""
) -> float:
    """Exact energy [Wh] of the piecewise-linear AC power from ``start`` to ``end``.

    Both must be aware datetimes, ``start <= end``; any span, across days.
    """
    first_day, first_minute = _local(site, start)
    last_day, last_minute = _local(site, end)
    if (last_day, last_minute) < (first_day, first_minute):
        raise ValueError("end is before start")
    total = 0.0
    ordinal = max(first_day.toordinal(), site.commissioned_on.toordinal())
    while ordinal <= last_day.toordinal():
        day = date.fromordinal(ordinal)
        ordinal += 1
        a = first_minute if day == first_day else 0.0
        b = last_minute if day == last_day else float(MINUTES_PER_DAY)
        if b <= a:
            continue
        power = _ac_curve(site, day, seed, device_key)
        cumulative = _cumulative_w_min(power)
        total += _energy_to_w_min(power, cumulative, b) - _energy_to_w_min(power, cumulative, a)
    return total / 60.0


def daily_energy_wh(site: Site, day: date, *, seed: int, device_key: str = "") -> float:
    """Energy [Wh] of local day ``day`` (00:00 to 24:00): the ground truth per inverter-day."""
    if day < site.commissioned_on:
        return 0.0
    power = _ac_curve(site, day, seed, device_key)
    return float(_cumulative_w_min(power)[-1]) / 60.0


def annual_specific_yield_kwh_per_kwp(site: Site, year: int, *, seed: int) -> float:
    """AC energy of calendar year ``year`` per kWp of the site [kWh/kWp].

    Degradation applies; days before commissioning count as zero.
    """
    start = date(year, 1, 1).toordinal()
    end = date(year + 1, 1, 1).toordinal()
    power = days_power_w(site, [date.fromordinal(o) for o in range(start, end)], seed=seed)
    total_wh = float(np.sum(0.5 * (power[:, :-1] + power[:, 1:]))) / 60.0
    return total_wh / 1000.0 / site.capacity_kwp
