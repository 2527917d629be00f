"""``pvmon dividends``: payout runs from the terminal.

Every command acts as a known person: the API key in ``PVMON_API_KEY`` or in the file
that ``--key-file`` (or ``PVMON_API_KEY_FILE``) names, with the key's role and county as
in the HTTP API (``pvmon keys create NAME --role finance --out FILE``).

    pvmon dividends setup examples/demo-dividends.yaml   # prices, schemes, deductions
    pvmon dividends run --period 2025 | 2025-H1 | 2025-Q3 [--scope county:LY]
    pvmon dividends list [--status draft] [--period 2025] [--kind adjustment]
    pvmon dividends show RUN | history RUN
    pvmon dividends recompute RUN | discard RUN
    pvmon dividends approve RUN [--accept-estimates]
    pvmon dividends export RUN --format csv|xlsx|bank [--out FILE] [--layout cn-batch-gbk]
    pvmon dividends paid RUN
    pvmon dividends adjust RUN --note WHY
    pvmon dividends schedule STATION
    pvmon dividends enrol --station S --household F --scheme C --from D | enrolments --station S
    pvmon dividends reassign --station S --slot N --to F --on D | end-enrolment ... --reason R
    pvmon dividends move-scheme --station S --scheme C --on D
    pvmon dividends deduction --kind om_fee --seq 1 --county LY --rate 0.029
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from dividends.bank import DEFAULT_LAYOUT, export_bank_file, layout_names, load_layout
from dividends.cash.cli import _day, _number, cash_app, disclose_cmd
from dividends.exports import export_csv, export_xlsx, yuan
from dividends.runs import (
    approve_run,
    compute_run,
    create_adjustment,
    discard_run,
    list_runs,
    mark_paid,
    recompute_run,
    run_history,
    run_summary,
    scope_in_county,
)
from pvmon.cliutil import fail as _fail
from pvmon.cliutil import remember_key_file
from pvmon.errors import PvmonError, ValidationError

if TYPE_CHECKING:
    from pvmon.api.auth import Principal
    from pvmon.settings import Settings

__all__ = ["dividends_app"]

dividends_app = typer.Typer(
    help="Dividends: payout runs, approval, exports, 20-year schedules. Acts with the API "
    "key in PVMON_API_KEY or --key-file.",
    no_args_is_help=True,
)
_console = Console()
_err = Console(stderr=True)


dividends_app.callback()(remember_key_file)


def _settings() -> Settings:
    from pvmon.settings import load_settings

    return load_settings()


@contextmanager
def _db() -> Iterator[psycopg.Connection]:
    from pvmon.db.connect import open_database, prepare_database

    with open_database(prepare_database(_settings()), autocommit=True) as conn:
        yield conn


def _key(ctx: typer.Context | None, settings: Settings) -> str | None:
    obj = (ctx.obj if ctx is not None else None) or {}
    path = obj.get("key_file") or settings.api_key_file
    if path is not None:
        from pvmon.errors import ConfigError

        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--key-file {path}: cannot read the key ({exc})") from exc
    return settings.api_key.get_secret_value() if settings.api_key else None


def acting(
    ctx: typer.Context | None, conn: psycopg.Connection, access: str = "finance"
) -> Principal:
    """The person behind this command: the key's principal, which must have ``access``."""
    from pvmon.api.auth import AuthError, authenticate

    plain = _key(ctx, _settings())
    if not plain:
        raise AuthError(
            "no API key: set PVMON_API_KEY or pass --key-file FILE "
            "(pvmon keys create NAME --role finance --out FILE makes one)"
        )
    who = authenticate(conn, plain)
    who.require(access)  # type: ignore[arg-type]
    return who


def _in_county(conn: psycopg.Connection, who: Principal, run_id: int) -> None:
    from pvmon.api.auth import ForbiddenError

    s = run_summary(conn, run_id)
    if not scope_in_county(
        conn, county_id=who.county_id, scope_kind=s.scope_kind, codes=s.scope_codes
    ):
        raise ForbiddenError(f"dividend run {run_id} is outside county {who.county_code!r}")


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
        ("stations by energy source", _stations_by(conn, run_id, "energy_source")),
        ("stations by allocation basis", _stations_by(conn, run_id, "revenue_basis")),
    ):
        table.add_row(escape(label), value)
    return table


