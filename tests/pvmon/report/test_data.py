"""The report's pure core: months, the window, figures, losers, alarms, villages, text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pvmon.errors import ValidationError
from pvmon.report.data import (
    METHOD_NOTES,
    Figures,
    MonthReport,
    Scope,
    StationInput,
    build_month_report,
    cell_text,
    parse_month,
    report_json,
)
from pvmon.report.expected import MODEL_PR, month_days, site_days

JUNE = date(2025, 6, 1)
DAYS = month_days(JUNE)
SCOPE = Scope("county", "LY", "示范县", "LY", "示范县")
NOW = datetime(2025, 7, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "first"),
    [("2025-06", date(2025, 6, 1)), ("2024-12", date(2024, 12, 1)), ("2000-01", date(2000, 1, 1))],
)
def test_parse_month_valid(text: str, first: date) -> None:
    assert parse_month(text) == first


@pytest.mark.parametrize("text", ["2025-6", "2025-13", "25-06", "2025/06", "", "1999-12", "x"])
def test_parse_month_invalid(text: str) -> None:
    with pytest.raises(ValidationError, match="month"):
        parse_month(text)


@pytest.mark.parametrize(("first", "n"), [(date(2025, 2, 1), 28), (date(2024, 2, 1), 29),
                                          (date(2025, 12, 1), 31), (JUNE, 30)])  # fmt: skip
def test_month_days(first: date, n: int) -> None:
    days = month_days(first)
    assert len(days) == n and days[0] == first and days[-1].month == first.month


def _station(sid: int, code: str, village: str, kwp: str = "4.32") -> StationInput:
    return StationInput(
        station_id=sid, code=code, label=f"{village}户用电站 {code}", kind="household",
        capacity_kwp=Decimal(kwp), village_code=village, village_name=village + "村",
        township_code="T1", township_name="一镇",
        irradiation_wh_m2=dict.fromkeys(DAYS, 5000.0),
        expected_wh_per_kwp=dict.fromkeys(DAYS, 5000.0 * MODEL_PR),
    )  # fmt: skip


def _report(daily: list[Any], alarms: list[Any] | None = None,
            today: date = date(2025, 7, 15), losers: int = 10) -> MonthReport:  # fmt: skip
    stations = [_station(1, "S1", "V1"), _station(2, "S2", "V1"), _station(3, "S3", "V2", "8.64")]
    return build_month_report(scope=SCOPE, month=JUNE, today=today, generated_at=NOW,
                              stations=stations, daily=daily, alarms=alarms or [],
                              losers=losers)  # fmt: skip


def test_window_runs_from_the_first_to_the_last_day_with_data_and_missing_days_count_zero() -> None:
    daily = [(1, date(2025, 6, d), 20_000, 0) for d in range(3, 11)]
    daily += [(2, date(2025, 6, 5), 10_000, 2_000), (3, date(2025, 5, 31), 99_999, 0)]
    r = _report(daily)
    assert r.window == (date(2025, 6, 3), date(2025, 6, 10))
    assert [d.day for d in r.days] == [date(2025, 6, d) for d in range(3, 11)]
    s1, s2, s3 = r.stations
    assert (s1.figures.energy_wh, s1.days_with_energy) == (160_000, 8)
    assert (s2.figures.energy_wh, s2.figures.estimated_wh) == (10_000, 2_000)
    assert s3.figures.energy_wh == 0  # May's day is outside the month
    # expected over the 8 window days, for every station whether it reported or not
    assert s3.figures.expected_wh == round(8 * 5000.0 * MODEL_PR * 8.64)
    assert r.totals.energy_wh == 170_000 == sum(d.energy_wh for d in r.days)
    assert r.totals.expected_wh == pytest.approx(sum(d.expected_wh for d in r.days), abs=3)
    assert "2025-06-03 至 2025-06-10" in r.notes[0]


def test_today_is_never_covered_and_no_data_gives_an_empty_report() -> None:
    daily = [(1, date(2025, 6, d), 20_000, 0) for d in (28, 29, 30)]
    assert _report(daily, today=date(2025, 6, 30)).window == (date(2025, 6, 28), date(2025, 6, 29))
    empty = _report(daily, today=date(2025, 6, 28))
    assert empty.window is None and empty.days == [] and empty.losers == []
    assert empty.totals.energy_wh == 0 and "无发电数据" in empty.notes[0]
    assert len(empty.notes) == 1 + len(METHOD_NOTES)


@pytest.mark.parametrize(
    ("energy_wh", "kwp", "irr_wh_m2", "expected_wh", "sy", "pr", "vs"),
    [
        (43_200, "4.32", 12_000, 40_000, "10.000", "0.833", "1.080"),
        (0, "4.32", 12_000, 40_000, "0.000", "0.000", "0.000"),
        (1_000, "187.2", 0, 0, "0.005", None, None),  # no sun modelled: no PR, no ratio
    ],
)
def test_figures(energy_wh: int, kwp: str, irr_wh_m2: int, expected_wh: int, sy: str,
                 pr: str | None, vs: str | None) -> None:  # fmt: skip
    f = Figures(Decimal(kwp), energy_wh, 0, expected_wh, irr_wh_m2)
    assert f.specific_yield == Decimal(sy)
    assert f.performance_ratio == (Decimal(pr) if pr else None)
    assert f.vs_expected == (Decimal(vs) if vs else None)
    assert f.shortfall_kwh == max(Decimal(expected_wh - energy_wh) / 1000, Decimal(0))


def test_a_station_at_expected_has_the_model_pr() -> None:
    daily = [(sid, d, round(5000.0 * MODEL_PR * float(kwp)), 0)
             for sid, kwp in ((1, "4.32"), (2, "4.32"), (3, "8.64")) for d in DAYS]  # fmt: skip
    r = _report(daily)
    assert r.totals.performance_ratio == Decimal(MODEL_PR).quantize(Decimal("0.001"))
    assert r.totals.vs_expected == Decimal("1.000")


def test_losers_lowest_against_expected_then_largest_shortfall_then_code() -> None:
    full = 5000.0 * MODEL_PR * 4.32
    daily = [(1, d, round(full * 0.5), 0) for d in DAYS]  # half
    daily += [(2, d, round(full * 0.9), 0) for d in DAYS]
    daily += [(3, d, round(full * 2 * 0.5), 0) for d in DAYS]  # half, larger shortfall
    r = _report(daily)
    assert [s.code for s in r.losers] == ["S3", "S1", "S2"]
    assert [s.code for s in _report(daily, losers=1).losers] == ["S3"]
    with pytest.raises(ValidationError, match="losers"):
        _report(daily, losers=-1)


def test_villages_sum_their_stations_and_weight_irradiation_by_capacity() -> None:
    r = _report([(s, d, 10_000, 0) for s in (1, 2, 3) for d in DAYS])
    v1, v2 = r.villages
    assert (v1.code, v1.stations, v1.figures.capacity_kwp) == ("V1", 2, Decimal("8.64"))
    assert v1.figures.energy_wh == 2 * 30 * 10_000 and v2.figures.energy_wh == 30 * 10_000
    assert v1.figures.irradiation_wh_m2 == 30 * 5000 == r.totals.irradiation_wh_m2


def test_alarms_overlapping_the_window_counted_and_open_at_its_end() -> None:
    daily = [(1, d, 10_000, 0) for d in DAYS]  # window 1-30 June, CST
    june_end = datetime(2025, 6, 30, 16, 0, tzinfo=UTC)  # 1 July 00:00 CST
    alarms = [
        (1, "INV1", "offline", datetime(2025, 6, 10, tzinfo=UTC), None, "no reply"),
        (1, "INV1", "no_output", datetime(2025, 6, 2, tzinfo=UTC),
         datetime(2025, 6, 3, tzinfo=UTC), "zero"),
        (2, None, "underperforming", datetime(2025, 6, 20, tzinfo=UTC),
         june_end + timedelta(days=2), "low"),  # closed in July: open at June's end
        (2, None, "offline", datetime(2025, 5, 1, tzinfo=UTC),
         datetime(2025, 5, 31, 15, 59, tzinfo=UTC), "May"),  # before the window (CST)
        (3, None, "offline", june_end, None, "July"),  # after it
        (99, None, "offline", datetime(2025, 6, 5, tzinfo=UTC), None, "not in scope"),
    ]  # fmt: skip
    r = _report(daily, alarms)
    assert [(a.station, a.kind, a.open_at_end) for a in r.alarms] == [
        ("S1", "no_output", False), ("S1", "offline", True), ("S2", "underperforming", True)
    ]  # fmt: skip
    assert r.open_alarms == 2
    assert [(s.alarms, s.open_alarms) for s in r.stations] == [(2, 1), (1, 1), (0, 0)]
    assert r.villages[0].open_alarms == 2


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("kwh", Decimal("12345.6"), "12,345.6"), ("kwp", Decimal("187.2"), "187.20"),
     ("ratio", Decimal("0.8"), "0.800"), ("count", 3, "3"), ("ratio", None, "—"),
     ("text", "村", "村")],
)  # fmt: skip
def test_cell_text(kind: str, value: object, text: str) -> None:
    assert cell_text(kind, value) == text


def test_json_has_the_tables_by_column_key_and_exact_wh() -> None:
    r = _report([(1, d, 10_000, 100) for d in DAYS])
    doc = report_json(r)
    assert doc["totals"]["energy_wh"] == 300_000  # type: ignore[index]
    assert doc["stations"][0]["code"] == "S1"  # type: ignore[index]
    assert doc["stations"][0]["energy_kwh"] == 300.0  # type: ignore[index]
    assert doc["window"] == ["2025-06-01", "2025-06-30"]


def test_site_model_sunny_june_and_dark_december() -> None:
    june = site_days(41.2, 119.4, tilt_deg=30, azimuth_deg=180, month_start=JUNE)
    dec = site_days(41.2, 119.4, tilt_deg=30, azimuth_deg=180, month_start=date(2025, 12, 1))
    assert len(june.irradiation_wh_m2) == 30 and len(dec.irradiation_wh_m2) == 31
    assert min(june.irradiation_wh_m2) > 3000 and max(june.irradiation_wh_m2) < 8000
    assert sum(dec.irradiation_wh_m2) < sum(june.irradiation_wh_m2)
    assert june.expected_wh_per_kwp[0] == pytest.approx(june.irradiation_wh_m2[0] * MODEL_PR)
