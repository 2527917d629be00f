"""The monthly report as a printable PDF (A4 landscape), CJK font embedded.

The font is WenQuanYi Micro Hei (:func:`pvmon.fonts.cjk_font_path`, as the 公示 PDF), so
the report prints the same on a machine without Chinese fonts; the charts are the same
drawings as the page's (:mod:`pvmon.report.charts`), as PNG images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvmon.fonts import cjk_font_path
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

__all__ = ["FONT", "write_report_pdf"]

FONT = "WenQuanYiMicroHei"
_MAX_ALARMS = 200  # the PDF lists at most this many alarms (the XLSX lists them all)


def _register() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(cjk_font_path()), subfontIndex=0))


def write_report_pdf(report: MonthReport, path: Path) -> Path:
    """Write the PDF to ``path``; returns it."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.tables import LongTable

    _register()
    title = ParagraphStyle("t", fontName=FONT, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=FONT, fontSize=9, leading=13)
    small = ParagraphStyle("s", fontName=FONT, fontSize=7, leading=9)
    base = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 7),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]

    def table(
        columns: Sequence[Column], lines: Sequence[Any], total: list[str] | None = None
    ) -> Table:
        head = [Paragraph(c.heading, small) for c in columns]
        rows: list[list[Any]] = [
            [Paragraph(cell_text(c.kind, c.value(x)), small) if c.kind == "text"
             else cell_text(c.kind, c.value(x)) for c in columns]
            for x in lines
        ]  # fmt: skip
        style = [*base, *(("ALIGN", (i, 1), (i, -1), "RIGHT") for i, c in enumerate(columns)
                          if c.kind != "text")]  # fmt: skip
        if total is not None:
            rows.append(total)
            style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")))
        return LongTable([head, *rows], style=TableStyle(style), repeatRows=1)

    def totals_row(columns: Sequence[Column]) -> list[str]:
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

    def chart(png: bytes) -> Image:
        return Image(io.BytesIO(png), width=12.6 * cm, height=6.7 * cm)

    window = (
        f"统计区间 {report.window[0].isoformat()} 至 {report.window[1].isoformat()}"
        if report.window
        else "无数据"
    )
    summary = Table(
        [[k for k, _ in summary_lines(report)], [v for _, v in summary_lines(report)]],
        style=TableStyle(base),
    )
    alarms = report.alarms[:_MAX_ALARMS]
    alarm_rows = [
        ["电站编号", "逆变器", "类型", "开始(UTC)", "关闭(UTC)", "原因"],
        *([a.station, a.inverter or "", ALARM_KINDS.get(a.kind, a.kind),
           f"{a.opened_at:%Y-%m-%d %H:%M}",
           f"{a.closed_at:%Y-%m-%d %H:%M}" if a.closed_at else "未关闭",
           Paragraph(a.reason, small)] for a in alarms),
    ]  # fmt: skip
    doc = SimpleDocTemplate(
        str(path), pagesize=landscape(A4), title=report.title, leftMargin=1.2 * cm,
        rightMargin=1.2 * cm, topMargin=1.2 * cm, bottomMargin=1.2 * cm,
    )  # fmt: skip
    story: list[Any] = [
        Paragraph(report.title, title),
        Paragraph(f"{window}；生成时间(UTC) {report.generated_at:%Y-%m-%d %H:%M}", body),
        Spacer(1, 6),
        Paragraph("一、汇总", body),
        summary,
        Spacer(1, 6),
    ]
    if report.window is not None:
        story.append(Table([[chart(daily_chart(report, "png")),
                             chart(ranking_chart(report, "png"))]]))  # fmt: skip
    story += [
        Spacer(1, 6),
        Paragraph("二、各村发电", body),
        table(VILLAGE_COLUMNS, report.villages, totals_row(VILLAGE_COLUMNS)),
        Spacer(1, 6),
        Paragraph(f"三、发电落后电站（前{len(report.losers)}座）", body),
        table(STATION_COLUMNS, report.losers),
        Spacer(1, 6),
        Paragraph("四、各电站发电", body),
        table(STATION_COLUMNS, report.stations, totals_row(STATION_COLUMNS)),
        Spacer(1, 6),
        Paragraph(f"五、告警（{len(report.alarms)}条，月末未关闭{report.open_alarms}条）", body),
    ]
    if alarms:
        story.append(LongTable(alarm_rows, style=TableStyle(base), repeatRows=1))
    if len(report.alarms) > len(alarms):
        story.append(Paragraph(f"另有{len(report.alarms) - len(alarms)}条见XLSX。", body))
    story += [Spacer(1, 6), Paragraph("说明", body),
              *(Paragraph(note, small) for note in report.notes)]  # fmt: skip
    doc.build(story)
    return path