def _stations_by(conn: psycopg.Connection, run_id: int, column: str) -> str:
    """``settled 2, readings 5``: how many of the run's stations used each value."""
    rows = conn.execute(
        f"""SELECT {column}, count(DISTINCT station_id) FROM dividend_run_units
             WHERE run_id = %s GROUP BY 1 ORDER BY 1""",
        (run_id,),
    ).fetchall()
    return ", ".join(f"{value} {count:,}" for value, count in rows) or "-"


def _estimates_table(conn: psycopg.Connection, run_id: int) -> Table | None:
    rows = conn.execute(
        """SELECT s.code, string_agg(DISTINCT u.energy_source, ','),
                  string_agg(DISTINCT u.revenue_basis, ','), sum(u.energy_wh)::bigint,
                  sum(u.estimated_wh)::bigint, max(u.estimated_days)
             FROM dividend_run_units u JOIN stations s ON s.id = u.station_id
            WHERE u.run_id = %s AND u.estimated_wh > 0
            GROUP BY s.code ORDER BY sum(u.estimated_wh)::numeric
                     / nullif(sum(u.energy_wh), 0) DESC NULLS FIRST, s.code LIMIT 20""",
        (run_id,),
    ).fetchall()
    if not rows:
        return None
    table = Table(
        "station", "energy source", "basis", escape("energy [kWh]"), escape("estimated [kWh]"),
        "estimated share", "estimated days", title="stations with estimated energy (top 20)",
    )  # fmt: skip
    for code, source, basis, wh, est, days in rows:
        share = f"{Decimal(est) / Decimal(wh) * 100:.1f} %" if wh else "100 %"
        table.add_row(code, source, basis, f"{wh / 1000:,.0f}", f"{est / 1000:,.0f}", share,
                      str(days))  # fmt: skip
    return table


def _progress_bar() -> Progress:
    return Progress(console=_console, transient=True)


@dividends_app.command("run")
def run_cmd(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="2025, 2025-H1 or 2025-Q3.")],
    scope: Annotated[
        str, typer.Option(help="all, county:CODE, township:CODE, village:CODE, stations:A,B")
    ] = "all",
) -> None:
    """Compute (or recompute) the draft run of a period and scope; you become its maker."""
    from pvmon.api.auth import ForbiddenError

    try:
        kind, codes = _scope(scope)
        with _db() as conn, _progress_bar() as bar:
            who = acting(ctx, conn)
            if not scope_in_county(conn, county_id=who.county_id, scope_kind=kind, codes=codes):
                raise ForbiddenError(
                    f"--scope {scope}: outside county {who.county_code!r} of key {who.name!r}"
                )
            task = bar.add_task("dividend run", total=7)

            def progress(step: str, done: int, total: int) -> None:
                bar.update(task, description=step, completed=done, total=total)

            run_id = compute_run(
                conn,
                period=period,
                scope_kind=kind,
                scope_codes=codes,
                created_by=who.name,
                progress=progress,
            )
            bar.stop()
            _show_run(conn, run_id)
    except PvmonError as exc:
        raise _fail(exc) from exc


def _show_run(conn: psycopg.Connection, run_id: int) -> None:
    _console.print(_summary_table(conn, run_id))
    estimates = _estimates_table(conn, run_id)
    if estimates is not None:
        _console.print(estimates)


