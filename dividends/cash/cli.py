"""``pvmon dividends cash ...`` and ``pvmon dividends disclose``.

    pvmon dividends cash import-settlements FILE...
    pvmon dividends cash reconcile --from 2025-01-01 --to 2026-01-01 [--tolerance 0.01]
    pvmon dividends cash receipt --county LY --ref SUB-1 --received-on 2026-04-15 \
        --covers 2025 --amount 84444.49 --coverage partial
    pvmon dividends cash basis received --county LY | --scheme village_slot_cf
    pvmon dividends cash basis            # the settings
    pvmon dividends cash advances --county LY
    pvmon dividends cash position --county LY [--level village] [--period 2025]
    pvmon dividends disclose --village V --period 2025 [--out DIR] [--posted-on DAY]
                             [--days 7] [--issuer 公示单位]
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from dividends.exports import yuan
from dividends.runs import scope_in_county
from pvmon.errors import ForbiddenError, PvmonError, ValidationError

if TYPE_CHECKING:
    from pvmon.api.auth import Principal

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


def acting(ctx: typer.Context, conn: psycopg.Connection, county: str | None = None) -> Principal:
    """The person behind the command (see :func:`dividends.cli.acting`); a key limited to
    one county acts on that county only."""
    from dividends.cli import acting as who

    principal = who(ctx, conn)
    if county is not None and principal.county_id is not None and (county != principal.county_code):
        raise ForbiddenError(f"county {county!r} is outside county {principal.county_code!r}")
    return principal


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{option} {text!r}: expected a date YYYY-MM-DD") from exc


def _number(text: str, option: str, *, places: int | None = None) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValidationError(f"{option} {text!r}: not a number") from exc
    exponent = value.as_tuple().exponent
    if not value.is_finite() or value < 0:
        raise ValidationError(f"{option} {text!r}: expected a number >= 0")
    if places is not None and isinstance(exponent, int) and -exponent > places:
        raise ValidationError(f"{option} {text!r}: at most {places} decimals")
    return value


@cash_app.command("import-settlements")
def import_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="CSV or XLSX statements.")],
) -> None:
    """Import grid settlement statements (all or nothing per file; re-import changes nothing)."""
    from dividends.cash.settlements import import_settlements
    from pvmon.settings import load_settings

    try:
        max_bytes = load_settings().import_file_max_bytes
        with _db() as conn:
            acting(ctx, conn)
            for f in files:
                r = import_settlements(conn, f, max_bytes=max_bytes)
                _console.print(
                    f"{f.name}: {r.rows} rows, {r.inserted} new, {r.updated} changed, "
                    f"{r.unchanged} unchanged"
                )
    except PvmonError as exc:
        raise _fail(exc) from exc


@cash_app.command("reconcile")
def reconcile_cmd(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last, YYYY-MM-DD.")],
    county: Annotated[str | None, typer.Option(help="County code.")] = None,
    tolerance: Annotated[str, typer.Option(help="Fraction, 0.01 = 1 %.")] = "0.01",
    all_rows: Annotated[bool, typer.Option("--all", help="Also rows within tolerance.")] = False,
) -> None:
    """Settled against inverter-metered energy; flags differences beyond the tolerance."""
    from dividends.cash.settlements import reconciliation

    try:
        first, after = _day(start, "--from"), _day(end, "--to")
        fraction = _number(tolerance, "--tolerance")
        with _db() as conn:
            who = acting(ctx, conn, county)
            county = county or who.county_code  # a county's key sees its own county
            rows = reconciliation(conn, start=first, end=after, county=county, tolerance=fraction)
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
    ctx: typer.Context,
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

    try:
        fen = int(_number(amount, "--amount", places=2) * 100)
        on = _day(received_on, "--received-on")
        with _db() as conn:
            who = acting(ctx, conn, county)
            r = record_receipt(
                conn, county=county, reference=ref, received_on=on, covers=covers,
                amount_fen=fen, coverage=coverage, recorded_by=who.name,
            )  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    if not r.created:
        _console.print(f"receipt {r.receipt_id}: {ref} already recorded, nothing changed")
        return
    _console.print(
        f"receipt {r.receipt_id}: {yuan(r.amount_fen)} yuan over {r.lines} station-periods, "
        f"repaid {yuan(r.repaid_fen)} yuan of advances"
    )


@cash_app.command("basis")
def basis_cmd(
    ctx: typer.Context,
    basis: Annotated[
        str | None, typer.Argument(help="accrued or received; without it, list the settings.")
    ] = None,
    county: Annotated[str | None, typer.Option(help="County code.")] = None,
    scheme: Annotated[str | None, typer.Option(help="Scheme code (wins over the county).")] = None,
) -> None:
    """Set the allocation basis of a county or scheme: ``accrued`` (pay what the output
    earned; the county advances missing cash) or ``received`` (pay only from cash received;
    shortfalls become arrears). Runs computed, recomputed or adjusted afterwards use it."""
    from dividends.cash.ledger import set_basis

    try:
        with _db() as conn:
            who = acting(ctx, conn, county)
            if basis is not None:
                set_basis(
                    conn, basis=basis, set_by=who.name, county=county,
                    scheme=scheme,
                )  # fmt: skip
                what = f"county {county}" if county is not None else f"scheme {scheme}"
                _console.print(f"{what}: allocation basis {basis}")
                return
            if county is not None or scheme is not None:
                raise ValidationError("basis: give accrued or received to set it")
            rows = conn.execute(
                """SELECT CASE WHEN b.county_id IS NULL THEN 'scheme' ELSE 'county' END,
                          coalesce(c.code, b.scheme_code), b.basis, b.set_by,
                          to_char(b.set_at, 'YYYY-MM-DD HH24:MI')
                     FROM cash_allocation_basis b LEFT JOIN counties c ON c.id = b.county_id
                    ORDER BY 1, 2"""
            ).fetchall()
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table("for", "code", "basis", "set by", "set at", title="allocation basis")
    for row in rows:
        table.add_row(*(str(x) for x in row))
    _console.print(table)
    _console.print("without a setting a county is accrued; a scheme's setting wins")


@cash_app.command("advances")
def advances_cmd(
    ctx: typer.Context, county: Annotated[str, typer.Option(help="County code.")]
) -> None:
    """The county's advance ledger and what is outstanding."""
    from dividends.cash.ledger import advance_ledger, outstanding_advances

    try:
        with _db() as conn:
            acting(ctx, conn, county)
            table = Table("date", "kind", "village", "station", "amount (yuan)", "balance (yuan)")
            for e in advance_ledger(conn, county):
                table.add_row(
                    str(e["on"]), str(e["kind"]), str(e["village"]), str(e["station"]),
                    yuan(int(str(e["amount_fen"]))), yuan(int(str(e["balance_fen"]))),
                )  # fmt: skip
            outstanding = outstanding_advances(conn, county)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(table)
    _console.print(f"outstanding: {yuan(outstanding)} yuan")


