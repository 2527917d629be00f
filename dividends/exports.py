"""Exports for finance: the run's lines as CSV or XLSX (one sheet per village plus totals,
Chinese headings, the basis columns). The bank payment file is :mod:`dividends.bank`.

Personal data (names, ID numbers, bank accounts) is masked with :mod:`pvmon.privacy` unless
the caller's role reveals it (``reveal``). Every cell is written through
:mod:`pvmon.sheets`: text never becomes a formula, ID and account numbers stay text, and in
the XLSX amounts are numeric cells [yuan] with two decimals, the header is frozen, the
columns are sized and each sheet ends with a totals row equal to its lines (the ``合计``
sheet's to the run).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from dividends.runs import run_summary
from pvmon.privacy import mask_bank_account, mask_id_number, mask_name
from pvmon.sheets import Money, SafeCsvWriter, append_row, new_sheet, yuan

__all__ = ["LINE_HEADINGS", "ExportResult", "export_csv", "export_xlsx", "yuan"]

LINE_HEADINGS = (
    "运行编号", "期间", "行类型", "乡镇", "村", "电站编码", "电站类型", "收款人类型", "档案号",
    "收款人", "身份证号", "开户银行", "银行账号", "方案", "分项", "分配政策", "享受天数",
    "发电量(kWh)", "估算天数", "标杆电价收入(元)", "补贴收入(元)", "扣除(元)", "应付(元)",
    "系数", "本期实付(元)", "补发欠款(元)", "新增欠款(元)", "金额(元)",
)  # fmt: skip

_QUERY = """
SELECT l.line_kind, tw.name AS township, pv.name AS village, s.code AS station, s.kind,
       l.payee_kind, h.file_no, h.name, h.id_number, h.bank_name, h.bank_account,
       sc.code AS scheme, l.component, l.policy, l.days_enrolled, l.energy_wh,
       l.estimated_days, l.revenue_benchmark_fen, l.revenue_subsidy_fen, l.deductions_fen,
       l.obligation_fen, l.factor, l.paid_fen, l.arrears_paid_fen, l.arrears_added_fen,
       l.amount_fen, pv.id AS village_id, l.payee_id
  FROM dividend_lines l
  JOIN stations s ON s.id = l.station_id
  JOIN dividend_schemes sc ON sc.id = l.scheme_id
  LEFT JOIN households h ON l.payee_kind = 'household' AND h.id = l.payee_id
  JOIN villages pv ON pv.id = CASE WHEN l.payee_kind = 'household' THEN h.village_id
                                   ELSE l.payee_id END
  JOIN townships tw ON tw.id = pv.township_id
 WHERE l.run_id = %s
 ORDER BY tw.code, pv.code, l.payee_kind DESC, h.file_no, l.enrolment_id, l.component, l.id