@dividends_app.command("recompute")
def recompute_cmd(ctx: typer.Context, run: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Recompute a draft on today's data; you become one of its makers."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            recompute_run(conn, run, by=who.name)
            _show_run(conn, run)
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="draft, approved, exported, paid or discarded.")
    ] = None,
    period: Annotated[str | None, typer.Option(help="2025, 2025-H1, 2025-Q3.")] = None,
    kind: Annotated[str | None, typer.Option(help="regular or adjustment.")] = None,
    corrects: Annotated[int | None, typer.Option(help="Adjustments of this run.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.", min=1)] = 50,
) -> None:
    """Runs, newest first, with who made and approved them and their totals."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            runs = [
                r
                for r in list_runs(
                    conn,
                    status=status,
                    period=period,
                    kind=kind,
                    corrects=corrects,
                    limit=limit,
                )
                if scope_in_county(
                    conn, county_id=who.county_id, scope_kind=r.scope_kind, codes=r.scope_codes
                )
            ]
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table(
        "run", "kind", "status", "period", "scope", "made by", "approved by", "units",
        escape("paid [yuan]"), escape("arrears paid [yuan]"), "est. units", title="dividend runs",
    )  # fmt: skip
    for r in runs:
        table.add_row(
            str(r.run_id), r.kind, r.status, r.period_label,
            f"{r.scope_kind} {','.join(r.scope_codes)}".strip(), r.created_by,
            r.approved_by or "-", f"{r.units:,}", yuan(r.paid_fen), yuan(r.arrears_paid_fen),
            f"{r.estimated_units:,}",
        )  # fmt: skip
    _console.print(table)


@dividends_app.command("show")
def show_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Run id.")],
    lines: Annotated[int, typer.Option(help="Show this many lines (largest first).")] = 20,
) -> None:
    """Totals of a run, its stations with estimated energy and its largest lines
    (personal data masked)."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            _show_run(conn, run)
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


@dividends_app.command("history")
def history_cmd(ctx: typer.Context, run: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Every state change of a run: what, who and when."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            events = run_history(conn, run)
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table("when (UTC)", "event", "who", "detail", title=f"dividend run {run}: history")
    for e in events:
        table.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.event, e.actor, e.detail)
    _console.print(table)


@dividends_app.command("approve")
def approve_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Run id.")],
    accept_estimates: Annotated[
        bool,
        typer.Option(
            "--accept-estimates",
            help="Approve although stations' energy is estimated beyond "
            "PVMON_ESTIMATED_SHARE_LIMIT (see `show`).",
        ),
    ] = False,
) -> None:
    """Approve a draft of an ended period (not by any of its makers) and freeze it."""
    try:
        settings = _settings()
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            approve_run(
                conn, run, approved_by=who.name, accept_estimated=accept_estimates,
                estimated_share_limit=settings.estimated_share_limit,
            )  # fmt: skip
            _console.print(_summary_table(conn, run))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("discard")
def discard_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Draft run id.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Discard a draft (kept with its history, without lines)."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            discard_run(conn, run, by=who.name, reason=reason)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"dividend run {run} discarded")


@dividends_app.command("export")
def export_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Run id.")],
    format: Annotated[str, typer.Option("--format", help="csv, xlsx or bank.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="File to write.")] = None,
    layout: Annotated[
        str,
        typer.Option(help=f"Bank file layout: {', '.join(layout_names())} or a layout .toml file."),
    ] = DEFAULT_LAYOUT,
) -> None:
    """Export a run: its lines (CSV/XLSX; drafts as previews; personal data masked unless
    the key's role sees it) or the bank payment file (finance or admin keys only; marks
    the run exported, recorded with the file's checksum)."""
    if format not in ("csv", "xlsx", "bank"):
        raise _fail(ValidationError(f"--format {format!r}: expected csv, xlsx or bank"))
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            if format == "bank":
                chosen = load_layout(layout, allow_file=True)
                path = out or Path(f"dividend-run-{run}.bank.{chosen.format}")
                bank = export_bank_file(
                    conn, run, path, by=who.name, may_see_accounts=who.reveals_personal_data,
                    layout=chosen,
                )  # fmt: skip
                _console.print(
                    f"wrote {bank.path} ({bank.layout}): {bank.rows:,} payees, "
                    f"{yuan(bank.total_fen)} yuan, sha256 {bank.sha256}"
                )
                return
            path = out or Path(f"dividend-run-{run}.{format}")
            writer = export_csv if format == "csv" else export_xlsx
            result = writer(conn, run, path, reveal=who.reveals_personal_data)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"wrote {result.path}: {result.rows:,} rows, {yuan(result.total_fen)} yuan")


