"""The Grafana macro and variable expander, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.macros import ALL, MacroError, TimeRange, Variable, expand, parse_interval

RNG = TimeRange(
    start=datetime(2024, 6, 15, 0, 0, tzinfo=UTC),
    end=datetime(2024, 6, 15, 6, 30, 0, 500000, tzinfo=UTC),
    interval="5m",
)
VARS = {
    "county": Variable("county", [ALL], multi=True, include_all=True, all_value="-1"),
    "village": Variable("village", ["3", "4"], multi=True, include_all=True, all_value="-1"),
    "station": Variable("station", ["12"]),
    "name": Variable("name", ["O'Brien"], multi=True),
    "kinds": Variable("kinds", [ALL], include_all=True, options=["a", "b"]),
}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__timeFilter(time)", "time BETWEEN '2024-06-15T00:00:00Z' AND '2024-06-15T06:30:00.5Z'"),
        ("$__timeFrom()", "'2024-06-15T00:00:00Z'"),
        ("$__timeTo()::timestamptz", "'2024-06-15T06:30:00.5Z'::timestamptz"),
        ("$__timeGroup(r.time, $__interval)", "floor(extract(epoch from r.time)/300)*300"),
        ("$__timeGroupAlias(time, '1h')", 'floor(extract(epoch from time)/3600)*3600 AS "time"'),
        (
            "$__timeGroup(date_trunc('hour', t), 1d)",
            "floor(extract(epoch from date_trunc('hour', t))/86400)*86400",
        ),
        ("$__interval_ms / 1000", "300000 / 1000"),
        ("x IN ($county)", "x IN (-1)"),
        ("x IN (${village})", "x IN ('3','4')"),
        ("x = $station", "x = 12"),
        ("x IN ($name)", "x IN ('O''Brien')"),
        ("x IN ($kinds)", "x IN ('a','b')"),
        ("$stationx", None),
        ("no macros here", "no macros here"),
    ],
)
def test_expand(sql: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(MacroError, match="unknown variable"):
            expand(sql, time_range=RNG, variables=VARS)
    else:
        assert expand(sql, time_range=RNG, variables=VARS) == expected


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$__unixEpochFilter(t)", "unsupported macro"),
        ("$__timeGroup(t)", "needs a column and an interval"),
        ("$__timeFilter(a, b)", "one column"),
        ("$__timeGroup(t, 5 parsecs)", "cannot parse interval"),
        ("$__timeFilter(t", "unbalanced"),
    ],
)
def test_expand_errors(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand(sql, time_range=RNG, variables=VARS)


def test_single_value_variable_takes_exactly_one_value() -> None:
    with pytest.raises(MacroError, match="takes one value"):
        Variable("station", ["1", "2"]).formatted()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("'1h'", timedelta(hours=1)),
        ("500ms", timedelta(0, 0.5)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_interval(text: str, expected: timedelta) -> None:
    assert parse_interval(text) == expected


def test_naive_time_range_is_rejected() -> None:
    naive = TimeRange(start=datetime(2024, 1, 1), end=datetime(2024, 1, 2))
    with pytest.raises(MacroError, match="timezone-aware"):
        expand("$__timeFrom()", time_range=naive, variables={})
