"""Expected energy and in-plane irradiation per station and local day (pvlib, modelled).

The model of :mod:`pvmon.sitemodel` (as the dividends' expected yield), per day of one
month instead of per typical year; a station that produces exactly as expected has a
performance ratio of :data:`MODEL_PR` (0.826).
Sampled every 10 minutes at the middle of each step, over China Standard Time days.
Sites are rounded to 0.5° cells, tilt and azimuth to whole degrees, and cached, so a
county costs a few pvlib calls. There are no irradiance sensors on these stations: the
irradiation is the model's, never a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from pvmon.sitemodel import CLEAR_SKY_INDEX, MODEL_PR, plane_irradiance_w_m2

__all__ = ["CLEAR_SKY_INDEX", "MODEL_PR", "SiteDays", "month_days", "site_days"]

_STEP_MIN = 10


@dataclass(frozen=True)
class SiteDays:
    """Modelled figures of one site per local day of a month.

    ``irradiation_wh_m2[i]`` [Wh/m²] is the in-plane irradiation of day ``first + i``,
    ``expected_wh_per_kwp[i]`` [Wh/kWp] the expected AC energy per kWp.
    """

    first: date
    irradiation_wh_m2: tuple[float, ...]
    expected_wh_per_kwp: tuple[float, ...]


def month_days(month_start: date) -> list[date]:
    """The local days of the month that starts on ``month_start``."""
    if month_start.day != 1:
        raise ValueError("month_start must be the first day of a month")
    nxt = date(month_start.year + month_start.month // 12, month_start.month % 12 + 1, 1)
    return [month_start + timedelta(days=i) for i in range((nxt - month_start).days)]


@lru_cache(maxsize=1024)
def _cell(lat: float, lon: float, tilt: float, azimuth: float, first: date) -> SiteDays:
    import pandas as pd

    days = month_days(first)
    steps = 24 * 60 // _STEP_MIN
    times = pd.date_range(
        pd.Timestamp(first, tz="Asia/Shanghai") + pd.Timedelta(minutes=_STEP_MIN / 2),
        periods=len(days) * steps,
        freq=f"{_STEP_MIN}min",
    )
    poa_w_m2 = plane_irradiance_w_m2(
        latitude=lat, longitude=lon, tilt_deg=tilt, azimuth_deg=azimuth, times=times
    )
    per_day = poa_w_m2.reshape(len(days), steps).sum(axis=1) * _STEP_MIN / 60  # [Wh/m²]
    # 1 kWp is rated at 1 kW/m²: expected DC [Wh/kWp] = irradiation [Wh/m²] × (1 − losses)
    expected = per_day * MODEL_PR
    return SiteDays(
        first=first,
        irradiation_wh_m2=tuple(float(x) for x in per_day),
        expected_wh_per_kwp=tuple(float(x) for x in expected),
    )


def site_days(
    latitude: float, longitude: float, *, tilt_deg: float, azimuth_deg: float, month_start: date
) -> SiteDays:
    """Modelled irradiation [Wh/m²] and expected energy [Wh/kWp] per day of the month
    starting ``month_start`` at the site (0.5° cell, whole-degree orientation)."""
    return _cell(
        round(latitude * 2) / 2,
        round(longitude * 2) / 2,
        float(round(tilt_deg)),
        float(round(azimuth_deg)),
        month_start,
    )
