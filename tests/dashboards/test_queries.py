"""Every panel's and variable's SQL, expanded as Grafana would, against demo data.

Runs on plain PostgreSQL and (where installed) TimescaleDB, for a short range (raw
readings) and a long one (aggregates), with *All* selections and with one county picked
(the quoted multi-value form). Each result must have the shape its panel needs.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from dashboards.build import build_all
from dashboards.macros import ALL, TimeRange, Variable, expand
from tests.dashboards.conftest import END, Demo

_BOARDS = {name: json.loads(text) for name, text in build_all().items()}
_RANGES = {
    "short": TimeRange(start=END - timedelta(hours=6), end=END, interval="1m"),
    "long": TimeRange(start=END - timedelta(days=3), end=END, interval="30m"),
}
_NUMERIC = {"int2", "int4", "int8", "numeric", "float4", "float8"}
_TIME = {"timestamptz", "timestamp"}
# Dividend runs are yearly: that dashboard is always looked at over years.
_DIVIDEND_RANGE = TimeRange(start=END - timedelta(days=730), end=END, interval="1d")


def _range(board: str, name: str) -> TimeRange:
    return _DIVIDEND_RANGE if board == "dividends.json" else _RANGES[name]


_PANELS = [
    pytest.param(board, panel, id=f"{board}:{panel['id']}:{panel['title']}")
    for board, model in _BOARDS.items()
    for panel in model["panels"]
]
_VARIABLES = [
    pytest.param(board, variable, id=f"{board}:{variable['name']}")
    for board, model in _BOARDS.items()
    for variable in model["templating"]["list"]
    if variable["type"] == "query"
]


def _variables(model: dict[str, Any], demo: Demo, *, pick_county: bool) -> dict[str, Variable]:
    chosen = {"station": str(demo.station_id), "inverter": str(demo.inverter_id)}
    out = {}
    for var in model["templating"]["list"]:
        name = var["name"]
        if var["type"] == "custom":
            values = list(var["current"]["value"])
        elif name == "county" and pick_county:
            values = [str(demo.county_id)]
        elif var.get("includeAll"):
            values = [ALL]
        else:
            values = [chosen[name]]
        out[name] = Variable(
            name=name,
            values=values,
            multi=bool(var.get("multi")),
            include_all=bool(var.get("includeAll")),
            all_value=var.get("allValue"),
        )
    return out


def _run(conn: psycopg.Connection, sql: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    cur = conn.execute(sql)
    assert cur.description is not None
    columns = [
        (col.name, conn.adapters.types.get(col.type_code).name)  # type: ignore[union-attr]
        for col in cur.description
    ]
    return columns, cur.fetchall()


def _check_shape(
    kind: str, fmt: str, columns: list[tuple[str, str]], rows: list[tuple], where: str
) -> None:
    names = [name for name, _ in columns]
    types = dict(columns)
    if kind == "stat":
        assert len(rows) == 1, f"{where}: a stat needs one row, got {len(rows)}"
        assert len(columns) == 1 and columns[0][1] in _NUMERIC, f"{where}: {columns}"
    elif kind == "timeseries":
        assert fmt == "time_series", where
        assert names[0] == "time", f"{where}: first column must be time: {names}"
        assert types["time"] in _TIME | _NUMERIC, f"{where}: {columns}"
        values = [(n, t) for n, t in columns[1:] if n != "metric"]
        assert values and all(t in _NUMERIC for _, t in values), f"{where}: {columns}"
        if "metric" in types:
            assert types["metric"] == "text", where
        times = [row[0] for row in rows]
        assert times == sorted(times), f"{where}: rows not in time order"
    elif kind == "state-timeline":
        assert names[0] == "time" and types["time"] in _TIME, f"{where}: {columns}"
        assert len(columns) >= 2, where
    elif kind == "geomap":
        assert types.get("latitude") == "float8", f"{where}: {columns}"
        assert types.get("longitude") == "float8", f"{where}: {columns}"
    elif kind == "table":
        assert columns, where
    else:  # pragma: no cover - a new panel kind must get a rule here
        raise AssertionError(f"{where}: no shape rule for panel type {kind}")
    assert rows, f"{where}: no rows for the demo data"
    if kind == "stat":
        assert rows[0][0] is not None, f"{where}: stat value is NULL"


@pytest.mark.parametrize("pick_county", [False, True], ids=["all", "one-county"])
@pytest.mark.parametrize("range_name", sorted(_RANGES))
@pytest.mark.parametrize(("board", "panel"), _PANELS)
def test_panel_sql_runs_and_has_the_panels_shape(
    demo: Demo, board: str, panel: dict[str, Any], range_name: str, pick_county: bool
) -> None:
    variables = _variables(_BOARDS[board], demo, pick_county=pick_county)
    with psycopg.connect(demo.url, autocommit=True) as conn:
        for target in panel["targets"]:
            sql = expand(
                target["rawSql"], time_range=_range(board, range_name), variables=variables
            )
            columns, rows = _run(conn, sql)
            _check_shape(
                panel["type"],
                target["format"],
                columns,
                rows,
                f"{board} / {panel['title']} ({range_name}, {demo.flavour})",
            )


@pytest.mark.parametrize(("board", "variable"), _VARIABLES)
def test_variable_queries_return_values_and_texts(
    demo: Demo, board: str, variable: dict[str, Any]
) -> None:
    variables = _variables(_BOARDS[board], demo, pick_county=False)
    sql = expand(variable["query"], time_range=_RANGES["short"], variables=variables)
    with psycopg.connect(demo.url, autocommit=True) as conn:
        columns, rows = _run(conn, sql)
    assert [name for name, _ in columns] == ["__value", "__text"]
    assert rows and all(value is not None and text for value, text in rows)


def _scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if str(plan.get("Relation Name", "")).startswith(("readings", "_hyper_")) and plan.get(
        "Relation Name"
    ) not in ("readings_hourly", "readings_daily"):
        found.append(plan)
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


@pytest.mark.parametrize(("range_name", "raw_expected"), [("short", True), ("long", False)])
def test_long_ranges_do_not_read_raw_readings(
    demo: Demo, range_name: str, raw_expected: bool
) -> None:
    """The fleet power query reads raw rows only for short ranges (postgres plan).

    For a long range the raw branch is pruned at plan time or never executed.
    """
    if demo.flavour != "postgres":
        pytest.skip("plan shape checked on plain PostgreSQL")
    panel = next(p for p in _BOARDS["fleet.json"]["panels"] if p["title"] == "Fleet power")
    variables = _variables(_BOARDS["fleet.json"], demo, pick_county=False)
    sql = expand(panel["targets"][0]["rawSql"], time_range=_RANGES[range_name], variables=variables)
    with psycopg.connect(demo.url, autocommit=True) as conn:
        plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()[0][0]["Plan"]  # type: ignore[index]
    raw = [scan for scan in _scans(plan) if scan["Relation Name"] == "readings"]
    executed = any(scan.get("Actual Loops", 0) > 0 for scan in raw)
    assert executed is raw_expected
