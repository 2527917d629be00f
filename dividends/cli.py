"""``pvmon dividends``: payout runs from the terminal.

    pvmon dividends setup --first-dividend-on 2017-01-01 --benchmark 辽宁省=0.3749 \
        --tariff LN-2017-household=0.98 --tariff LN-2017-village=0.85
    pvmon dividends run --period 2025 | 2025-H1 | 2025-Q3 [--scope county:LY]
    pvmon dividends show RUN
    pvmon dividends approve RUN --user chief
    pvmon dividends export RUN --format csv|xlsx|bank [--out FILE] [--role finance_officer]
    pvmon dividends paid RUN
    pvmon dividends adjust RUN
    pvmon dividends schedule STATION
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from dividends.exports import export_bank_file, export_csv, export_xlsx, yuan
from dividends.runs import (
    approve_run,
    compute_run,
    create_adjustment,
    mark_paid,
    run_summary,
)
from pvmon.errors import PvmonError, ValidationError

__all__ = ["dividends_app"]

dividends_app = typer.Typer(
    help="Dividends: payout runs, approval, exports, 20-year schedules.", no_args_is_help=True
)
_console = Console()
_err = Console(stderr=True)


@contextmanager
def _db() -> Iterator[psycopg.Connection]:
    from pvmon.db.connect import database_url, open_database
    from pvmon.db.migrate import upgrade
    from pvmon.settings import load_settings

    settings = load_settings()
    url = database_url(settings)
    with open_database(url, autocommit=True) as conn:
        upgrade(conn, timescaledb=settings.timescaledb)
        yield conn


def _fail(exc: PvmonError) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {exc}")
    for problem in getattr(exc, "problems", [])[1:]:
        _err.print(f"  {problem}")
    return typer.Exit(code=1)


def _scope(text: str) -> tuple[str, list[str]]:
    if text == "all":
        return "all", []
    kind, _, codes = text.partition(":")
    if not codes:
        raise ValidationError(
            f"--scope {text!r}: expected all, county:CODE, township:CODE, village:CODE[,CODE] "
            "or stations:CODE[,CODE]"
        )
    return kind, [c.strip() for c in codes.split(",") if c.strip()]


def _summary_table(conn: psycopg.Connection, run_id: int) -> Table:
    s = run_summary(conn, run_id)
    table = Table(title=f"dividend run {run_id} ({s.kind}, {s.status})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("period", s.period_label),
        ("scope", f"{s.scope_kind} {','.join(s.scope_codes)}".strip()),
        ("created by / approved by", f"{s.created_by} / {s.approved_by or '-'}"),
        ("units / lines", f"{s.units:,} / {s.lines:,}"),
        ("revenue [yuan]", yuan(s.revenue_fen)),
        ("deductions [yuan]", yuan(s.deductions_fen)),
        ("obligations [yuan]", yuan(s.obligations_fen)),
        ("paid [yuan]", yuan(s.paid_fen)),
        ("arrears paid [yuan]", yuan(s.arrears_paid_fen)),
        ("guarantor shortfall [yuan]", yuan(s.shortfall_fen)),
        ("residual [yuan]", yuan(s.residual_fen)),
        ("units with estimated days", f"{s.estimated_units:,}"),
    ):
        table.add_row(escape(label), value)
    return table


@dividends_app.command("run")
def run_cmd(
    period: Annotated[str, typer.Option(help="2025, 2025-H1 or 2025-Q3.")],
    scope: Annotated[
        str, typer.Option(help="all, county:CODE, township:CODE, village:CODE, stations:A,B")
    ] = "all",
    user: Annotated[str, typer.Option(help="Who computes the draft.")] = "",
) -> None:
    """Compute (or recompute) the draft run of a period and scope."""
    try:
        kind, codes = _scope(scope)
        with _db() as conn, Progress(console=_console, transient=True) as bar:
            task = bar.add_task("dividend run", total=7)

            def progress(step: str, done: int, total: int) -> None:
                bar.update(task, description=step, completed=done, total=total)

            run_id = compute_run(
                conn,
                period=period,
                scope_kind=kind,
                scope_codes=codes,
                created_by=user or getpass.getuser(),
                progress=progress,
            )
            bar.stop()
            _console.print(_summary_table(conn, run_id))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("show")
def show_cmd(
    run: Annotated[int, typer.Argument(help="Run id.")],
    lines: Annotated[int, typer.Option(help="Show this many lines (largest first).")] = 20,
) -> None:
    """Totals of a run and its largest lines (personal data masked)."""
    try:
        with _db() as conn:
            _console.print(_summary_table(conn, run))
            rows = conn.execute(
                """SELECT s.code, l.payee_kind, coalesce(h.file_no, v.code), l.component,
                          l.days_enrolled, l.obligation_fen, l.factor, l.amount_fen, l.policy,
                          l.estimated_days, l.line_kind
                     FROM dividend_lines l JOIN stations s ON s.id = l.station_id
                     LEFT JOIN households h ON l.payee_kind = 'household' AND h.id = l.payee_id
                     LEFT JOIN villages v ON l.payee_kind = 'collective' AND v.id = l.payee_id
                    WHERE l.run_id = %s ORDER BY abs(l.amount_fen) DESC, l.id LIMIT %s""",
                (run, lines),
            ).fetchall()
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table(
        *("station", "payee", "file/village", "part", "days", escape("owed [yuan]"), "factor"),
        *(escape("paid [yuan]"), "policy", "est. days", "kind"),
    )
    for r in rows:
        table.add_row(r[0], r[1], r[2], r[3], str(r[4]), yuan(r[5]), f"{Decimal(r[6]):.4f}",
                      yuan(r[7]), r[8], str(r[9]), r[10])  # fmt: skip
    _console.print(table)


@dividends_app.command("approve")
def approve_cmd(
    run: Annotated[int, typer.Argument(help="Run id.")],
    user: Annotated[str, typer.Option(help="Approver (not the run's creator).")] = "",
) -> None:
    """Approve a draft (four eyes) and freeze it."""
    try:
        with _db() as conn:
            approve_run(conn, run, approved_by=user or getpass.getuser())
            _console.print(_summary_table(conn, run))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("export")
def export_cmd(
    run: Annotated[int, typer.Argument(help="Run id.")],
    format: Annotated[str, typer.Option("--format", help="csv, xlsx or bank.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="File to write.")] = None,
    role: Annotated[
        str, typer.Option(help="Caller's role; finance_officer/bank_export/auditor see full data.")
    ] = "viewer",
) -> None:
    """Export a run: lines (CSV/XLSX, drafts as previews) or the bank payment file."""
    writers = {"csv": export_csv, "xlsx": export_xlsx, "bank": export_bank_file}
    if format not in writers:
        raise _fail(ValidationError(f"--format {format!r}: expected csv, xlsx or bank"))
    suffix = {"csv": "csv", "xlsx": "xlsx", "bank": "bank.csv"}[format]
    path = out or Path(f"dividend-run-{run}.{suffix}")
    try:
        with _db() as conn:
            result = writers[format](conn, run, path, role=role)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"wrote {result.path}: {result.rows:,} rows, {yuan(result.total_fen)} yuan")
    for skipped in result.skipped:
        _err.print(f"[yellow]left out:[/] {skipped}")


@dividends_app.command("paid")
def paid_cmd(run: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Record that the bank paid an exported run."""
    try:
        with _db() as conn:
            mark_paid(conn, run)
            _console.print(_summary_table(conn, run))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("adjust")
