"""Sites the tests share: the mission's 4.32 kWp household station at Lingyuan, Liaoning
(41.2 N), with one 4 kW single-phase inverter."""

from __future__ import annotations

from datetime import date

from simulators.physics import Site

__all__ = ["household_site"]


def household_site(*, commissioned_on: date = date(2017, 6, 1)) -> Site:
    """The Lingyuan household station [4.32 kWp, 35 degrees, due south, 4,000 W AC]."""
    return Site(
        latitude=41.2,
        longitude=119.4,
        capacity_kwp=4.32,
        tilt_deg=35,
        azimuth_deg=180,
        rated_ac_w=4000,
        commissioned_on=commissioned_on,
    )
