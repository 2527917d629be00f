"""``pvmon dividends cash ...`` and ``pvmon dividends disclose``.

    pvmon dividends cash import-settlements FILE...
    pvmon dividends cash reconcile --from 2025-01-01 --to 2026-01-01 [--tolerance 0.01]
    pvmon dividends cash receipt --county LY --ref SUB-1 --received-on 2026-04-15 \
        --covers 2025 --amount 84444.49 --coverage partial
    pvmon dividends cash advances --county LY
    pvmon dividends cash position --county LY [--level village] [--period 2025]
    pvmon dividends disclose --village V --period 2025 [--out DIR]
"""

from __future__ import annotations

import getpass
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from dividends.exports import yuan
from pvmon.errors import PvmonError

__all__ = ["cash_app", "disclose_cmd"]

cash_app = typer.Typer(
    help="County cash: settlements, subsidy receipts, advances.", no_args_is_help=True
)
_console = Console()


def _db() -> AbstractContextManager[psycopg.Connection]:
    from dividends.cli import _db as db

    return db()


def _fail(exc: PvmonError) -> typer.Exit:
    from dividends.cli import _fail as fail

    return fail(exc)


@cash_app.command("import-settlements")
def import_cmd(
    files: Annotated[list[Path], typer.Argument(help="CSV or XLSX statements.")],
) -> None:
    """Import grid settlement statements (all or nothing per file; re-import changes nothing)."""
    from dividends.cash.settlements import import_settlements

    try:
        with _db() as conn:
            for f in files:
                r = import_settlements(conn, f)
                _console.print(
                    f"{f.name}: {r.rows} rows, {r.inserted} new, {r.updated} changed, "
                    f"{r.unchanged} unchanged"
                )
    except PvmonError as exc:
        raise _fail(exc) from exc


@cash_app.command("reconcile")
def reconcile_cmd(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last, YYYY-MM-DD.")],
    county: Annotated[str | None, typer.Option(help="County code.")] = None,
    tolerance: Annotated[str, typer.Option(help="Fraction, 0.01 = 1 %.")] = "0.01",
    all_rows: Annotated[bool, typer.Option("--all", help="Also rows within tolerance.")] = False,
) -> None:
    """Settled against inverter-metered energy; flags differences beyond the tolerance."""
    from dividends.cash.settlements import reconciliation

    try:
        with _db() as conn:
            rows = reconciliation(
                conn, start=date.fromisoformat(start), end=date.fromisoformat(end),
                county=county, tolerance=Decimal(tolerance),
            )  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table("station", "period", "settled kWh", "metered kWh", "diff %", "flag")
    for r in rows:
        if r.flagged or all_rows:
            pct = "-" if r.ratio is None else f"{r.ratio * 100:.2f}"
            table.add_row(
                r.station_code, f"{r.period_start}", f"{r.settled_wh / 1000:.1f}",
                f"{r.metered_wh / 1000:.1f}", pct, "FLAG" if r.flagged else "",
            )  # fmt: skip
    _console.print(table)
    _console.print(f"{sum(r.flagged for r in rows)} of {len(rows)} flagged")


@cash_app.command("receipt")
def receipt_cmd(
    county: Annotated[str, typer.Option(help="County code.")],
    ref: Annotated[str, typer.Option(help="Batch reference.")],
    received_on: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
    covers: Annotated[str, typer.Option(help="Generation period, e.g. 2025.")],
    amount: Annotated[str, typer.Option(help="Yuan, two decimals.")],
    coverage: Annotated[str, typer.Option(help="full or partial.")] = "partial",
) -> None:
    """Record a subsidy batch; it is allocated by outstanding accrued subsidy and repays
    advances oldest first."""
    from dividends.cash.ledger import record_receipt

    fen = int((Decimal(amount) * 100).to_integral_exact())
    try:
        with _db() as conn:
            r = record_receipt(
                conn, county=county, reference=ref, received_on=date.fromisoformat(received_on),
                covers=covers, amount_fen=fen, coverage=coverage, recorded_by=getpass.getuser(),
            )  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(
        f"receipt {r.receipt_id}: {r.lines} station-periods, repaid {yuan(r.repaid_fen)}"
    )


@cash_app.command("advances")
def advances_cmd(county: Annotated[str, typer.Option(help="County code.")]) -> None:
    """The county's advance ledger and what is outstanding."""
    from dividends.cash.ledger import advance_ledger, outstanding_advances

    with _db() as conn:
        table = Table("date", "kind", "village", "station", "amount (yuan)", "balance (yuan)")
        for e in advance_ledger(conn, county):
            table.add_row(
                str(e["on"]), str(e["kind"]), str(e["village"]), str(e["station"]),
                yuan(int(str(e["amount_fen"]))), yuan(int(str(e["balance_fen"]))),
            )  # fmt: skip
        _console.print(table)
        _console.print(f"outstanding: {yuan(outstanding_advances(conn, county))} yuan")


@cash_app.command("position")
def position_cmd(
    county: Annotated[str, typer.Option(help="County code.")],
    level: Annotated[str, typer.Option(help="village, township or county.")] = "village",
    period: Annotated[str | None, typer.Option(help="2025, 2025-H1; all if absent.")] = None,
) -> None:
    """Cash position per place: accrued, received, outstanding subsidy, advances
    outstanding, paid and owed (arrears), in yuan, with a totals row."""
    from dividends.cash.position import FIGURES, cash_position

    try:
        with _db() as conn:
            rows = cash_position(conn, county=county, level=level, period=period)  # type: ignore[arg-type]
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table(
        level, "name", "accrued", "received", "outstanding subsidy", "advances outstanding",
        "paid", "owed", title=f"cash position {county} {period or 'all periods'} (yuan)",
    )  # fmt: skip
    for r in rows:
        table.add_row(r.code, r.name, *(r.yuan(f) for f in FIGURES))
    totals = [sum(int(getattr(r, f)) for r in rows) for f in FIGURES]
    table.add_row("total", "", *(yuan(t) for t in totals), style="bold")
    _console.print(table)


def disclose_cmd(
    village: Annotated[str, typer.Option(help="Village code.")],
    period: Annotated[str, typer.Option(help="2025, 2025-H1, 2025-Q3.")],
    out: Annotated[Path, typer.Option(help="Directory for the XLSX and PDF.")] = Path("."),
) -> None:
    """Public disclosure (公示) of a village and period: XLSX and printable PDF."""
    from dividends.cash.disclosure import disclosure, write_disclosure_pdf, write_disclosure_xlsx

    try:
        with _db() as conn:
            sheet = disclosure(conn, village=village, period=period)
    except PvmonError as exc:
        raise _fail(exc) from exc
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"gongshi-{village}-{sheet.period}"
    x = write_disclosure_xlsx(sheet, stem.with_suffix(".xlsx"))
    p = write_disclosure_pdf(sheet, stem.with_suffix(".pdf"))
    _console.print(f"wrote {x} and {p}")
