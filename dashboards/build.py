"""Dashboards as code: pure builders from the Grafana foundation SDK to stable JSON.

Every dashboard has a fixed uid, panels get ids in the order they are added, and the
JSON is written with sorted keys and a trailing newline, so building twice gives the
same bytes (``tests/dashboards/test_build.py`` compares with the committed files).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    FieldColorModeId,
    RangeMap,
    RegexMap,
    SpecialValueMap,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
)
from grafana_foundation_sdk.models.geomap import TooltipMode

from dashboards import queries as q
from dashboards.sql import DATASOURCE, Sql

__all__ = [
    "DASHBOARDS",
    "FOLDER_TITLE",
    "FOLDER_UID",
    "JSON_DIR",
    "availability_dashboard",
    "build_all",
    "dividends_dashboard",
    "fleet_dashboard",
    "inverter_dashboard",
    "render",
    "station_dashboard",
    "write_all",
]

FOLDER_UID = "pvmon"
FOLDER_TITLE = "pvmon"
JSON_DIR = Path(__file__).resolve().parent / "json"
_TAGS = ["pvmon"]

_STATE_MAPPINGS: list[ValueMap | RangeMap | RegexMap | SpecialValueMap] = [
    ValueMap(
        options={
            "0": ValueMappingResult(text="online", color="green", index=0),
            "1": ValueMappingResult(text="sleeping", color="blue", index=1),
            "2": ValueMappingResult(text="offline", color="orange", index=2),
            "3": ValueMappingResult(text="fault", color="red", index=3),
        }
    )
]


class _Panels:
    """Hands out stable panel ids in the order panels are added."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self) -> int:
        self._next += 1
        return self._next


def _sql(sql: str, *, series: bool) -> Sql:
    query = Sql(sql)
    return query.format_time_series() if series else query.format_table()


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def _variable(
    name: str, label: str, sql: str, *, multi: bool = True, include_all: bool = True
) -> dash.QueryVariable:
    variable = (
        dash.QueryVariable(name)
        .label(label)
        .query(q_tidy(sql))
        .datasource(DATASOURCE)
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(multi)
        .include_all(include_all)
        .allow_custom_value(False)
    )
    if include_all:
        variable = variable.all_value(q.ALL_VALUE).current(
            VariableOption(selected=True, text=["All"], value=["$__all"])
        )
    return variable


def q_tidy(sql: str) -> str:
    """The variable query as stored (same tidying as panel SQL)."""
    return Sql(sql).build().raw_sql


def _place_variables() -> list[dash.QueryVariable]:
    return [
        _variable("county", "County", q.variables.county),
        _variable("township", "Township", q.variables.township),
        _variable("village", "Village", q.variables.village),
    ]


def _dashboard(uid: str, title: str, description: str, *, time_from: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(_TAGS)
        .timezone("browser")
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time(time_from, "now")
        .refresh("1m")
    )


def _stat(
    panel_id: int, title: str, sql: str, *, unit: str, description: str = "", decimals: int = 1
) -> stat.Panel:
    return (
        stat.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_sql(sql, series=False))
        .unit(unit)
        .decimals(decimals)
        .height(4)
        .span(4)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def _series(
    panel_id: int,
    title: str,
    sql: str,
    *,
    unit: str,
    description: str = "",
    bars: bool = False,
    span: int = 12,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_sql(sql, series=True))
        .unit(unit)
        .height(8)
        .span(span)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    else:
        panel = panel.fill_opacity(10).span_nulls(False)
    return panel


def _table(
    panel_id: int, title: str, sql: str, *, description: str = "", span: int = 12, height: int = 8
) -> table.Panel:
    return (
        table.Panel()
        .id(panel_id)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_sql(sql, series=False))
        .height(height)
        .span(span)
    )


