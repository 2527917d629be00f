"""Seeded weather: cells, reproducibility, seasonality, day-type shares, intraday clouds."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators import weather as wx

LINGYUAN = wx.weather_cell(41.2, 119.4)
LIXIN = wx.weather_cell(33.1, 116.2)
SEED = 11


def _days(start: date, n: int) -> list[date]:
    return [start + timedelta(days=k) for k in range(n)]


def _year(year: int) -> list[date]:
    return _days(date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days)


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (41.2, 119.4, (412, 1194)),
        (41.249, 119.351, (412, 1194)),
        (41.151, 119.449, (412, 1194)),
        (41.26, 119.4, (413, 1194)),
        (33.1, 116.2, (331, 1162)),
        (-33.86, 151.21, (-339, 1512)),
        (0.0, -0.04, (0, 0)),
    ],
)
def test_weather_cell_rounds_to_a_tenth_of_a_degree(lat, lon, expected):
    cell = wx.weather_cell(lat, lon)
    assert cell == expected
    assert cell.latitude == pytest.approx(expected[0] / 10)
    assert cell.longitude == pytest.approx(expected[1] / 10)


@pytest.mark.parametrize(("lat", "lon"), [(90.1, 0.0), (-91.0, 0.0), (0.0, 180.5)])
def test_weather_cell_rejects_impossible_coordinates(lat, lon):
    with pytest.raises(ValueError):
        wx.weather_cell(lat, lon)


def test_neighbouring_stations_of_one_village_share_the_weather():
    a = wx.weather_cell(41.203, 119.412)
    b = wx.weather_cell(41.188, 119.391)
    assert a == b
    for day in _days(date(2024, 7, 1), 5):
        assert np.array_equal(
            wx.cloud_factor(a, day, seed=SEED), wx.cloud_factor(b, day, seed=SEED)
        )


def test_a_day_does_not_depend_on_the_order_of_calls():
    days = _days(date(2024, 6, 1), 40)
    wx.day_weather.cache_clear()
    forward = {d: wx.day_weather(LINGYUAN, d, seed=SEED) for d in days}
    forward_clouds = {d: wx.cloud_factor(LINGYUAN, d, seed=SEED) for d in days[:5]}
    wx.day_weather.cache_clear()
    shuffled = days[:]
    random.Random(3).shuffle(shuffled)
    backward = {d: wx.day_weather(LINGYUAN, d, seed=SEED) for d in shuffled}
    assert forward == backward
    for d in reversed(days[:5]):
        assert np.array_equal(wx.cloud_factor(LINGYUAN, d, seed=SEED), forward_clouds[d])


def test_different_seeds_give_different_weather():
    days = _days(date(2024, 5, 1), 30)
    a = [wx.day_weather(LINGYUAN, d, seed=1).sky for d in days]
    b = [wx.day_weather(LINGYUAN, d, seed=2).sky for d in days]
    assert a != b
    day = days[0]
    assert not np.array_equal(
        wx.cloud_factor(LINGYUAN, day, seed=1), wx.cloud_factor(LINGYUAN, day, seed=2)
    )


def test_cloud_factor_is_one_value_per_minute_within_bounds():
    for day in _days(date(2024, 1, 1), 366)[::7]:
        factor = wx.cloud_factor(LIXIN, day, seed=SEED)
        assert factor.shape == (wx.SAMPLES_PER_DAY,)
        assert factor.min() >= wx.CLOUD_FACTOR_MIN
        assert factor.max() <= wx.CLOUD_FACTOR_MAX


@pytest.mark.parametrize("cell", [LINGYUAN, LIXIN], ids=["lingyuan", "lixin"])
def test_partly_cloudy_days_fluctuate_fast_and_the_others_do_not(cell):
    big_step_share: dict[wx.Sky, list[float]] = {sky: [] for sky in wx.Sky}
    for day in _year(2024):
        daytime = wx.cloud_factor(cell, day, seed=SEED)[6 * 60 : 18 * 60]
        share = float(np.mean(np.abs(np.diff(daytime)) > 0.1))  # minute steps > 10 % of clear sky
        big_step_share[wx.day_weather(cell, day, seed=SEED).sky].append(share)
    assert all(len(v) > 30 for v in big_step_share.values())
    assert min(big_step_share[wx.Sky.PARTLY]) > 0.03
    assert np.mean(big_step_share[wx.Sky.PARTLY]) > 0.1
    assert max(big_step_share[wx.Sky.CLEAR]) < 0.02
    assert max(big_step_share[wx.Sky.OVERCAST]) < 0.02


@pytest.mark.parametrize(
    ("sky", "low", "high"),
    [(wx.Sky.CLEAR, 0.85, 1.0), (wx.Sky.PARTLY, 0.4, 0.95), (wx.Sky.OVERCAST, 0.1, 0.5)],
)
def test_daily_mean_cloud_factor_matches_the_sky_class(sky, low, high):
    means = [
        float(wx.cloud_factor(LINGYUAN, d, seed=SEED)[6 * 60 : 18 * 60].mean())
        for d in _year(2023)
        if wx.day_weather(LINGYUAN, d, seed=SEED).sky is sky
    ]
    assert means
    assert low <= min(means) and max(means) <= high


# Configured bounds: a single simulated year may stray from the climatological share by
# up to 0.12 (spells make day counts vary between years), eight years pooled by 0.04.
YEAR_TOLERANCE = 0.12
POOLED_TOLERANCE = 0.04


@pytest.mark.parametrize("cell", [LINGYUAN, LIXIN], ids=["lingyuan", "lixin"])
def test_share_of_clear_partly_and_overcast_days_is_within_bounds(cell):
    pooled: Counter[wx.Sky] = Counter()
    expected_pooled: dict[wx.Sky, float] = dict.fromkeys(wx.Sky, 0.0)
    n_days = 0
    for year in range(2017, 2025):
        days = _year(year)
        expected = wx.expected_annual_shares(cell, year)
        counts = Counter(wx.day_weather(cell, d, seed=SEED).sky for d in days)
        for sky in wx.Sky:
            assert abs(counts[sky] / len(days) - expected[sky]) <= YEAR_TOLERANCE, (year, sky)
            expected_pooled[sky] += expected[sky] * len(days)
        pooled.update(counts)
        n_days += len(days)
    for sky in wx.Sky:
        assert abs(pooled[sky] - expected_pooled[sky]) / n_days <= POOLED_TOLERANCE, sky


def test_expected_shares_reflect_the_two_climates():
    north = wx.expected_annual_shares(LINGYUAN, 2024)
    huai = wx.expected_annual_shares(LIXIN, 2024)
    assert sum(north.values()) == pytest.approx(1.0)
    assert sum(huai.values()) == pytest.approx(1.0)
    # western Liaoning is sunnier than the Huai River plain
    assert north[wx.Sky.CLEAR] > huai[wx.Sky.CLEAR] + 0.05
    assert north[wx.Sky.OVERCAST] < huai[wx.Sky.OVERCAST]


def _mean_overcast_probability(cell: wx.WeatherCell, months: set[int]) -> float:
    days = [d for d in _year(2023) if d.month in months]
    return sum(wx.sky_probabilities(cell, d)[2] for d in days) / len(days)


@pytest.mark.parametrize("cell", [LINGYUAN, LIXIN], ids=["lingyuan", "lixin"])
def test_summer_monsoon_is_cloudier_than_winter(cell):
    summer, winter = {7, 8}, {12, 1}
    assert (
        _mean_overcast_probability(cell, summer) > _mean_overcast_probability(cell, winter) + 0.05
    )

    # and the simulated days follow the climatology (twelve years pooled)
    def simulated(months: set[int]) -> float:
        days = [d for y in range(2013, 2025) for d in _year(y) if d.month in months]
        overcast = sum(wx.day_weather(cell, d, seed=SEED).sky is wx.Sky.OVERCAST for d in days)
        return overcast / len(days)

    assert simulated(summer) > simulated(winter)


def test_north_china_winter_is_clear():
    p_clear, _, p_overcast = wx.sky_probabilities(LINGYUAN, date(2024, 1, 15))
    assert p_clear >= 0.55
    assert p_overcast <= 0.15
    p_clear_jul, _, p_overcast_jul = wx.sky_probabilities(LINGYUAN, date(2024, 7, 20))
    assert p_clear_jul < p_clear and p_overcast_jul > p_overcast


def test_cloudy_and_sunny_spells_persist():
    u = np.array([wx.day_weather(LIXIN, d, seed=SEED).cloudiness for d in _year(2024)])
    lag1 = float(np.corrcoef(u[:-1], u[1:])[0, 1])
    assert 0.25 < lag1 < 0.75


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
    lat=st.floats(min_value=-60, max_value=60),
)
def test_sky_probabilities_are_probabilities(day, lat):
    probs = wx.sky_probabilities(wx.weather_cell(lat, 110.0), day)
    assert sum(probs) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in probs)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2023, 1, 16), 0.0),  # the middle of 16 January is the middle of January
        (date(2023, 7, 16), 6.0),
        (date(2023, 12, 16), 11.0),
    ],
)
def test_monthly_interpolate_holds_values_at_mid_month(day, expected):
    assert wx.monthly_interpolate([float(m) for m in range(12)], day) == pytest.approx(
        expected, abs=0.02
    )


def test_monthly_interpolate_wraps_around_new_year():
    values = [0.0] * 11 + [1.0]  # December 1.0, January 0.0
    dec31 = wx.monthly_interpolate(values, date(2023, 12, 31))
    jan1 = wx.monthly_interpolate(values, date(2024, 1, 1))
    assert 0.4 < jan1 < dec31 < 0.6
    with pytest.raises(ValueError):
        wx.monthly_interpolate([1.0] * 11, date(2024, 1, 1))


@pytest.mark.parametrize(
    ("cell", "month", "low", "high"),
    [
        (LINGYUAN, 1, -14.0, -4.0),  # Lingyuan January mean about -9 °C
        (LINGYUAN, 7, 20.0, 27.0),  # July about 24 °C
        (LIXIN, 1, -2.0, 5.0),  # Fuyang/Lixin January about 1-2 °C
        (LIXIN, 7, 25.0, 31.0),  # July about 28 °C
    ],
)
def test_ambient_temperature_is_seasonal(cell, month, low, high):
    temps = wx.ambient_temperature_c(cell, date(2024, month, 20), sky=wx.Sky.PARTLY)
    assert temps.shape == (wx.SAMPLES_PER_DAY,)
    assert low <= float(temps.mean()) <= high
    assert 14 * 60 <= int(np.argmax(temps)) <= 16 * 60  # warmest in mid-afternoon
    clear = wx.ambient_temperature_c(cell, date(2024, month, 20), sky=wx.Sky.CLEAR)
    overcast = wx.ambient_temperature_c(cell, date(2024, month, 20), sky=wx.Sky.OVERCAST)
    assert np.ptp(clear) > np.ptp(overcast)
