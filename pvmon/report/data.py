"""The monthly generation report as data: pure functions from rows to a report.

:func:`build_month_report` takes the scope's stations, their daily energy, the modelled
days of each site (:mod:`pvmon.report.expected`) and the alarms of the month, and
returns a :class:`MonthReport`; the renderers (``xlsx``, ``pdf``, ``html``) and the API's
JSON read only this structure.

**The window.** A report covers the local days of the month from the first to the last
day with any reading in its scope, and never today (a day still running would look like
a shortfall). Inside the window a station without energy on a day counts 0 Wh for that
day, so a station that was down shows its whole shortfall. The window is printed on
every report.

**Figures** (per station, village and scope):

- energy [kWh]: from the lifetime counters (``station_energy_daily``); ``estimated``
  is the part placed across data gaps by the clear-sky split;
- expected [kWh]: capacity × the model's expected yield for the window's days;
- specific yield [kWh/kWp]: energy / capacity;
- performance ratio (PR): specific yield / (modelled in-plane irradiation [kWh/m²] /
  1 kW/m²). The irradiation is a model (clear sky × 0.70), not a measurement, so PR
  here compares a station with a typical sky; a station producing exactly as expected
  has PR = :data:`~pvmon.report.expected.MODEL_PR`;
- vs expected: energy / expected; shortfall [kWh]: expected − energy when positive.

**Top losers** are the stations with the lowest energy against expected (equivalently
the lowest specific yield against what their site should give), then the largest
shortfall, then code.

**Availability and lost energy** come from :mod:`pvmon.availability` over the same
days (IEC 61724-3 in spirit): time-based availability (the share of the daylight in
which the station could produce), energy-based availability (energy / (energy + lost))
and the energy lost by cause: grid, inverter fault, maintenance (a silent logger loses
nothing: its counter shows what was produced). A village's and the scope's time
availability is the capacity-weighted mean of its stations'; its energy availability is
computed from its energies.

**Columns are data.** :data:`STATION_COLUMNS` and :data:`VILLAGE_COLUMNS` list every
column once (key, Chinese heading, unit, kind); the XLSX, PDF, HTML and JSON all follow
them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pvmon.availability import StationAvailability
from pvmon.errors import ValidationError

__all__ = [
    "ALARM_KINDS",
    "KINDS",
    "METHOD_NOTES",
    "STATION_COLUMNS",
    "VILLAGE_COLUMNS",
    "AlarmLine",
    "Column",
    "DayLine",
    "Figures",
    "MonthReport",
    "Scope",
    "StationInput",
    "StationLine",
    "VillageLine",
    "build_month_report",
    "cell_text",
    "parse_month",
    "report_json",
    "report_window",
    "summary_lines",
]

KINDS = {"household": "户用", "village": "村级", "joint": "联村"}
ALARM_KINDS = {
    "offline": "离线",
    "no_output": "无出力",
    "fault_code": "故障码",
    "underperforming": "发电偏低",
    "misconfigured": "配置错误",
}
_LOCAL = ZoneInfo("Asia/Shanghai")
#: how the figures are made, printed under every report
METHOD_NOTES: tuple[str, ...] = (
    "发电量取自逆变器累计电量计数器（中国标准时间日）；"
    "“其中估算”为数据中断期间按晴空模型分配的部分。",
    "预期发电量：pvlib 晴空模型（Ineichen，Linke浑浊度3.0）×晴空指数0.70"
    "（北方典型年均值，假设而非实测），Erbs分解、各向同性倾斜面转换，"
    "系统损失14%、逆变器效率96%；按电站经纬度（0.5°网格）、倾角和方位逐日计算。",
    "系统效率PR = 等效利用小时(kWh/kWp) ÷（模型倾斜面辐照量(kWh/m²) ÷ 1 kW/m²）。"
    "辐照量为模型值，非实测；发电与预期完全相同时 PR = 0.826。",
    "发电落后电站：按完成率（发电量÷预期）由低到高，其次欠发电量由大到小。",
)
_KWH = Decimal("0.1")
_RATIO = Decimal("0.001")


def parse_month(text: str) -> date:
    """``"2025-06"`` → the first day of that month; :class:`ValidationError` otherwise."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        first = date(int(year), int(month), 1)
    except ValueError as exc:
        raise ValidationError(f"month {text!r}: expected YYYY-MM, e.g. 2025-06") from exc
    if not 2000 <= first.year <= 2100:
        raise ValidationError(f"month {text!r}: the year must lie between 2000 and 2100")
    return first


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _ratio(num: Decimal, den: Decimal) -> Decimal | None:
    return (num / den).quantize(_RATIO, ROUND_HALF_UP) if den > 0 else None


