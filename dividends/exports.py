"""Exports for finance: the run's lines as CSV or XLSX (one sheet per village plus totals,
Chinese headings, the basis columns) and the bank payment file.

Personal data (names, ID numbers, bank accounts) is masked with :mod:`pvmon.privacy` unless
the caller's role is in :data:`REVEAL_ROLES`. Amounts are printed in yuan with two
decimals, converted from integer fen without floats.

Bank payment file layout (CSV, UTF-8 with BOM, comma-separated, one header row):

=====  ============  =============================================================
col    heading       content
=====  ============  =============================================================
1      序号          sequence number from 1
2      收款人姓名    household head's name
3      身份证号      18-character resident ID number
4      开户银行      bank name
5      银行账号      account number (12-30 digits)
6      金额(元)      amount in yuan, two decimals, sum of the household's lines
7      用途          "光伏收益分红 <period> 运行<run id>"
=====  ============  =============================================================

Only household payees with a non-zero amount are listed; collectives are paid by county
transfer to the village account and appear in the XLSX totals. Households without a bank
account are left out of the bank file and returned to the caller (they must be fixed in
the registry first). The last row is ``合计`` with the count and the total.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from dividends.errors import RunStateError
from dividends.runs import mark_exported, run_summary
from pvmon.privacy import mask_bank_account, mask_id_number, mask_name

__all__ = [
    "BANK_HEADINGS",
    "LINE_HEADINGS",
    "REVEAL_ROLES",
    "ExportResult",
    "export_bank_file",
    "export_csv",
    "export_xlsx",
    "yuan",
]

REVEAL_ROLES = frozenset({"finance_officer", "bank_export", "auditor"})

LINE_HEADINGS = (
    "运行编号", "期间", "行类型", "乡镇", "村", "电站编码", "电站类型", "收款人类型", "档案号",
    "收款人", "身份证号", "开户银行", "银行账号", "方案", "分项", "分配政策", "享受天数",
    "发电量(kWh)", "估算天数", "标杆电价收入(元)", "补贴收入(元)", "扣除(元)", "应付(元)",
    "系数", "本期实付(元)", "补发欠款(元)", "新增欠款(元)", "金额(元)",
)  # fmt: skip
BANK_HEADINGS = ("序号", "收款人姓名", "身份证号", "开户银行", "银行账号", "金额(元)", "用途")

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


def yuan(fen: int) -> str:
    """``123456`` [fen] → ``"1234.56"`` [yuan]; exact, no floats."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass
class ExportResult:
    """What an export wrote."""

    path: Path
    rows: int
    total_fen: int
    skipped: list[str] = field(default_factory=list)  # payees left out, with why


def _reveal(role: str) -> bool:
    return role in REVEAL_ROLES


def _rows(conn: psycopg.Connection, run_id: int, *, role: str) -> Iterator[dict[str, Any]]:
    summary = run_summary(conn, run_id)
    reveal = _reveal(role)
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
                "policy": policy, "days": days, "energy_kwh": f"{energy_wh / 1000:.3f}",
                "est_days": est_days, "bench": bench, "subsidy": subsidy, "ded": ded,
                "obligation": obligation, "factor": str(factor), "paid": paid,
                "arrears_paid": arrears_paid, "arrears_added": arrears_added, "amount": amount,
            }  # fmt: skip


def _line_values(row: dict[str, Any]) -> list[Any]:
    return [
        row["run"], row["period"], row["line_kind"], row["township"], row["village"],
        row["station"], row["kind"], row["payee_kind"], row["file_no"], row["name"],
        row["id_number"], row["bank_name"], row["account"], row["scheme"], row["component"],
        row["policy"], row["days"], row["energy_kwh"], row["est_days"], yuan(row["bench"]),
        yuan(row["subsidy"]), yuan(row["ded"]), yuan(row["obligation"]), row["factor"],
        yuan(row["paid"]), yuan(row["arrears_paid"]), yuan(row["arrears_added"]),
        yuan(row["amount"]),
    ]  # fmt: skip