def fleet_dashboard() -> dash.Dashboard:
    """Fleet overview: totals, online ratio, map by state, worst performers, open alarms."""
    pid = _Panels()
    board = _dashboard(
        "pvmon-fleet",
        "pvmon / Fleet overview",
        "Current output, energy, health and alarms of every station in scope.",
        time_from="now-24h",
    )
    for variable in [
        *_place_variables(),
        _variable("station", "Station", q.variables.station),
    ]:
        board = board.with_variable(variable)
    board = (
        board.with_panel(
            _stat(
                pid(),
                "Current power",
                q.fleet.current_power,
                unit="kwatt",
                description="Sum of each inverter's last reading within 15 minutes of the "
                "range end.",
            )
        )
        .with_panel(_stat(pid(), "Energy today", q.fleet.energy_since("day"), unit="kwatth"))
        .with_panel(_stat(pid(), "Energy this month", q.fleet.energy_since("month"), unit="kwatth"))
        .with_panel(_stat(pid(), "Energy this year", q.fleet.energy_since("year"), unit="kwatth"))
        .with_panel(
            _stat(
                pid(),
                "Online ratio",
                q.fleet.online_ratio,
                unit="percentunit",
                description="Inverters online or asleep (night) over all inverters in scope.",
            ).thresholds(_thresholds((None, "red"), (0.9, "orange"), (0.98, "green")))
        )
        .with_panel(
            _stat(
                pid(),
                "Open alarms",
                f"SELECT count(*) AS open_alarms FROM ({q.fleet.open_alarms}) a",
                unit="none",
                decimals=0,
            ).thresholds(_thresholds((None, "green"), (1, "orange"), (10, "red")))
        )
        .with_panel(
            geomap.Panel()
            .id(pid())
            .title("Stations by state")
            .description("Each station at its coordinates, coloured by its worst inverter.")
            .datasource(DATASOURCE)
            .with_target(_sql(q.fleet.station_map, series=False))
            .height(12)
            .span(12)
            .mappings(_STATE_MAPPINGS)
            .thresholds(_thresholds((None, "green"), (1, "blue"), (2, "orange"), (3, "red")))
            .color_scheme(dash.FieldColor().mode(FieldColorModeId.THRESHOLDS))
            .view(geomap.MapViewConfig().id("fit").zoom(10))
            .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
            .tooltip(geomap.TooltipOptions().mode(TooltipMode.DETAILS))
            .basemap(common_b.MapLayerOptions().type("default").name("Basemap"))
            .layers(
                [
                    common_b.MapLayerOptions()
                    .type("markers")
                    .name("Stations")
                    .tooltip(True)
                    .location(
                        common_b.FrameGeometrySource()
                        .mode(common.FrameGeometrySourceMode.COORDS)
                        .latitude("latitude")
                        .longitude("longitude")
                    )
                    .config(
                        {
                            "showLegend": True,
                            "style": {
                                "color": {"field": "state_rank", "fixed": "green"},
                                "size": {"fixed": 6},
                                "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                            },
                        }
                    )
                ]
            )
        )
        .with_panel(
            _table(
                pid(),
                "Worst performers today",
                q.fleet.worst_today,
                description="Specific yield today against the median of the stations in scope.",
                height=12,
            )
        )
        .with_panel(
            _series(
                pid(),
                "Fleet power",
                q.fleet.power,
                unit="kwatt",
                description=f"Raw readings up to {q.RAW_MAX}, hourly aggregates beyond.",
            )
        )
        .with_panel(
            _series(pid(), "Energy per day", q.fleet.daily_energy, unit="kwatth", bars=True)
        )
        .with_panel(_table(pid(), "Open alarms", q.fleet.open_alarms, span=24))
    )
    return board


def station_dashboard() -> dash.Dashboard:
    """One station: power against expected, inverters, daily energy, PR, alarms."""
    pid = _Panels()
    board = _dashboard(
        "pvmon-station",
        "pvmon / Station",
        "One station's output against its peers, its inverters, energy and alarms.",
        time_from="now-7d",
    )
    for variable in [
        *_place_variables(),
        _variable("station", "Station", q.variables.station, multi=False, include_all=False),
    ]:
        board = board.with_variable(variable)
    return (
        board.with_panel(
            _series(
                pid(),
                "Power and expected power",
                q.station.power_vs_expected,
                unit="kwatt",
                description="Expected: the median specific power (W/kWp) of the stations of "
                "the same township times this station's capacity.",
                span=24,
            )
        )
        .with_panel(_series(pid(), "Inverter power", q.station.inverter_power, unit="watt"))
        .with_panel(
            _series(pid(), "Daily energy", q.station.daily_energy, unit="kwatth", bars=True)
        )
        .with_panel(
            _series(
                pid(),
                "Performance ratio",
                q.station.performance_ratio,
                unit="percentunit",
                description="Daily specific yield against the median of the township's "
                "stations (1 = as good as the typical peer).",
            )
        )
        .with_panel(_table(pid(), "Alarms", q.station.alarms))
    )


def inverter_dashboard() -> dash.Dashboard:
    """One inverter: AC and DC values, temperature, operating state, fault codes."""
    pid = _Panels()
    board = _dashboard(
        "pvmon-inverter",
        "pvmon / Inverter",
        "One inverter's measurements, operating state and fault codes.",
        time_from="now-24h",
    )
    for variable in [
        *_place_variables(),
        _variable("station", "Station", q.variables.station, multi=False, include_all=False),
        _variable("inverter", "Inverter", q.variables.inverter, multi=False, include_all=False),
    ]:
        board = board.with_variable(variable)
    return (
        board.with_panel(
            _stat(pid(), "State", q.inverter.health, unit="none", decimals=0)
            .mappings(_STATE_MAPPINGS)
            .thresholds(_thresholds((None, "green"), (1, "blue"), (2, "orange"), (3, "red")))
        )
        .with_panel(
            statetimeline.Panel()
            .id(pid())
            .title("Operating state")
            .datasource(DATASOURCE)
            .with_target(_sql(q.inverter.operating_state, series=False))
            .height(4)
            .span(20)
            .show_value(common.VisibilityMode.AUTO)
            .merge_values(True)
        )
        .with_panel(_series(pid(), "AC and DC power", q.inverter.power, unit="watt"))
        .with_panel(_series(pid(), "Temperature", q.inverter.temperature, unit="celsius"))
        .with_panel(_series(pid(), "AC voltage", q.inverter.ac_voltage, unit="volt", span=8))
        .with_panel(_series(pid(), "AC current", q.inverter.ac_current, unit="amp", span=8))
        .with_panel(_series(pid(), "Frequency", q.inverter.frequency, unit="hertz", span=8))
        .with_panel(_table(pid(), "Fault codes", q.inverter.fault_codes))
        .with_panel(_table(pid(), "Alarms", q.inverter.alarms))
    )


def dividends_dashboard() -> dash.Dashboard:
    """Dividends: payouts per village and year, coverage, shortfalls and arrears."""
    pid = _Panels()
    board = _dashboard(
        "pvmon-dividends",
        "pvmon / Dividends",
        "Payout runs whose period overlaps the time range; money in yuan.",
        time_from="now-5y",
    ).refresh("")
    for variable in _place_variables():
        board = board.with_variable(variable)
    board = board.with_variable(
        dash.CustomVariable("run_status")
        .label("Run status")
        .values("approved,exported,paid,draft")
        .multi(True)
        .include_all(False)
        .current(
            VariableOption(
                selected=True,
                text=["approved", "exported", "paid"],
                value=["approved", "exported", "paid"],
            )
        )
    )
    return (
        board.with_panel(_stat(pid(), "Paid", q.dividends.paid_total, unit="currencyCNY"))
        .with_panel(
            _stat(
                pid(),
                "Coverage ratio",
                q.dividends.coverage_total,
                unit="percentunit",
                description="Revenue available after deductions over dividend obligations.",
            ).thresholds(_thresholds((None, "red"), (1, "green")))
        )
        .with_panel(
            _stat(pid(), "Unpaid obligations", q.dividends.shortfall_total, unit="currencyCNY")
        )
        .with_panel(
            _series(
                pid(),
                "Payouts per year",
                q.dividends.payouts_by_year,
                unit="currencyCNY",
                bars=True,
            )
        )
        .with_panel(_table(pid(), "Payouts per village and year", q.dividends.payouts_by_village))
        .with_panel(
            _table(pid(), "Coverage ratio per village and year", q.dividends.coverage, span=24)
        )
        .with_panel(_table(pid(), "Shortfalls", q.dividends.shortfalls))
        .with_panel(_table(pid(), "Arrears", q.dividends.arrears))
    )


def availability_dashboard() -> dash.Dashboard:
    """Availability and lost energy by cause, per day and per station, for O&M."""
    pid = _Panels()
    board = _dashboard(
        "pvmon-availability",
        "pvmon / Availability and lost energy",
        "Time- and energy-based availability and the energy lost by cause (IEC 61724-3 in "
        "spirit), as the collector keeps them per station and day.",
        time_from="now-30d",
    )
    for variable in [
        *_place_variables(),
        _variable("station", "Station", q.variables.station),
    ]:
        board = board.with_variable(variable)
    a = q.availability
    return (
        board.with_panel(
            _stat(
                pid(),
                "Time availability",
                a.time_availability,
                unit="percentunit",
                description="Share of the daylight in which the inverters could produce.",
                decimals=3,
            )
        )
        .with_panel(
            _stat(
                pid(),
                "Energy availability",
                a.energy_availability,
                unit="percentunit",
                description="Energy / (energy + energy lost to outages).",
                decimals=3,
            )
        )
        .with_panel(
            _stat(
                pid(),
                "Energy lost",
                a.lost_energy,
                unit="kwatth",
                description="Lost to outages of every cause (a silent logger loses nothing).",
            )
        )
        .with_panel(
            _series(
                pid(), "Energy lost per day by cause", a.lost_by_cause, unit="kwatth", bars=True
            )
        )
        .with_panel(_series(pid(), "Time availability per day", a.daily, unit="percentunit"))
        .with_panel(
            _table(
                pid(),
                "Stations, least available first",
                a.stations,
                description="Per station over the range: availability, energy, losses by cause.",
                span=24,
            )
        )
    )


DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "fleet": fleet_dashboard,
    "station": station_dashboard,
    "inverter": inverter_dashboard,
    "availability": availability_dashboard,
    "dividends": dividends_dashboard,
}


def render(board: dash.Dashboard) -> str:
    """The dashboard's JSON text: sorted keys, two-space indent, trailing newline."""
    model: dict[str, Any] = json.loads(JSONEncoder().encode(board.build()))
    return json.dumps(model, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{name}.json": render(factory()) for name, factory in DASHBOARDS.items()}


def write_all(directory: Path = JSON_DIR) -> list[Path]:
    """Write every dashboard into ``directory``; returns the files that changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in build_all().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
