"""Public disclosure (公示) per village and period: XLSX and a printable PDF.

The figures come only from **approved** runs (approved, exported or paid) of **exactly**
that period: drafts, discarded runs and runs of other or shorter periods never count.
Each station's row is the village's own unit of that station as the latest approved run
of the period left it (an approved adjustment supersedes the run it corrects): for a
joint station, the village's share of revenue, deductions, dividends and residual, not
the station's. Payees are the net amounts of those runs' lines for the village (reversals
and corrections included) and, for a yearly disclosure, the village plan's payouts.

Natural persons are masked as is customary (:func:`pvmon.privacy.mask_name`, 张*三): the
households, plan payees tied to a household, and plan payees whose name is that of a
person (four characters or fewer); the village collective and organisations are shown
in full. No ID or account numbers are read at all. Generation that includes estimated
days is marked 估 with its estimated share. The sheet names the issuing body, the date
of posting and the posting period, and has totals rows.

The PDF embeds WenQuanYi Micro Hei (a TrueType font shipped in the ``mpl-font`` package,
a dependency of pvmon), so it renders the same on a machine without Chinese fonts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import psycopg

from dividends.cash.position import STANDING_UNITS
from dividends.periods import Period, days_in_year, parse_period
from pvmon.errors import NotFoundError
from pvmon.fonts import cjk_font_path
from pvmon.privacy import mask_name
from pvmon.sheets import Money, append_row, new_sheet, yuan

__all__ = [
    "Disclosure",
    "DisclosurePayee",
    "DisclosureStation",
    "cjk_font_path",
    "disclosure",
    "write_disclosure_pdf",
    "write_disclosure_xlsx",
]

_STATION_HEAD = (
    "电站", "类型", "发电量(kWh)", "收入口径", "标杆电价收入(元)", "补贴收入(元)",
    "扣除(元)", "分红(元)", "结余(元)",
)  # fmt: skip
_PAYEE_HEAD = ("序号", "收款人", "类别", "金额(元)")
_KINDS = {"household": "户用", "village": "村级", "joint": "联村"}
_CATEGORIES = {
    "dividend": "分红", "collective": "村集体收益", "welfare_job_wages": "公益岗位工资",
    "public_works": "小型公益事业", "rewards_hardship": "奖励补助",
}  # fmt: skip
_ESTIMATE_NOTE = "注：标“估”的发电量含设备数据缺失天数的估算值，括号内为估算占比。"


@dataclass(frozen=True)
class DisclosureStation:
    """The village's unit of one station: energy [Wh] and amounts [fen]."""

    code: str
    kind: str
    energy_wh: int
    estimated_wh: int
    basis: str
    benchmark_fen: int
    subsidy_fen: int
    deductions_fen: int
    dividends_fen: int
    residual_fen: int


@dataclass(frozen=True)
class DisclosurePayee:
    """One payee: the name as shown (persons masked), category, amount [fen]."""

    name: str
    category: str
    amount_fen: int


@dataclass
class Disclosure:
    """The sheet's figures; names already masked."""

    village: str
    township: str
    period: str
    issuer: str
    posted_on: date
    until: date
    stations: list[DisclosureStation] = field(default_factory=list)
    payees: list[DisclosurePayee] = field(default_factory=list)

    def station_total(self, attr: str) -> int:
        """Σ of a station figure [fen or Wh] over the stations."""
        return sum(int(getattr(s, attr)) for s in self.stations)

    @property
    def payee_total_fen(self) -> int:
        return sum(p.amount_fen for p in self.payees)


_STATIONS = f"""
WITH standing AS ({STANDING_UNITS})
SELECT s.code, s.kind, u.energy_wh, u.estimated_wh, u.revenue_basis,
       u.revenue_benchmark_fen, u.revenue_subsidy_fen, u.deductions_fen,
       u.paid_fen + u.arrears_paid_fen, u.residual_fen
  FROM standing u JOIN stations s ON s.id = u.station_id
 WHERE u.village_id = %(v)s
 ORDER BY s.code
"""