@cash_app.command("position")
def position_cmd(
    ctx: typer.Context,
    county: Annotated[str, typer.Option(help="County code.")],
    level: Annotated[str, typer.Option(help="village, township or county.")] = "village",
    period: Annotated[str | None, typer.Option(help="2025, 2025-H1; all if absent.")] = None,
) -> None:
    """Cash position per place: accrued, received, outstanding subsidy, advances
    outstanding, paid and owed (arrears), in yuan, with a totals row."""
    from dividends.cash.position import FIGURES, cash_position

    try:
        with _db() as conn:
            acting(ctx, conn, county)
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
    ctx: typer.Context,
    village: Annotated[str, typer.Option(help="Village code.")],
    period: Annotated[str, typer.Option(help="2025, 2025-H1, 2025-Q3.")],
    out: Annotated[Path, typer.Option(help="Directory for the XLSX and PDF.")] = Path("."),
    posted_on: Annotated[
        str | None, typer.Option(help="Date of posting, YYYY-MM-DD (default: today).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=90, help="Posting period [days].")] = 7,
    issuer: Annotated[
        str | None, typer.Option(help="Issuing body (default: the village committee).")
    ] = None,
) -> None:
    """Public disclosure (公示) of a village and period from its approved runs of exactly
    that period: XLSX and a printable PDF (font embedded), persons' names masked."""
    from dividends.cash.disclosure import disclosure, write_disclosure_pdf, write_disclosure_xlsx

    try:
        posted = _day(posted_on, "--posted-on") if posted_on else None
        with _db() as conn:
            who = acting(ctx, conn)
            if not scope_in_county(
                conn, county_id=who.county_id, scope_kind="village", codes=[village]
            ):
                raise ForbiddenError(
                    f"village {village!r} is outside county {who.county_code!r} of this key"
                )
            sheet = disclosure(
                conn, village=village, period=period, posted_on=posted, days=days, issuer=issuer
            )
        out.mkdir(parents=True, exist_ok=True)
        stem = out / f"gongshi-{village}-{sheet.period}"
        x = write_disclosure_xlsx(sheet, stem.with_suffix(".xlsx"))
        p = write_disclosure_pdf(sheet, stem.with_suffix(".pdf"))
    except PvmonError as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(PvmonError(f"{out}: cannot be written ({exc.strerror})")) from exc
    _console.print(f"wrote {x} and {p}")