def export_csv(
    conn: psycopg.Connection, run_id: int, path: Path, *, role: str = "viewer"
) -> ExportResult:
    """All lines of a run (draft: a preview) with their basis, one CSV row per line."""
    rows, total = 0, 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(LINE_HEADINGS)
        for row in _rows(conn, run_id, role=role):
            out.writerow(_line_values(row))
            rows += 1
            total += row["amount"]
    return ExportResult(path, rows, total)


def _sheet_title(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:28] or "村"
    title, n = base, 2
    while title in used or title == "合计":
        title, n = f"{base}{n}", n + 1
    used.add(title)
    return title


def export_xlsx(
    conn: psycopg.Connection, run_id: int, path: Path, *, role: str = "viewer"
) -> ExportResult:
    """One sheet per village (its payees' lines with the basis) and a ``合计`` totals sheet."""
    from openpyxl import Workbook

    by_village: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(conn, run_id, role=role):
        by_village[row["village_id"]].append(row)
    wb = Workbook(write_only=True)
    totals_ws = wb.create_sheet("合计")
    used: set[str] = set()
    totals: list[list[Any]] = []
    grand = [0, 0, 0, 0]
    rows = 0
    for _vid, lines in by_village.items():
        ws = wb.create_sheet(_sheet_title(lines[0]["village"], used))
        ws.append(list(LINE_HEADINGS))
        sums = [0, 0, 0, 0]
        for row in lines:
            ws.append(_line_values(row))
            rows += 1
            is_household = row["payee_kind"] == "household"
            sums[0] += row["amount"] if is_household else 0
            sums[1] += 0 if is_household else row["amount"]
            sums[2] += row["obligation"]
            sums[3] += row["amount"]
        ws.append(["合计", *[""] * (len(LINE_HEADINGS) - 2), yuan(sums[3])])
        totals.append([lines[0]["township"], lines[0]["village"], len(lines),
                       *(yuan(x) for x in sums)])  # fmt: skip
        grand = [g + s for g, s in zip(grand, sums, strict=True)]
    totals_ws.append(["乡镇", "村", "行数", "农户(元)", "村集体(元)", "应付(元)", "合计(元)"])
    for t in totals:
        totals_ws.append(t)
    summary = run_summary(conn, run_id)
    totals_ws.append(["合计", "", rows, *(yuan(x) for x in grand)])
    totals_ws.append([])
    totals_ws.append(["运行编号", run_id, "期间", summary.period_label, "状态", summary.status])
    totals_ws.append([
        "收入(元)", yuan(summary.revenue_fen), "扣除(元)", yuan(summary.deductions_fen),
        "剩余(元)", yuan(summary.residual_fen), "担保缺口(元)", yuan(summary.shortfall_fen),
    ])  # fmt: skip
    wb.save(path)
    return ExportResult(path, rows, grand[3])


def export_bank_file(
    conn: psycopg.Connection, run_id: int, path: Path, *, by: str, role: str = "viewer"
) -> ExportResult:
    """The bank payment file (layout in the module docstring) of an approved run; marks the
    run exported by ``by``. Refuses drafts, discarded and paid runs."""
    summary = run_summary(conn, run_id)
    if summary.status not in ("approved", "exported"):
        raise RunStateError(
            f"dividend run {run_id}: status is {summary.status}; a bank file needs an approved"
            " or exported run"
        )
    per_household: dict[int, dict[str, Any]] = {}
    for row in _rows(conn, run_id, role=role):
        if row["payee_kind"] != "household":
            continue
        entry = per_household.setdefault(row["payee_id"], {**row, "amount": 0})
        entry["amount"] += row["amount"]
    skipped: list[str] = []
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(BANK_HEADINGS)
    n, total = 0, 0
    for entry in per_household.values():
        if entry["amount"] == 0:
            continue
        if not entry["account"]:
            skipped.append(f"household {entry['file_no']}: bank_account missing")
            continue
        n += 1
        total += entry["amount"]
        purpose = f"光伏收益分红 {summary.period_label} 运行{run_id}"
        out.writerow([
            n, entry["name"], entry["id_number"], entry["bank_name"], entry["account"],
            yuan(entry["amount"]), purpose,
        ])  # fmt: skip
    out.writerow(["合计", n, "", "", "", yuan(total), ""])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")
    mark_exported(conn, run_id, by=by)
    return ExportResult(path, n, total, skipped)