def adjust_cmd(
    run: Annotated[int, typer.Argument(help="Approved run to correct.")],
    user: Annotated[str, typer.Option(help="Who computes the adjustment.")] = "",
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Draft an adjustment run: reversing and new lines for what changed since approval."""
    try:
        with _db() as conn:
            adj = create_adjustment(conn, run, created_by=user or getpass.getuser(), note=note)
            _console.print(_summary_table(conn, adj))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("schedule")
def schedule_cmd(station: Annotated[str, typer.Argument(help="Station code.")]) -> None:
    """The station's 25-year schedule: expected energy, revenue, obligations, coverage, actuals."""
    from dividends.queries import station_schedule

    try:
        with _db() as conn:
            sched = station_schedule(conn, station)
    except PvmonError as exc:
        raise _fail(exc) from exc
    headings = (
        "year", "#", "expected [kWh]", "revenue [yuan]", "deductions [yuan]",
        "obligations [yuan]", "coverage", "risk", "actual [kWh]", "actual revenue [yuan]",
        "actual paid [yuan]",
    )  # fmt: skip
    table = Table(*(escape(h) for h in headings),
                  title=f"{sched.station} ({sched.kind}, {sched.capacity_kwp} kWp, "
                  f"{sched.specific_yield} kWh/kWp, {sched.tariff} yuan/kWh)")  # fmt: skip
    for y in sched.years:
        a = y.actual
        table.add_row(
            str(y.year), str(y.year_no), f"{y.expected_kwh:,.0f}", yuan(y.expected_revenue_fen),
            yuan(y.expected_deductions_fen), yuan(y.obligations_fen),
            "-" if y.coverage is None else f"{y.coverage:.2f}",
            "[red]at risk[/]" if y.at_risk else "",
            f"{a.energy_wh / 1000:,.0f}" if a else "", yuan(a.revenue_fen) if a else "",
            yuan(a.paid_fen) if a else "",
        )  # fmt: skip
    _console.print(table)
    if sched.years_at_risk:
        _console.print(f"years at risk of shortfall: {sched.years_at_risk}")


def _price(text: str, what: str) -> tuple[str, Decimal]:
    key, _, value = text.partition("=")
    try:
        return key, Decimal(value)
    except InvalidOperation as exc:
        raise ValidationError(f"--{what} {text!r}: expected KEY=YUAN_PER_KWH") from exc


@dividends_app.command("setup")
def setup_cmd(
    first_dividend_on: Annotated[str, typer.Option(help="First dividend day (YYYY-MM-DD).")],
    benchmark: Annotated[list[str], typer.Option(help="PROVINCE=yuan/kWh (repeatable).")] = [],  # noqa: B006
    tariff: Annotated[list[str], typer.Option(help="TARIFF_REF=yuan/kWh (repeatable).")] = [],  # noqa: B006
    effective_from: Annotated[str, typer.Option(help="Prices in force from.")] = "2015-01-01",
) -> None:
    """Define the standard schemes, enrol the registry's stations and set prices."""
    from dividends.schemes import (
        STANDARD_SCHEMES,
        define_scheme,
        enrol_registry,
        set_benchmark_price,
        set_tariff,
    )

    try:
        first = date.fromisoformat(first_dividend_on)
        since = date.fromisoformat(effective_from)
        with _db() as conn:
            for spec in STANDARD_SCHEMES:
                define_scheme(conn, spec)
            counts = enrol_registry(conn, first_dividend_on=first)
            for item in benchmark:
                key, value = _price(item, "benchmark")
                set_benchmark_price(conn, province=key, effective_from=since, yuan_per_kwh=value)
            for item in tariff:
                key, value = _price(item, "tariff")
                set_tariff(conn, tariff_ref=key, effective_from=since, yuan_per_kwh=value)
    except ValueError as exc:
        raise _fail(ValidationError(f"date: {exc}")) from exc
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(", ".join(f"{k} {v:,}" for k, v in counts.items()))
