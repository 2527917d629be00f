"""The monthly report as an XLSX workbook: numbers as numbers, Chinese headings.

Sheets: 汇总 (the scope's totals and the notes), 村 (villages), 电站 (stations),
落后电站 (top losers), 每日 (daily energy), 告警 (alarms of the window). Every cell goes
through :mod:`pvmon.sheets` (text never a formula, a bold frozen header, totals rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pvmon.report.data import (
    ALARM_KINDS,
    STATION_COLUMNS,
    VILLAGE_COLUMNS,
    Column,
    Figures,
    MonthReport,
)
from pvmon.sheets import append_row, new_sheet

__all__ = ["write_report_xlsx"]

_SUMMARY_HEAD = ("项目", "数值", "单位")
_DAY_HEAD = ("日期", "发电量(kWh)", "其中估算(kWh)", "预期发电量(kWh)")
_ALARM_HEAD = ("电站编号", "逆变器", "类型", "开始(UTC)", "关闭(UTC)", "月末未关闭", "原因")


def _kwh(wh: int) -> Decimal:
    return (Decimal(wh) / 1000).quantize(Decimal("0.1"))


def _values(columns: Sequence[Column], line: Any) -> list[object]:
    return [c.value(line) for c in columns]


def _total_row(columns: Sequence[Column], figures: Figures, **extra: object) -> list[object]:
    values: list[object] = []
    for c in columns:
        if c.key in extra:
            values.append(extra[c.key])
        elif c.kind in ("kwh", "ratio", "kwp") and hasattr(figures, c.key):
            values.append(getattr(figures, c.key))
        else:
            values.append("")
    values[0] = "合计"
    return values


def _summary(report: MonthReport) -> list[list[object]]:
    t = report.totals
    window = (
        f"{report.window[0].isoformat()} 至 {report.window[1].isoformat()}"
        if report.window
        else "无数据"
    )
    return [
        ["统计区间", window, ""],
        ["电站数", len(report.stations), "座"],
        ["装机容量", t.capacity_kwp, "kWp"],
        ["发电量", t.energy_kwh, "kWh"],
        ["其中估算", t.estimated_kwh, "kWh"],
        ["预期发电量", t.expected_kwh, "kWh"],
        ["完成率", t.vs_expected, ""],
        ["欠发电量", t.shortfall_kwh, "kWh"],
        ["等效利用小时", t.specific_yield, "kWh/kWp"],
        ["模型倾斜面辐照量", t.irradiation_kwh_m2, "kWh/m²"],
        ["系统效率PR", t.performance_ratio, ""],
        ["时间可用率", t.time_availability, ""],
        ["能量可用率", t.energy_availability, ""],
        ["损失电量", t.lost_kwh, "kWh"],
        ["月末未关闭告警", report.open_alarms, "条"],
    ]


def write_report_xlsx(report: MonthReport, path: Path) -> Path:
    """Write the workbook to ``path``; returns it."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    lead = [[report.title], [f"生成时间(UTC) {report.generated_at:%Y-%m-%d %H:%M}"]]
    rows = _summary(report)
    ws = new_sheet(wb, "汇总", _SUMMARY_HEAD, rows, lead=lead)
    for row in rows:
        append_row(ws, row)
    append_row(ws, [])
    for note in report.notes:
        append_row(ws, ["说明", note])

    villages = [_values(VILLAGE_COLUMNS, v) for v in report.villages]
    ws = new_sheet(wb, "村", [c.heading for c in VILLAGE_COLUMNS], villages, lead=lead)
    for row in villages:
        append_row(ws, row)
    append_row(ws, _total_row(VILLAGE_COLUMNS, report.totals, stations=len(report.stations),
                              open_alarms=report.open_alarms), bold=True)  # fmt: skip

    stations = [_values(STATION_COLUMNS, s) for s in report.stations]
    ws = new_sheet(wb, "电站", [c.heading for c in STATION_COLUMNS], stations, lead=lead)
    for row in stations:
        append_row(ws, row)
    append_row(ws, _total_row(STATION_COLUMNS, report.totals, open_alarms=report.open_alarms),
               bold=True)  # fmt: skip

    losers = [[i, *_values(STATION_COLUMNS, s)] for i, s in enumerate(report.losers, start=1)]
    head = ["名次", *(c.heading for c in STATION_COLUMNS)]
    ws = new_sheet(wb, "落后电站", head, losers, lead=lead)
    for row in losers:
        append_row(ws, row)

    days = [[d.day, _kwh(d.energy_wh), _kwh(d.estimated_wh), _kwh(d.expected_wh)]
            for d in report.days]  # fmt: skip
    ws = new_sheet(wb, "每日", _DAY_HEAD, days, lead=lead)
    for row in days:
        append_row(ws, row)
    append_row(ws, ["合计", report.totals.energy_kwh, report.totals.estimated_kwh,
                    report.totals.expected_kwh], bold=True)  # fmt: skip

    alarms = [
        [a.station, a.inverter or "", ALARM_KINDS.get(a.kind, a.kind),
         f"{a.opened_at:%Y-%m-%d %H:%M}", f"{a.closed_at:%Y-%m-%d %H:%M}" if a.closed_at else "",
         "是" if a.open_at_end else "否", a.reason]
        for a in report.alarms
    ]  # fmt: skip
    ws = new_sheet(wb, "告警", _ALARM_HEAD, alarms, lead=lead)
    for alarm in alarms:
        append_row(ws, alarm)
    wb.save(path)
    return path
