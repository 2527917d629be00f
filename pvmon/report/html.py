"""The monthly report as one self-contained HTML page (the API serves it).

No script and nothing fetched: the charts are inline SVG drawn by matplotlib on the
server (:mod:`pvmon.report.charts`), the styles inline. Every text from the database is
escaped. The two charts sit in fixed boxes at the top of the page (:data:`CHART_BOXES`,
CSS pixels), so a screenshot can be checked for them; the totals carry
``data-total`` attributes naming their JSON field.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from pvmon.report.charts import daily_chart, ranking_chart
from pvmon.report.data import (
    ALARM_KINDS,
    STATION_COLUMNS,
    VILLAGE_COLUMNS,
    Column,
    MonthReport,
    cell_text,
    summary_lines,
)

__all__ = ["CHART_BOXES", "index_page", "report_page"]

#: (left, top, right, bottom) of each chart on the page [CSS px]
CHART_BOXES = {"daily": (20, 100, 620, 420), "ranking": (660, 100, 1260, 420)}
_HEADER_PX = 100
_TOTAL_KEYS = {
    "电站数": "stations",
    "装机容量": "capacity_kwp",
    "发电量": "energy_kwh",
    "其中估算": "estimated_kwh",
    "预期发电量": "expected_kwh",
    "完成率": "vs_expected",
    "等效利用小时": "specific_yield",
    "系统效率PR": "performance_ratio",
    "时间可用率": "time_availability",
    "能量可用率": "energy_availability",
    "损失电量": "lost_kwh",
    "月末未关闭告警": "open_alarms",
}


def _style() -> str:
    d, r = CHART_BOXES["daily"], CHART_BOXES["ranking"]
    return f"""