def _kwh(wh: int) -> Decimal:
    return (Decimal(wh) / 1000).quantize(_KWH, ROUND_HALF_UP)


@dataclass(frozen=True)
class Scope:
    """What a report covers: a county, or one township or village of it."""

    level: Literal["county", "township", "village"]
    code: str
    name: str
    county_code: str
    county_name: str


@dataclass(frozen=True)
class StationInput:
    """One station of the scope with its modelled days (from the edge and the model).

    ``irradiation_wh_m2`` and ``expected_wh_per_kwp`` map each local day of the month to
    the model's in-plane irradiation [Wh/m²] and expected energy [Wh/kWp].
    """

    station_id: int
    code: str
    label: str
    kind: str
    capacity_kwp: Decimal
    village_code: str
    village_name: str
    township_code: str
    township_name: str
    irradiation_wh_m2: dict[date, float]
    expected_wh_per_kwp: dict[date, float]


@dataclass(frozen=True)
class Figures:
    """Energy against expected for a station, a village or the scope."""

    capacity_kwp: Decimal
    energy_wh: int
    estimated_wh: int
    expected_wh: int
    irradiation_wh_m2: int  # capacity-weighted mean for a group [Wh/m²]
    #: share of daylight in which it could produce [1] (capacity-weighted for a group)
    time_availability: Decimal | None = None
    availability_wh: int = 0  # energy over the availability's days [Wh]
    lost_wh_by_cause: Mapping[str, int] = field(default_factory=dict)  # [Wh]

    @property
    def lost_kwh(self) -> Decimal:
        """Energy lost to outages, every cause [kWh], one decimal."""
        return _kwh(sum(self.lost_wh_by_cause.values()))

    def lost_cause_kwh(self, cause: str) -> Decimal:
        """Energy lost to ``cause`` [kWh], one decimal."""
        return _kwh(self.lost_wh_by_cause.get(cause, 0))

    @property
    def energy_availability(self) -> Decimal | None:
        """Energy / (energy + lost) [1]; None without availability figures."""
        if self.time_availability is None:
            return None
        lost = sum(self.lost_wh_by_cause.values())
        return _ratio(Decimal(self.availability_wh), Decimal(self.availability_wh + lost))

    @property
    def energy_kwh(self) -> Decimal:
        """Energy [kWh], one decimal."""
        return _kwh(self.energy_wh)

    @property
    def estimated_kwh(self) -> Decimal:
        """Estimated part of the energy [kWh], one decimal."""
        return (Decimal(self.estimated_wh) / 1000).quantize(_KWH, ROUND_HALF_UP)

    @property
    def expected_kwh(self) -> Decimal:
        """Expected energy [kWh], one decimal."""
        return (Decimal(self.expected_wh) / 1000).quantize(_KWH, ROUND_HALF_UP)

    @property
    def shortfall_kwh(self) -> Decimal:
        """Expected − energy when positive [kWh], one decimal."""
        return (Decimal(max(self.expected_wh - self.energy_wh, 0)) / 1000).quantize(
            _KWH, ROUND_HALF_UP
        )

    @property
    def specific_yield(self) -> Decimal | None:
        """Energy per installed kWp [kWh/kWp], three decimals."""
        return _ratio(Decimal(self.energy_wh) / 1000, self.capacity_kwp)

    @property
    def irradiation_kwh_m2(self) -> Decimal:
        """Modelled in-plane irradiation [kWh/m²], three decimals."""
        return (Decimal(self.irradiation_wh_m2) / 1000).quantize(_RATIO, ROUND_HALF_UP)

    @property
    def performance_ratio(self) -> Decimal | None:
        """Specific yield / (modelled in-plane irradiation / 1 kW/m²) [1]."""
        if self.capacity_kwp <= 0:
            return None
        reference_wh_per_kwp = Decimal(self.irradiation_wh_m2)  # [Wh/m²] / 1 kW/m² × 1 kWp
        return _ratio(Decimal(self.energy_wh) / self.capacity_kwp, reference_wh_per_kwp)

    @property
    def vs_expected(self) -> Decimal | None:
        """Energy / expected energy [1]."""
        return _ratio(Decimal(self.energy_wh), Decimal(self.expected_wh))


