"""Twenty-year schedules: expected energy, revenue, obligations and coverage per year.

Pure: :func:`build_schedule` takes numbers and returns rows; the database edge
(:mod:`dividends.queries`) gathers the station's figures and its actuals.

Expected yield (:func:`expected_specific_yield`) is the site model of
:mod:`pvmon.sitemodel` (pvlib clear sky × 0.70, Erbs, isotropic plane, 14 % system
losses, 96 % inverter), hourly for one typical year. Results are cached per 0.5° cell,
tilt and azimuth, so a county costs a few pvlib calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from pvmon.sitemodel import CLEAR_SKY_INDEX, MODEL_PR, plane_irradiance_w_m2

__all__ = [
    "CLEAR_SKY_INDEX",
    "ScheduleYear",
    "YearActual",
    "build_schedule",
    "expected_specific_yield",
]


@lru_cache(maxsize=4096)
def _yield_cell(lat_cell: float, lon_cell: float, tilt: float, azimuth: float) -> float:
    import pandas as pd

    times = pd.date_range(
        "2019-01-01", "2020-01-01", freq="1h", tz="Asia/Shanghai", inclusive="left"
    )
    poa_w_m2 = plane_irradiance_w_m2(
        latitude=lat_cell, longitude=lon_cell, tilt_deg=tilt, azimuth_deg=azimuth, times=times
    )
    return float(poa_w_m2.sum() / 1000.0 * MODEL_PR)  # hourly: [kWh/kWp]


def expected_specific_yield(
    latitude: float, longitude: float, *, tilt_deg: float = 30.0, azimuth_deg: float = 180.0
) -> float:
    """Expected AC energy per kWp in a typical year at the site [kWh/kWp/year]."""
    return _yield_cell(
        round(latitude * 2) / 2, round(longitude * 2) / 2, round(tilt_deg), round(azimuth_deg)
    )


@dataclass(frozen=True)
class YearActual:
    """What a past year actually produced and paid (from approved runs)."""

    energy_wh: int
    revenue_fen: int
    paid_fen: int


@dataclass(frozen=True)
class ScheduleYear:
    """One year of a schedule; money [fen], energy [kWh]."""

    year: int
    year_no: int
    expected_kwh: Decimal
    expected_revenue_fen: int
    expected_deductions_fen: int
    obligations_fen: int
    coverage: Decimal | None  # (revenue − deductions) / obligations; None without obligations
    at_risk: bool
    actual: YearActual | None


def _fen(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def build_schedule(
    *,
    first_year: int,
    capacity_kwp: Decimal,
    specific_yield_kwh_per_kwp: Decimal,
    degradation_per_year: Decimal,
    tariff_yuan_per_kwh: Decimal,
    deduction_rate: Decimal = Decimal(0),
    deduction_fixed_fen_per_year: int = 0,
    obligations_fen_per_year: int,
    dividend_years: int = 20,
    horizon_years: int = 25,
    risk_margin: Decimal = Decimal("1.10"),
    degradation_from_year: int | None = None,
    actuals: dict[int, YearActual] | None = None,
) -> list[ScheduleYear]:
    """Expected figures per year from ``first_year`` for ``horizon_years`` years.

    Expected energy [kWh] = capacity [kWp] × specific yield [kWh/kWp] × (1 − degradation)
    ^ (years since ``degradation_from_year``, default ``first_year``). Revenue [fen] =
    energy × tariff (benchmark + subsidy) × 100. Deductions = revenue × rate + fixed.
    Obligations apply in the first ``dividend_years`` years. A year is **at risk** when its
    coverage is below ``risk_margin`` (default 1.10: less than 10 % headroom).
    """
    start_deg = first_year if degradation_from_year is None else degradation_from_year
    rows: list[ScheduleYear] = []
    actuals = actuals or {}
    for k in range(horizon_years):
        year = first_year + k
        factor = (1 - degradation_per_year) ** max(0, year - start_deg)
        kwh = (capacity_kwp * specific_yield_kwh_per_kwp * factor).quantize(Decimal("0.1"))
        revenue = _fen(kwh * tariff_yuan_per_kwh * 100)
        deductions = _fen(Decimal(revenue) * deduction_rate) + deduction_fixed_fen_per_year
        obligations = obligations_fen_per_year if k < dividend_years else 0
        coverage = (
            (Decimal(revenue - deductions) / obligations).quantize(Decimal("0.001"))
            if obligations
            else None
        )
        rows.append(
            ScheduleYear(
                year=year,
                year_no=k + 1,
                expected_kwh=kwh,
                expected_revenue_fen=revenue,
                expected_deductions_fen=deductions,
                obligations_fen=obligations,
                coverage=coverage,
                at_risk=coverage is not None and coverage < risk_margin,
                actual=actuals.get(year),
            )
        )
    return rows