body {{ margin: 0; font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
       color: #222; background: #fff; width: 1280px; }}
header {{ height: {_HEADER_PX}px; overflow: hidden; padding: 0 20px; box-sizing: border-box; }}
header h1 {{ font-size: 24px; margin: 14px 0 6px; }}
header p {{ margin: 0; font-size: 13px; color: #555; }}
.charts {{ position: relative; height: {d[3] - d[1] + 20}px; }}
.chart {{ position: absolute; top: 0; width: {d[2] - d[0]}px; height: {d[3] - d[1]}px; }}
.chart svg {{ width: 100%; height: 100%; }}
#chart-daily {{ left: {d[0]}px; }}
#chart-ranking {{ left: {r[0]}px; width: {r[2] - r[0]}px; }}
main {{ padding: 0 20px 40px; }}
dl.totals {{ display: grid; grid-template-columns: repeat(9, 1fr); gap: 6px; }}
dl.totals div {{ border: 1px solid #ccd; padding: 6px; }}
dl.totals dt {{ font-size: 12px; color: #555; }}
dl.totals dd {{ margin: 0; font-size: 15px; font-weight: bold; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 6px 0 18px; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; }}
th {{ background: #e8eef7; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.total td {{ background: #f3f3f3; font-weight: bold; }}
.notes {{ font-size: 12px; color: #444; }}
"""


def _table(columns: Sequence[Column], lines: Sequence[Any], total: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(c.heading)}</th>" for c in columns)
    rows = []
    for x in lines:
        cells = "".join(
            f'<td class="n">{escape(cell_text(c.kind, c.value(x)))}</td>'
            if c.kind != "text" else f"<td>{escape(cell_text(c.kind, c.value(x)))}</td>"
            for c in columns
        )  # fmt: skip
        rows.append(f"<tr>{cells}</tr>")
    if total is not None:
        rows.append('<tr class="total">' + "".join(
            f'<td class="n">{escape(v)}</td>' for v in total) + "</tr>")  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _totals_row(report: MonthReport, columns: Sequence[Column]) -> list[str]:
    out = []
    for c in columns:
        if c.key == "stations":
            out.append(str(len(report.stations)))
        elif c.key == "open_alarms":
            out.append(str(report.open_alarms))
        elif c.kind != "text" and hasattr(report.totals, c.key):
            out.append(cell_text(c.kind, getattr(report.totals, c.key)))
        else:
            out.append("")
    out[0] = "合计"
    return out


def _svg(data: bytes) -> str:
    text = data.decode("utf-8")
    return text[text.index("<svg") :]  # no XML prolog or doctype inside HTML


def report_page(report: MonthReport, *, json_url: str | None = None) -> str:
    """The page of ``report``; ``json_url`` links the same report as JSON."""
    window = (
        f"统计区间 {report.window[0].isoformat()} 至 {report.window[1].isoformat()}"
        if report.window
        else "无数据"
    )
    totals = "".join(
        f'<div><dt>{escape(k)}</dt><dd data-total="{_TOTAL_KEYS[k]}">{escape(v)}</dd></div>'
        for k, v in summary_lines(report)
    )
    alarms = "".join(
        f"<tr><td>{escape(a.station)}</td><td>{escape(a.inverter or '')}</td>"
        f"<td>{escape(ALARM_KINDS.get(a.kind, a.kind))}</td>"
        f"<td>{a.opened_at:%Y-%m-%d %H:%M}</td>"
        f"<td>{f'{a.closed_at:%Y-%m-%d %H:%M}' if a.closed_at else '未关闭'}</td>"
        f"<td>{escape(a.reason)}</td></tr>"
        for a in report.alarms
    )
    link = f' · <a href="{escape(json_url)}">JSON</a>' if json_url else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>{escape(report.title)}</title><style>{_style()}</style></head>
<body>
<header><h1>{escape(report.title)}</h1>
<p>{escape(window)} · 生成时间(UTC) {report.generated_at:%Y-%m-%d %H:%M}{link}</p></header>
<section class="charts">
<div class="chart" id="chart-daily">{_svg(daily_chart(report, "svg"))}</div>
<div class="chart" id="chart-ranking">{_svg(ranking_chart(report, "svg"))}</div>
</section>
<main>
<h2>汇总</h2><dl class="totals">{totals}</dl>
<h2>各村发电</h2>
{_table(VILLAGE_COLUMNS, report.villages, _totals_row(report, VILLAGE_COLUMNS))}
<h2>发电落后电站（前{len(report.losers)}座）</h2>
{_table(STATION_COLUMNS, report.losers)}
<h2>各电站发电</h2>
{_table(STATION_COLUMNS, report.stations, _totals_row(report, STATION_COLUMNS))}
<h2>告警（{len(report.alarms)}条，月末未关闭{report.open_alarms}条）</h2>
<table><thead><tr><th>电站编号</th><th>逆变器</th><th>类型</th><th>开始(UTC)</th>
<th>关闭(UTC)</th><th>原因</th></tr></thead><tbody>{alarms}</tbody></table>
<h2>说明</h2><ul class="notes">{"".join(f"<li>{escape(n)}</li>" for n in report.notes)}</ul>
</main></body></html>
"""


def index_page() -> str:
    """The API's front page: where things are, and a form that opens a monthly report.

    It needs no key and shows no data; the form sends the key as the ``key`` query
    parameter, which only the report page accepts (a browser cannot send a header)."""
    return """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>pvmon</title><style>
body { font-family: sans-serif; margin: 40px; max-width: 760px; color: #222; }
label { display: block; margin: 8px 0; } input { font-size: 15px; padding: 3px; }
code { background: #f3f3f3; padding: 1px 3px; }</style></head>
<body><h1>pvmon</h1>
<p>Monitoring and dividends of PV poverty-alleviation stations.
API documentation: <a href="/docs">/docs</a> · health: <a href="/health">/health</a>.</p>
<h2>发电月报 · Monthly generation report</h2>
<form method="get" action="/v1/reports/month.html">
<label>县 county code <input name="county" value="LY" required pattern="[A-Za-z0-9_.-]+"></label>
<label>月份 month <input name="month" type="month" required></label>
<label>乡镇 township code (optional) <input name="township" pattern="[A-Za-z0-9_.-]+"></label>
<label>村 village code (optional) <input name="village" pattern="[A-Za-z0-9_.-]+"></label>
<label>API key <input name="key" type="password" required size="50"></label>
<button type="submit">打开月报 Open the report</button></form>
<p>The key (any role; <code>pvmon keys create NAME --role viewer --county LY</code>) is
sent in the address of the report page, so it shows in the browser's history: use a
viewer key limited to the county. Programs send it as the <code>X-API-Key</code> header
and can ask <code>/v1/reports/month</code> for JSON.</p>
</body></html>
"""