@dataclass(frozen=True)
class StationLine:
    """A station's month: who it is, its figures and its alarms of the month."""

    code: str
    label: str
    kind: str
    village_code: str
    village_name: str
    township_code: str
    figures: Figures
    days_with_energy: int
    alarms: int
    open_alarms: int


@dataclass(frozen=True)
class VillageLine:
    """A village's stations together."""

    code: str
    name: str
    township_code: str
    stations: int
    figures: Figures
    open_alarms: int


@dataclass(frozen=True)
class DayLine:
    """The scope's energy on one local day [Wh]."""

    day: date
    energy_wh: int
    estimated_wh: int
    expected_wh: int


@dataclass(frozen=True)
class AlarmLine:
    """An alarm open at some time in the window (``closed_at`` None: still open now)."""

    station: str
    inverter: str | None
    kind: str
    opened_at: datetime
    closed_at: datetime | None
    reason: str
    open_at_end: bool  # still open at the end of the window


@dataclass(frozen=True)
class Column:
    """One column of a table: key (JSON), Chinese heading, kind and how to read it."""

    key: str
    heading: str
    kind: Literal["text", "kwh", "ratio", "count", "kwp"]
    value: Callable[[Any], object]


def _f(attr: str) -> Callable[[Any], object]:
    return lambda line: getattr(line.figures, attr)


def _cause(cause: str) -> Callable[[Any], object]:
    """Energy lost to ``cause`` [kWh]; None where there are no availability figures."""
    return lambda line: (
        line.figures.lost_cause_kwh(cause) if line.figures.time_availability is not None else None
    )


STATION_COLUMNS: tuple[Column, ...] = (
    Column("code", "电站编号", "text", lambda s: s.code),
    Column("label", "电站", "text", lambda s: s.label),
    Column("kind", "类型", "text", lambda s: KINDS.get(s.kind, s.kind)),
    Column("village", "村", "text", lambda s: s.village_name),
    Column("capacity_kwp", "装机容量(kWp)", "kwp", _f("capacity_kwp")),
    Column("energy_kwh", "发电量(kWh)", "kwh", _f("energy_kwh")),
    Column("estimated_kwh", "其中估算(kWh)", "kwh", _f("estimated_kwh")),
    Column("expected_kwh", "预期发电量(kWh)", "kwh", _f("expected_kwh")),
    Column("vs_expected", "完成率", "ratio", _f("vs_expected")),
    Column("shortfall_kwh", "欠发电量(kWh)", "kwh", _f("shortfall_kwh")),
    Column("specific_yield", "等效利用小时(kWh/kWp)", "ratio", _f("specific_yield")),
    Column("performance_ratio", "系统效率PR", "ratio", _f("performance_ratio")),
    Column("time_availability", "时间可用率", "ratio", _f("time_availability")),
    Column("energy_availability", "能量可用率", "ratio", _f("energy_availability")),
    Column("lost_kwh", "损失电量(kWh)", "kwh", _f("lost_kwh")),
    Column("lost_grid_kwh", "电网原因损失(kWh)", "kwh", _cause("grid")),
    Column("lost_fault_kwh", "设备故障损失(kWh)", "kwh", _cause("inverter_fault")),
    Column("lost_maintenance_kwh", "计划检修损失(kWh)", "kwh", _cause("maintenance")),
    Column("days_with_energy", "有数据天数", "count", lambda s: s.days_with_energy),
    Column("open_alarms", "未关闭告警", "count", lambda s: s.open_alarms),
)
VILLAGE_COLUMNS: tuple[Column, ...] = (
    Column("code", "村编号", "text", lambda v: v.code),
    Column("name", "村", "text", lambda v: v.name),
    Column("stations", "电站数", "count", lambda v: v.stations),
    Column("capacity_kwp", "装机容量(kWp)", "kwp", _f("capacity_kwp")),
    Column("energy_kwh", "发电量(kWh)", "kwh", _f("energy_kwh")),
    Column("expected_kwh", "预期发电量(kWh)", "kwh", _f("expected_kwh")),
    Column("vs_expected", "完成率", "ratio", _f("vs_expected")),
    Column("specific_yield", "等效利用小时(kWh/kWp)", "ratio", _f("specific_yield")),
    Column("performance_ratio", "系统效率PR", "ratio", _f("performance_ratio")),
    Column("time_availability", "时间可用率", "ratio", _f("time_availability")),
    Column("energy_availability", "能量可用率", "ratio", _f("energy_availability")),
    Column("lost_kwh", "损失电量(kWh)", "kwh", _f("lost_kwh")),
    Column("open_alarms", "未关闭告警", "count", lambda v: v.open_alarms),
)