_PAYEES = """
SELECT CASE WHEN l.payee_kind = 'household' THEN h.name ELSE '' END,
       CASE WHEN l.payee_kind = 'household' THEN 'dividend' ELSE 'collective' END,
       sum(l.amount_fen)::bigint, l.payee_kind, min(h.file_no)
  FROM dividend_lines l JOIN dividend_runs r ON r.id = l.run_id
  LEFT JOIN households h ON l.payee_kind = 'household' AND h.id = l.payee_id
 WHERE r.status IN ('approved', 'exported', 'paid') AND l.unit_village_id = %(v)s
   AND r.period_start = %(s)s AND r.period_end = %(e)s
 GROUP BY l.payee_kind, l.payee_id, h.name
HAVING sum(l.amount_fen) <> 0
 ORDER BY 4 DESC, 5
"""

_PLAN_PAYEES = """
SELECT pl.payee_name, pl.category, pl.amount_fen, pl.household_id IS NOT NULL
  FROM plan_payout_lines pl JOIN plan_payout_runs pr ON pr.id = pl.run_id
  JOIN village_plans p ON p.id = pl.plan_id
 WHERE pr.status <> 'draft' AND p.village_id = %(v)s AND p.year = %(y)s
 ORDER BY pl.line_no
"""


def _village_name(village: str) -> str:
    return village if village.endswith("村") else f"{village}村"


