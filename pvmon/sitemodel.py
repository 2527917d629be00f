"""The modelled sun on a station's panels, as expected yields are made of.

There are no irradiance sensors on these stations, so what a station should produce is
a model, the same wherever pvmon states it (the dividends' 20-year schedule, the monthly
report): solar position, pvlib's Ineichen clear sky (Linke turbidity 3.0) scaled by a
climatological clear-sky index of :data:`CLEAR_SKY_INDEX` (0.70, a typical annual mean
for northern China: an assumption, stated, not a measurement), Erbs decomposition,
isotropic transposition to the array plane; expected AC energy is the in-plane
irradiation × (1 − 14 % system losses) × 96 % inverter efficiency, so a station that
produces exactly as expected has a performance ratio of :data:`MODEL_PR` (0.826).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["CLEAR_SKY_INDEX", "MODEL_PR", "plane_irradiance_w_m2"]

CLEAR_SKY_INDEX = 0.70
_SYSTEM_LOSSES = 0.14
_INVERTER_EFF = 0.96
#: performance ratio of a station producing exactly the expected energy [1]
MODEL_PR = (1 - _SYSTEM_LOSSES) * _INVERTER_EFF


def plane_irradiance_w_m2(
    *, latitude: float, longitude: float, tilt_deg: float, azimuth_deg: float,
    times: pd.DatetimeIndex,
) -> np.ndarray:  # fmt: skip
    """The modelled irradiance on the array plane at each of ``times`` [W/m²] (0 at night)."""
    import numpy as np
    import pvlib

    loc = pvlib.location.Location(latitude, longitude, tz="Asia/Shanghai", altitude=300)
    solpos = loc.get_solarposition(times)
    cs = loc.get_clearsky(times, model="ineichen", solar_position=solpos, linke_turbidity=3.0)
    ghi = cs["ghi"] * CLEAR_SKY_INDEX
    erbs = pvlib.irradiance.erbs(ghi, solpos["zenith"], times)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt_deg,
        azimuth_deg,
        solpos["apparent_zenith"],
        solpos["azimuth"],
        dni=erbs["dni"],
        ghi=ghi,
        dhi=erbs["dhi"],
        model="isotropic",
    )
    return np.nan_to_num(poa["poa_global"].to_numpy(), nan=0.0).clip(min=0.0)