@dataclass(frozen=True)
class MonthReport:
    """A scope's month: totals, villages, stations, days, alarms and the top losers."""

    scope: Scope
    month: date  # first day
    window: tuple[date, date] | None  # first and last day covered; None: no data
    generated_at: datetime
    totals: Figures
    stations: list[StationLine]
    villages: list[VillageLine]
    days: list[DayLine]
    alarms: list[AlarmLine]
    losers: list[StationLine]
    notes: list[str] = field(default_factory=list)

    @property
    def open_alarms(self) -> int:
        """Alarms still open at the end of the window."""
        return sum(1 for a in self.alarms if a.open_at_end)

    @property
    def title(self) -> str:
        """``凌源县 2025年6月 发电月报`` (with the township or village when narrower)."""
        where = self.scope.county_name
        if self.scope.level != "county":
            where += " " + self.scope.name
        return f"{where} {self.month.year}年{self.month.month}月 发电月报"


def report_window(month: date, today: date, data_days: Iterable[date]) -> tuple[date, date] | None:
    """The local days a report of the month starting ``month`` covers: from the first to
    the last day with data, never ``today`` (still running); None without data."""
    end = min(_next_month(month), today) - timedelta(days=1)
    inside = [d for d in data_days if month <= d <= end]
    return (min(inside), max(inside)) if inside else None


def _group(lines: Sequence[StationLine], irr_by_code: dict[str, int]) -> Figures:
    capacity = sum((s.figures.capacity_kwp for s in lines), Decimal(0))
    weighted = sum(Decimal(irr_by_code[s.code]) * s.figures.capacity_kwp for s in lines)
    irr = int((weighted / capacity).to_integral_value(ROUND_HALF_UP)) if capacity > 0 else 0
    known = [s.figures for s in lines if s.figures.time_availability is not None]
    known_kwp = sum((f.capacity_kwp for f in known), Decimal(0))
    lost: dict[str, int] = defaultdict(int)
    for f in known:
        for cause, wh in f.lost_wh_by_cause.items():
            lost[cause] += wh
    return Figures(
        capacity_kwp=capacity,
        energy_wh=sum(s.figures.energy_wh for s in lines),
        estimated_wh=sum(s.figures.estimated_wh for s in lines),
        expected_wh=sum(s.figures.expected_wh for s in lines),
        irradiation_wh_m2=irr,
        time_availability=(
            _ratio(sum((_weighted(f) for f in known), Decimal(0)), known_kwp) if known else None
        ),
        availability_wh=sum(f.availability_wh for f in known),
        lost_wh_by_cause=dict(lost),
    )


def _weighted(f: Figures) -> Decimal:
    return (f.time_availability or Decimal(0)) * f.capacity_kwp


def _loser_key(s: StationLine) -> tuple[Decimal, Decimal, str]:
    ratio = s.figures.vs_expected
    return (ratio if ratio is not None else Decimal("Infinity"), -s.figures.shortfall_kwh, s.code)


