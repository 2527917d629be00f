"""Public disclosure (公示) per village and period: XLSX and a printable PDF.

Shows each station's generation [kWh], revenue by part (accrued and received) [yuan],
deductions, dividends paid, each payee's amount and the village plan's payees. Names are
masked as is customary (:func:`pvmon.privacy.mask_name`, 张*三); no ID or account numbers
are read at all. Figures come from approved (non-draft) runs of the period only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from dividends.exports import yuan
from dividends.periods import Period, parse_period
from pvmon.errors import NotFoundError
from pvmon.privacy import mask_name

__all__ = ["Disclosure", "disclosure", "write_disclosure_pdf", "write_disclosure_xlsx"]

_STATION_HEAD = (
    "电站", "发电量(kWh)", "标杆电价收入应收(元)", "标杆电价收入已收(元)", "补贴应收(元)",
    "补贴已收(元)", "扣除(元)", "分红实付(元)",
)  # fmt: skip
_PAYEE_HEAD = ("序号", "收款人", "类别", "金额(元)")


@dataclass
class Disclosure:
    """The sheet's figures: amounts [fen], energy [Wh]; payee names already masked."""

    village: str
    township: str
    period: str
    stations: list[tuple[str, int, int, int, int, int, int, int]] = field(default_factory=list)
    payees: list[tuple[str, str, int]] = field(default_factory=list)


def disclosure(conn: psycopg.Connection, *, village: str, period: Period | str) -> Disclosure:
    """Collect the disclosure figures of ``village`` (code) for ``period``."""
    period = parse_period(period) if isinstance(period, str) else period
    row = conn.execute(
        "SELECT v.id, v.name, tw.name FROM villages v JOIN townships tw ON tw.id = v.township_id"
        " WHERE v.code = %s",
        (village,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"village {village!r}: not found")
    vid, vname, tname = int(row[0]), str(row[1]), str(row[2])
    params = {"v": vid, "s": period.start, "e": period.end}
    stations = conn.execute(
        """
        WITH runs AS (
            SELECT id FROM dividend_runs WHERE status <> 'draft' AND kind = 'regular'
               AND period_start >= %(s)s AND period_end <= %(e)s
        ), u AS (
            SELECT u.station_id, sum(u.energy_wh) AS wh, sum(u.deductions_fen) AS ded,
                   sum(u.paid_fen + u.arrears_paid_fen) AS paid
              FROM dividend_run_units u JOIN runs r ON r.id = u.run_id
             WHERE u.village_id = %(v)s GROUP BY u.station_id
        )
        SELECT s.code, u.wh,
               coalesce((SELECT sum(amount_fen) FROM revenue_lines x WHERE x.station_id = s.id
                          AND x.part = 'benchmark' AND x.source IN ('metered', 'estimated')
                          AND x.period_start >= %(s)s AND x.period_end <= %(e)s), 0),
               coalesce((SELECT sum(amount_fen) FROM grid_settlements g WHERE g.station_id = s.id
                          AND g.period_start >= %(s)s AND g.period_end <= %(e)s), 0),
               coalesce((SELECT sum(amount_fen) FROM revenue_lines x WHERE x.station_id = s.id
                          AND x.part = 'subsidy' AND x.source IN ('metered', 'estimated')
                          AND x.period_start >= %(s)s AND x.period_end <= %(e)s), 0),
               coalesce((SELECT sum(amount_fen) FROM subsidy_receipt_lines l
                          WHERE l.station_id = s.id AND l.period_start >= %(s)s
                            AND l.period_end <= %(e)s), 0),
               u.ded, u.paid
          FROM u JOIN stations s ON s.id = u.station_id ORDER BY s.code
        """,
        params,
    ).fetchall()
    payees = conn.execute(
        """
        SELECT CASE WHEN l.payee_kind = 'household' THEN h.name ELSE cv.name || '集体' END,
               '分红', sum(l.amount_fen)::bigint, min(l.payee_kind), min(h.file_no)
          FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
          LEFT JOIN households h ON l.payee_kind = 'household' AND h.id = l.payee_id
          LEFT JOIN villages cv ON l.payee_kind = 'collective' AND cv.id = l.payee_id
         WHERE r.status <> 'draft' AND l.unit_village_id = %(v)s
           AND l.period_start >= %(s)s AND l.period_end <= %(e)s
         GROUP BY l.payee_kind, l.payee_id, h.name, cv.name
        HAVING sum(l.amount_fen) <> 0
        UNION ALL
        SELECT pl.payee_name, pl.category, pl.amount_fen, 'plan', lpad(pl.line_no::text, 6, '0')
          FROM plan_payout_lines pl JOIN plan_payout_runs pr ON pr.id = pl.run_id
          JOIN village_plans p ON p.id = pl.plan_id
         WHERE pr.status <> 'draft' AND p.village_id = %(v)s AND p.year = %(y)s
         ORDER BY 4 DESC, 5
        """,
        {**params, "y": period.year},
    ).fetchall()
    categories = {
        "分红": "分红", "welfare_job_wages": "公益岗位工资", "public_works": "小型公益事业",
        "rewards_hardship": "奖励补助",
    }  # fmt: skip
    out = Disclosure(village=vname, township=tname, period=period.label)
    out.stations = [
        (str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7]))
        for r in stations
    ]
    out.payees = [
        (mask_name(str(n)) or "", categories.get(str(c), str(c)), int(f))
        for n, c, f, _k, _o in payees
    ]
    return out


def _station_rows(d: Disclosure) -> list[list[str]]:
    return [
        [code, f"{wh / 1000:.0f}", yuan(ba), yuan(br), yuan(sa), yuan(sr), yuan(ded), yuan(paid)]
        for code, wh, ba, br, sa, sr, ded, paid in d.stations
    ]


def _payee_rows(d: Disclosure) -> list[list[str]]:
    return [[str(i), n, c, yuan(f)] for i, (n, c, f) in enumerate(d.payees, start=1)]


def _title(d: Disclosure) -> str:
    return f"{d.township}{d.village} 光伏帮扶电站收益公示 ({d.period})"


def write_disclosure_xlsx(d: Disclosure, path: Path) -> Path:
    """Two sheets: 电站收益 (stations) and 收益分配 (payees)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "电站收益"
    ws.append([_title(d)])
    ws.append(list(_STATION_HEAD))
    for r in _station_rows(d):
        ws.append(r)
    ws2 = wb.create_sheet("收益分配")
    ws2.append(list(_PAYEE_HEAD))
    for r in _payee_rows(d):
        ws2.append(r)
    ws2.append(["合计", "", "", yuan(sum(f for _n, _c, f in d.payees))])
    wb.save(path)
    return path


def write_disclosure_pdf(d: Disclosure, path: Path) -> Path:
    """A printable A4 sheet (CJK font STSong-Light, shipped with reportlab)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=12)
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
            ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ]
    )
    doc = SimpleDocTemplate(str(path), pagesize=landscape(A4), title=_title(d))
    story = [
        Paragraph(_title(d), title),
        Spacer(1, 8),
        Paragraph("一、电站发电与收益", body),
        Table([list(_STATION_HEAD), *_station_rows(d)], style=style, repeatRows=1),
        Spacer(1, 10),
        Paragraph("二、收益分配（姓名部分隐去）", body),
        Table([list(_PAYEE_HEAD), *_payee_rows(d)], style=style, repeatRows=1),
        Spacer(1, 10),
        Paragraph("公示期七天。如有异议，请向村委会或乡镇反映。", body),
    ]
    doc.build(story)
    return path