def disclosure(
    conn: psycopg.Connection,
    *,
    village: str,
    period: Period | str,
    posted_on: date | None = None,
    days: int = 7,
    issuer: str | None = None,
) -> Disclosure:
    """The disclosure figures of ``village`` (code) for ``period``, posted on
    ``posted_on`` (today) for ``days`` days by ``issuer`` (the village committee)."""
    period = parse_period(period) if isinstance(period, str) else period
    row = conn.execute(
        "SELECT v.id, v.name, tw.name FROM villages v JOIN townships tw ON tw.id = v.township_id"
        " WHERE v.code = %s",
        (village,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"village {village!r}: not found")
    vid, vname, tname = int(row[0]), str(row[1]), str(row[2])
    params = {"v": vid, "s": period.start, "e": period.end, "y": period.year}
    stations = [
        DisclosureStation(
            code=str(r[0]),
            kind=_KINDS.get(str(r[1]), str(r[1])),
            energy_wh=int(r[2]),
            estimated_wh=int(r[3]),
            basis="实收" if r[4] == "received" else "应收",
            benchmark_fen=int(r[5]),
            subsidy_fen=int(r[6]),
            deductions_fen=int(r[7]),
            dividends_fen=int(r[8]),
            residual_fen=int(r[9]),
        )
        for r in conn.execute(_STATIONS, params)
    ]
    collective = f"{_village_name(vname)}集体"
    payees = [
        DisclosurePayee(mask_name(str(name)) or "" if kind == "household" else collective,
                        _CATEGORIES[str(cat)], int(fen))
        for name, cat, fen, kind, _file in conn.execute(_PAYEES, params)
    ]  # fmt: skip
    if period.days == days_in_year(period.year) and period.start.month == 1:
        for name, cat, fen, person in conn.execute(_PLAN_PAYEES, params):
            shown = mask_name(str(name)) if person or len(str(name)) <= 4 else str(name)
            payees.append(DisclosurePayee(shown or "", _CATEGORIES.get(cat, str(cat)), int(fen)))
    if not stations and not payees:
        raise NotFoundError(
            f"village {village!r}: no approved dividend run of exactly {period.label}"
        )
    posted = posted_on or date.today()
    return Disclosure(
        village=vname, township=tname, period=period.label,
        issuer=issuer or f"{_village_name(vname)}村民委员会", posted_on=posted,
        until=posted + timedelta(days=days), stations=stations, payees=payees,
    )  # fmt: skip


def _energy(s: DisclosureStation) -> str:
    kwh = f"{s.energy_wh / 1000:,.0f}"
    if not s.estimated_wh:
        return kwh
    share = s.estimated_wh * 100 / s.energy_wh if s.energy_wh else 100
    return f"{kwh} 估({share:.0f}%)"


def _station_values(d: Disclosure) -> list[list[object]]:
    rows: list[list[object]] = [
        [s.code, s.kind, _energy(s), s.basis, Money(s.benchmark_fen), Money(s.subsidy_fen),
         Money(s.deductions_fen), Money(s.dividends_fen), Money(s.residual_fen)]
        for s in d.stations
    ]  # fmt: skip
    rows.append(
        ["合计", "", f"{d.station_total('energy_wh') / 1000:,.0f}", "",
         *(Money(d.station_total(a)) for a in ("benchmark_fen", "subsidy_fen", "deductions_fen",
                                               "dividends_fen", "residual_fen"))]
    )  # fmt: skip
    return rows


def _payee_values(d: Disclosure) -> list[list[object]]:
    rows: list[list[object]] = [
        [i, p.name, p.category, Money(p.amount_fen)] for i, p in enumerate(d.payees, start=1)
    ]
    rows.append(["合计", f"{len(d.payees)} 项", "", Money(d.payee_total_fen)])
    return rows


def _title(d: Disclosure) -> str:
    return f"{d.township}{d.village} 光伏帮扶电站收益公示 ({d.period})"


def _lead(d: Disclosure) -> list[str]:
    return [
        f"公示单位：{d.issuer}",
        f"公示日期：{d.posted_on.isoformat()}",
        f"公示期：{d.posted_on.isoformat()} 至 {d.until.isoformat()}",
    ]


def _has_estimates(d: Disclosure) -> bool:
    return any(s.estimated_wh for s in d.stations)


def write_disclosure_xlsx(d: Disclosure, path: Path) -> Path:
    """Two sheets: 电站收益 (stations, a totals row) and 收益分配 (payees, a totals row)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    lead = [[_title(d)], *([line] for line in _lead(d))]
    stations = _station_values(d)
    ws = new_sheet(wb, "电站收益", _STATION_HEAD, stations, lead=lead)
    for i, values in enumerate(stations):
        append_row(ws, values, bold=i == len(stations) - 1)
    if _has_estimates(d):
        append_row(ws, [_ESTIMATE_NOTE])
    payees = _payee_values(d)
    ws2 = new_sheet(wb, "收益分配", _PAYEE_HEAD, payees, lead=lead)
    for i, values in enumerate(payees):
        append_row(ws2, values, bold=i == len(payees) - 1)
    wb.save(path)
    return path


def _text(value: object) -> str:
    return yuan(value.fen) if isinstance(value, Money) else str(value)


def write_disclosure_pdf(d: Disclosure, path: Path) -> Path:
    """A printable A4 landscape sheet with the CJK font embedded."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.tables import LongTable

    font = "WenQuanYiMicroHei"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(font, str(cjk_font_path()), subfontIndex=0))
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=22)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=13)
    base = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")),
    ]

    def table(head: tuple[str, ...], rows: list[list[object]], numeric: set[int]) -> Table:
        cells = [list(head), *([_text(v) for v in r] for r in rows)]
        numeric |= {i for r in rows for i, v in enumerate(r) if isinstance(v, Money)}
        right = [("ALIGN", (i, 1), (i, -1), "RIGHT") for i in sorted(numeric)]
        return LongTable(cells, style=TableStyle([*base, *right]), repeatRows=1)

    doc = SimpleDocTemplate(str(path), pagesize=landscape(A4), title=_title(d))
    story = [
        Paragraph(_title(d), title),
        *(Paragraph(line, body) for line in _lead(d)),
        Spacer(1, 8),
        Paragraph("一、电站发电与收益（本村份额）", body),
        table(_STATION_HEAD, _station_values(d), {2}),
        *([Paragraph(_ESTIMATE_NOTE, body)] if _has_estimates(d) else []),
        Spacer(1, 10),
        Paragraph("二、收益分配（个人姓名部分隐去）", body),
        table(_PAYEE_HEAD, _payee_values(d), set()),
        Spacer(1, 10),
        Paragraph(
            f"公示期自 {d.posted_on.isoformat()} 至 {d.until.isoformat()}。"
            f"如有异议，请在公示期内向{d.issuer}或乡镇人民政府反映。",
            body,
        ),
    ]
    doc.build(story)
    return path