def build_month_report(
    *,
    scope: Scope,
    month: date,
    today: date,
    generated_at: datetime,
    stations: Sequence[StationInput],
    daily: Iterable[tuple[int, date, int | None, int | None]],
    alarms: Iterable[tuple[int, str | None, str, datetime, datetime | None, str]],
    availability: Mapping[str, StationAvailability] | None = None,
    losers: int = 10,
) -> MonthReport:
    """The report of ``scope`` for the month starting ``month``.

    ``daily`` holds (station id, local day, energy [Wh], estimated [Wh]) rows of the
    month, ``alarms`` (station id, inverter serial, kind, opened at, closed at, reason)
    rows overlapping it; ``today`` is the local day now (never covered: still running);
    ``availability`` holds each station's availability over the covered days, by code;
    ``losers`` is how many stations the top-losers list shows.
    """
    if month.day != 1:
        raise ValidationError(f"month {month}: must be the first day of a month")
    if losers < 0:
        raise ValidationError(f"losers {losers}: must be 0 or more")
    by_id = {s.station_id: s for s in stations}
    rows = [r for r in daily if r[0] in by_id and r[2] is not None]
    window = report_window(month, today, (r[1] for r in rows))
    covered = (
        [window[0] + timedelta(days=i) for i in range((window[1] - window[0]).days + 1)]
        if window
        else []
    )
    covered_set = set(covered)
    energy: dict[int, int] = defaultdict(int)
    estimated: dict[int, int] = defaultdict(int)
    days_with: dict[int, int] = defaultdict(int)
    day_energy: dict[date, int] = defaultdict(int)
    day_estimated: dict[date, int] = defaultdict(int)
    for sid, day, wh, est in rows:
        if day not in covered_set:
            continue
        energy[sid] += int(wh or 0)
        estimated[sid] += int(est or 0)
        days_with[sid] += 1
        day_energy[day] += int(wh or 0)
        day_estimated[day] += int(est or 0)
    alarm_lines: list[AlarmLine] = []
    alarm_count: dict[int, int] = defaultdict(int)
    open_count: dict[int, int] = defaultdict(int)
    if window is not None:
        start_ts = datetime.combine(window[0], datetime.min.time(), _LOCAL)
        end_ts = datetime.combine(window[1] + timedelta(days=1), datetime.min.time(), _LOCAL)
        for sid, inverter, kind, opened, closed, reason in alarms:
            if sid not in by_id or opened >= end_ts or (closed is not None and closed < start_ts):
                continue
            still_open = closed is None or closed >= end_ts
            alarm_lines.append(
                AlarmLine(by_id[sid].code, inverter, kind, opened, closed, reason, still_open)
            )
            alarm_count[sid] += 1
            open_count[sid] += still_open
    alarm_lines.sort(key=lambda a: (a.opened_at, a.station))

    lines: list[StationLine] = []
    irr_by_code: dict[str, int] = {}
    day_expected: dict[date, float] = defaultdict(float)
    availability = availability or {}
    for s in sorted(stations, key=lambda s: s.code):
        a = availability.get(s.code)
        expected = sum(s.expected_wh_per_kwp[d] for d in covered) * float(s.capacity_kwp)
        irr = sum(s.irradiation_wh_m2[d] for d in covered)
        for d in covered:
            day_expected[d] += s.expected_wh_per_kwp[d] * float(s.capacity_kwp)
        irr_by_code[s.code] = round(irr)
        lines.append(
            StationLine(
                code=s.code,
                label=s.label,
                kind=s.kind,
                village_code=s.village_code,
                village_name=s.village_name,
                township_code=s.township_code,
                figures=Figures(
                    capacity_kwp=s.capacity_kwp,
                    energy_wh=energy[s.station_id],
                    estimated_wh=estimated[s.station_id],
                    expected_wh=round(expected),
                    irradiation_wh_m2=round(irr),
                    time_availability=a.time_availability if a else None,
                    availability_wh=a.actual_wh if a else 0,
                    lost_wh_by_cause=dict(a.lost_wh_by_cause) if a else {},
                ),
                days_with_energy=days_with[s.station_id],
                alarms=alarm_count[s.station_id],
                open_alarms=open_count[s.station_id],
            )
        )
    by_village: dict[str, list[StationLine]] = defaultdict(list)
    for line in lines:
        by_village[line.village_code].append(line)
    villages = [
        VillageLine(
            code=code,
            name=members[0].village_name,
            township_code=members[0].township_code,
            stations=len(members),
            figures=_group(members, irr_by_code),
            open_alarms=sum(m.open_alarms for m in members),
        )
        for code, members in sorted(by_village.items())
    ]
    days = [DayLine(d, day_energy[d], day_estimated[d], round(day_expected[d])) for d in covered]
    if window:
        span = f"统计区间：{window[0].isoformat()} 至 {window[1].isoformat()}"
        notes = [f"{span}（本月内有数据的已结束日，共{len(covered)}天）；"
                 "区间内某电站无数据的日子按0计。", *METHOD_NOTES]  # fmt: skip
    else:
        notes = ["本月所选范围内没有已结束的有数据日：无发电数据。", *METHOD_NOTES]
    return MonthReport(
        scope=scope,
        month=month,
        window=window,
        generated_at=generated_at,
        totals=_group(lines, irr_by_code),
        stations=lines,
        villages=villages,
        days=days,
        alarms=alarm_lines,
        losers=sorted(lines, key=_loser_key)[:losers] if window else [],
        notes=notes,
    )