@dividends_app.command("paid")
def paid_cmd(ctx: typer.Context, run: Annotated[int, typer.Argument(help="Run id.")]) -> None:
    """Record that the bank paid an exported run."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            mark_paid(conn, run, by=who.name)
            _console.print(_summary_table(conn, run))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("adjust")
def adjust_cmd(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Approved run to correct.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Draft an adjustment run: reversing and new lines for what changed since approval."""
    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _in_county(conn, who, run)
            adj = create_adjustment(conn, run, created_by=who.name, note=note)
            _console.print(_summary_table(conn, adj))
    except PvmonError as exc:
        raise _fail(exc) from exc


@dividends_app.command("schedule")
def schedule_cmd(
    ctx: typer.Context, station: Annotated[str, typer.Argument(help="Station code.")]
) -> None:
    """The station's 25-year schedule: expected energy, revenue, obligations, coverage, actuals."""
    from dividends.queries import station_schedule

    try:
        with _db() as conn:
            acting(ctx, conn)
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


def _station_in_county(conn: psycopg.Connection, who: Principal, station: str) -> None:
    from dividends.enrolments import station_county
    from pvmon.api.auth import ForbiddenError

    if who.county_id is not None and station_county(conn, station) != who.county_id:
        raise ForbiddenError(f"station {station!r} is outside county {who.county_code!r}")


Station = Annotated[str, typer.Option("--station", help="Station code.")]
Slot = Annotated[int, typer.Option("--slot", help="Slot number of the station.", min=1)]


@dividends_app.command("enrol")
def enrol_cmd(
    ctx: typer.Context,
    station: Station,
    household: Annotated[str, typer.Option(help="Household file number (建档立卡).")],
    scheme: Annotated[str, typer.Option(help="Scheme code, e.g. village_slot.")],
    start: Annotated[str, typer.Option("--from", help="First day enrolled, YYYY-MM-DD.")],
    first_dividend_on: Annotated[
        str | None, typer.Option(help="First dividend day of the new slot (default --from).")
    ] = None,
) -> None:
    """Enrol a household on a new slot of a station."""
    from dividends.enrolments import enrol_household

    try:
        starts = _day(start, "--from")
        first = _day(first_dividend_on, "--first-dividend-on") if first_dividend_on else None
        with _db() as conn:
            who = acting(ctx, conn)
            _station_in_county(conn, who, station)
            slot_no, _ = enrol_household(
                conn, station=station, household=household, scheme=scheme, starts_on=starts,
                first_dividend_on=first,
            )  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"{household} holds slot {slot_no} of {station} under {scheme} from {starts}")


@dividends_app.command("reassign")
def reassign_cmd(
    ctx: typer.Context,
    station: Station,
    slot: Slot,
    to: Annotated[str, typer.Option("--to", help="File number of the new holder.")],
    on: Annotated[str, typer.Option(help="First day of the new holder, YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option(help="Why the former holder's enrolment ends.")] = (
        "reassigned"
    ),
) -> None:
    """Pass a slot to another household on a date; each is paid for its own days."""
    from dividends.enrolments import reassign_by_code

    try:
        day = _day(on, "--on")
        with _db() as conn:
            who = acting(ctx, conn)
            _station_in_county(conn, who, station)
            reassign_by_code(conn, station=station, slot_no=slot, to_household=to, on=day,
                             reason=reason)  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"slot {slot} of {station}: {to} from {day} ({reason})")


@dividends_app.command("end-enrolment")
def end_cmd(
    ctx: typer.Context,
    station: Station,
    slot: Slot,
    on: Annotated[str, typer.Option(help="First day no longer held, YYYY-MM-DD.")],
    reason: Annotated[
        str, typer.Option(help="left_poverty, moved, deceased, reassigned, scheme_ended, ...")
    ],
) -> None:
    """End a slot's enrolment (the holder is paid up to the day before --on)."""
    from dividends.enrolments import end_slot

    try:
        day = _day(on, "--on")
        with _db() as conn:
            who = acting(ctx, conn)
            _station_in_county(conn, who, station)
            end_slot(conn, station=station, slot_no=slot, on=day, reason=reason)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"slot {slot} of {station}: enrolment ends {day} ({reason})")