"""


@dataclass
class ExportResult:
    """What an export wrote."""

    path: Path
    rows: int
    total_fen: int
    skipped: list[str] = field(default_factory=list)  # payees left out, with why


def _rows(conn: psycopg.Connection, run_id: int, *, reveal: bool) -> Iterator[dict[str, Any]]:
    summary = run_summary(conn, run_id)
    with conn.cursor(name=f"div_export_{run_id}") if not conn.autocommit else conn.cursor() as cur:
        cur.execute(_QUERY, (run_id,))
        for r in cur:
            (line_kind, township, village, station, kind, payee_kind, file_no, name, id_number,
             bank_name, account, scheme, component, policy, days, energy_wh, est_days, bench,
             subsidy, ded, obligation, factor, paid, arrears_paid, arrears_added, amount,
             village_id, payee_id) = r  # fmt: skip
            if payee_kind == "collective":
                name = f"{village}村集体" if not village.endswith("村") else f"{village}集体"
            elif not reveal:
                name, id_number, account = (
                    mask_name(name), mask_id_number(id_number), mask_bank_account(account),
                )  # fmt: skip
            yield {
                "run": run_id, "period": summary.period_label, "line_kind": line_kind,
                "township": township, "village": village, "village_id": village_id,
                "station": station, "kind": kind, "payee_kind": payee_kind,
                "payee_id": payee_id, "file_no": file_no or "", "name": name or "",
                "id_number": id_number or "", "bank_name": bank_name or "",
                "account": account or "", "scheme": scheme, "component": component,
                "policy": policy, "days": days, "energy_kwh": Decimal(energy_wh).scaleb(-3),
                "est_days": est_days, "bench": bench, "subsidy": subsidy, "ded": ded,
                "obligation": obligation, "factor": Decimal(factor), "paid": paid,
                "arrears_paid": arrears_paid, "arrears_added": arrears_added, "amount": amount,
            }  # fmt: skip


def _line_values(row: dict[str, Any]) -> list[Any]:
    return [
        row["run"], row["period"], row["line_kind"], row["township"], row["village"],
        row["station"], row["kind"], row["payee_kind"], row["file_no"], row["name"],
        row["id_number"], row["bank_name"], row["account"], row["scheme"], row["component"],
        row["policy"], row["days"], row["energy_kwh"], row["est_days"], Money(row["bench"]),
        Money(row["subsidy"]), Money(row["ded"]), Money(row["obligation"]), row["factor"],
        Money(row["paid"]), Money(row["arrears_paid"]), Money(row["arrears_added"]),
        Money(row["amount"]),
    ]  # fmt: skip


def export_csv(
    conn: psycopg.Connection, run_id: int, path: Path, *, reveal: bool = False
) -> ExportResult:
    """All lines of a run (draft: a preview) with their basis, one CSV row per line
    (UTF-8 with BOM), then a ``合计`` row with the total [yuan]."""
    rows, total = 0, 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = SafeCsvWriter(fh)
        out.writerow(LINE_HEADINGS)
        for row in _rows(conn, run_id, reveal=reveal):
            out.writerow(_line_values(row))
            rows += 1
            total += row["amount"]
        out.writerow(["合计", *[""] * (len(LINE_HEADINGS) - 2), Money(total)])
    return ExportResult(path, rows, total)


def _sheet_title(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\'")[:28].strip() or "村"
    title, n = base, 2
    while title.casefold() in used or title == "合计":
        title, n = f"{base}{n}", n + 1
    used.add(title.casefold())
    return title


_TOTAL_HEADINGS = ("乡镇", "村", "行数", "农户(元)", "村集体(元)", "应付(元)", "合计(元)")


def export_xlsx(
    conn: psycopg.Connection, run_id: int, path: Path, *, reveal: bool = False
) -> ExportResult:
    """One sheet per village (its payees' lines with the basis, a totals row) and a
    ``合计`` sheet (one row per village, the run's total, the run's figures)."""
    from openpyxl import Workbook

    by_village: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(conn, run_id, reveal=reveal):
        by_village[row["village_id"]].append(row)
    summary = run_summary(conn, run_id)
    totals: list[list[Any]] = []
    grand = [0, 0, 0, 0]
    for lines in by_village.values():
        sums = [0, 0, 0, 0]
        for row in lines:
            is_household = row["payee_kind"] == "household"
            sums[0] += row["amount"] if is_household else 0
            sums[1] += 0 if is_household else row["amount"]
            sums[2] += row["obligation"]
            sums[3] += row["amount"]
        totals.append([lines[0]["township"], lines[0]["village"], len(lines),
                       *(Money(x) for x in sums)])  # fmt: skip
        grand = [g + s for g, s in zip(grand, sums, strict=True)]
    rows = sum(len(lines) for lines in by_village.values())
    wb = Workbook(write_only=True)
    lead = [[f"运行 {run_id}", summary.period_label, summary.status]]
    totals_ws = new_sheet(wb, "合计", _TOTAL_HEADINGS, totals, lead=lead)
    for t in totals:
        append_row(totals_ws, t)
    append_row(totals_ws, ["合计", "", rows, *(Money(x) for x in grand)], bold=True)
    append_row(totals_ws, [])
    for label, fen in (("收入(元)", summary.revenue_fen), ("扣除(元)", summary.deductions_fen),
                       ("剩余(元)", summary.residual_fen),
                       ("担保缺口(元)", summary.shortfall_fen)):  # fmt: skip
        append_row(totals_ws, [label, "", "", Money(fen)])
    used: set[str] = set()
    for lines in by_village.values():
        values = [_line_values(row) for row in lines]
        ws = new_sheet(wb, _sheet_title(lines[0]["village"], used), LINE_HEADINGS, values)
        for v in values:
            append_row(ws, v)
        amount = sum(row["amount"] for row in lines)
        append_row(ws, ["合计", *[""] * (len(LINE_HEADINGS) - 2), Money(amount)], bold=True)
    wb.save(path)
    return ExportResult(path, rows, grand[3])