def cell_text(kind: str, value: object) -> str:
    """A value as printed in the PDF and the page: kWh one decimal with thousands
    separators, kWp two decimals, ratios three decimals, a missing figure as ``—``."""
    if value is None:
        return "—"
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        if kind == "kwh":
            return f"{value:,.1f}"
        if kind == "kwp":
            return f"{value:,.2f}"
        if kind == "ratio":
            return f"{value:.3f}"
    return str(value)


def _json_value(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


def _figures_json(f: Figures) -> dict[str, object]:
    return {
        "capacity_kwp": float(f.capacity_kwp),
        "energy_wh": f.energy_wh,
        "estimated_wh": f.estimated_wh,
        "expected_wh": f.expected_wh,
        "irradiation_wh_m2": f.irradiation_wh_m2,
        "energy_kwh": float(f.energy_kwh),
        "expected_kwh": float(f.expected_kwh),
        "shortfall_kwh": float(f.shortfall_kwh),
        "specific_yield": _json_value(f.specific_yield),
        "performance_ratio": _json_value(f.performance_ratio),
        "vs_expected": _json_value(f.vs_expected),
        "time_availability": _json_value(f.time_availability),
        "energy_availability": _json_value(f.energy_availability),
        "lost_kwh": float(f.lost_kwh),
        "lost_wh_by_cause": dict(f.lost_wh_by_cause),
    }


def report_json(report: MonthReport) -> dict[str, object]:
    """The report as JSON-ready data: the tables by their column keys, plus exact Wh."""

    def table(columns: Sequence[Column], lines: Sequence[Any]) -> list[dict[str, object]]:
        return [
            {**{c.key: _json_value(c.value(x)) for c in columns}, **_figures_json(x.figures)}
            for x in lines
        ]

    return {
        "title": report.title,
        "scope": {
            "level": report.scope.level,
            "code": report.scope.code,
            "name": report.scope.name,
            "county": report.scope.county_code,
        },
        "month": report.month.strftime("%Y-%m"),
        "window": [d.isoformat() for d in report.window] if report.window else None,
        "generated_at": report.generated_at.isoformat(),
        "totals": {
            **_figures_json(report.totals),
            "stations": len(report.stations),
            "open_alarms": report.open_alarms,
        },
        "villages": table(VILLAGE_COLUMNS, report.villages),
        "stations": table(STATION_COLUMNS, report.stations),
        "losers": [s.code for s in report.losers],
        "days": [
            {
                "day": d.day.isoformat(),
                "energy_wh": d.energy_wh,
                "estimated_wh": d.estimated_wh,
                "expected_wh": d.expected_wh,
            }
            for d in report.days
        ],
        "alarms": [
            {
                "station": a.station,
                "inverter": a.inverter,
                "kind": a.kind,
                "opened_at": a.opened_at.isoformat(),
                "closed_at": a.closed_at.isoformat() if a.closed_at else None,
                "reason": a.reason,
                "open_at_end": a.open_at_end,
            }
            for a in report.alarms
        ],
        "notes": report.notes,
    }


def summary_lines(report: MonthReport) -> list[tuple[str, str]]:
    """The totals block (heading, value with unit), as on the page."""
    t = report.totals
    return [
        ("电站数", f"{len(report.stations)} 座"),
        ("装机容量", f"{cell_text('kwp', t.capacity_kwp)} kWp"),
        ("发电量", f"{cell_text('kwh', t.energy_kwh)} kWh"),
        ("其中估算", f"{cell_text('kwh', t.estimated_kwh)} kWh"),
        ("预期发电量", f"{cell_text('kwh', t.expected_kwh)} kWh"),
        ("完成率", cell_text("ratio", t.vs_expected)),
        ("等效利用小时", f"{cell_text('ratio', t.specific_yield)} kWh/kWp"),
        ("系统效率PR", cell_text("ratio", t.performance_ratio)),
        ("时间可用率", cell_text("ratio", t.time_availability)),
        ("能量可用率", cell_text("ratio", t.energy_availability)),
        ("损失电量", f"{cell_text('kwh', t.lost_kwh)} kWh"),
        ("月末未关闭告警", f"{report.open_alarms} 条"),
    ]