@dividends_app.command("move-scheme")
def move_scheme_cmd(
    ctx: typer.Context,
    station: Station,
    scheme: Annotated[str, typer.Option(help="The scheme every slot moves to.")],
    on: Annotated[str, typer.Option(help="First day under it, YYYY-MM-DD.")],
) -> None:
    """Move every open enrolment of a station to another scheme from a date."""
    from dividends.enrolments import move_station_scheme

    try:
        day = _day(on, "--on")
        with _db() as conn:
            who = acting(ctx, conn)
            _station_in_county(conn, who, station)
            moved = move_station_scheme(conn, station=station, scheme=scheme, on=day)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"{station}: {moved} enrolment(s) under {scheme} from {day}")


@dividends_app.command("enrolments")
def enrolments_cmd(ctx: typer.Context, station: Station) -> None:
    """A station's slots and who held each under which scheme, from and to."""
    from dividends.enrolments import list_enrolments

    try:
        with _db() as conn:
            who = acting(ctx, conn)
            _station_in_county(conn, who, station)
            rows = list_enrolments(conn, station=station)
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table(
        "slot", "holder", "scheme", "from", "to", "reason", title=f"{station}: enrolments"
    )
    for r in rows:
        table.add_row(str(r.slot_no), r.holder, r.scheme, str(r.starts_on),
                      str(r.ends_on or ""), r.end_reason or "")  # fmt: skip
    _console.print(table)


@dividends_app.command("deduction")
def deduction_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option(help="land_rent, om_fee, reserve, insurance, tax, other.")],
    seq: Annotated[int, typer.Option(help="Order among deductions (1 first).", min=1)],
    county: Annotated[str | None, typer.Option(help="For every station of a county.")] = None,
    station: Annotated[str | None, typer.Option(help="For one station (wins).")] = None,
    rate: Annotated[str | None, typer.Option(help="Share of gross revenue, e.g. 0.029.")] = None,
    yearly_yuan: Annotated[str | None, typer.Option(help="Fixed yuan per year.")] = None,
    start: Annotated[str, typer.Option("--from", help="In force from, YYYY-MM-DD.")] = (
        "2000-01-01"
    ),
    end: Annotated[str | None, typer.Option("--to", help="In force until (exclusive).")] = None,
) -> None:
    """Add a deduction taken before dividends (a share of revenue or a fixed yearly sum)."""
    from dividends.enrolments import add_deduction_by_code

    try:
        share = _number(rate, "--rate", places=6) if rate is not None else None
        fixed = (
            int(_number(yearly_yuan, "--yearly-yuan", places=2) * 100)
            if yearly_yuan is not None
            else None
        )
        since, until = _day(start, "--from"), (_day(end, "--to") if end else None)
        with _db() as conn:
            who = acting(ctx, conn)
            if station is not None:
                _station_in_county(conn, who, station)
            elif who.county_id is not None and county != who.county_code:
                from pvmon.api.auth import ForbiddenError

                raise ForbiddenError(f"county {county!r} is not {who.county_code!r}")
            add_deduction_by_code(
                conn, seq=seq, kind=kind, county=county, station=station, rate=share,
                yearly_fen=fixed, effective_from=since, effective_to=until,
            )  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    what = f"{rate} of revenue" if rate is not None else f"{yearly_yuan} yuan/year"
    _console.print(f"deduction {kind} (seq {seq}) for {station or county}: {what} from {since}")


@dividends_app.command("setup")
def setup_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="Settings file (YAML): prices, schemes, enrolment, deductions.")
    ],
) -> None:
    """Set up a county's dividends from a settings file: validated whole (every problem
    with its key), then written in one transaction; the registry's stations are enrolled.
    Needs an admin key."""
    from dividends.setup import apply_setup, load_setup_file

    try:
        setup = load_setup_file(file, max_bytes=_settings().setup_file_max_bytes)
        with _db() as conn:
            acting(ctx, conn, "admin")
            counts = apply_setup(conn, setup, name=file.name)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(", ".join(f"{k} {v:,}" for k, v in counts.items()))


# the county's cash commands, registered with the rest (``python -m pvmon.cli`` sees them)
dividends_app.add_typer(cash_app, name="cash")
dividends_app.command("disclose")(disclose_cmd)
