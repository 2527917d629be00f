"""The ``pvmon`` command line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dashboards.cli import app as dashboards_app
from dividends.cli import dividends_app
from pvmon.aio import run
from pvmon.alarms_cli import alarms_app, notify
from pvmon.availability import AvailabilityOptions
from pvmon.cliutil import fail as _fail
from pvmon.db.connect import database_url, embedded_server, open_database, prepare_database
from pvmon.db.migrate import current_version, database_flavour, downgrade, upgrade
from pvmon.errors import DatabaseUnavailableError, PvmonError, ValidationError
from pvmon.registry import generate_fleet, load_fleet_files, store_fleet
from pvmon.settings import Settings, load_settings
from simulators.faults import PROFILES

__all__ = ["app"]

app = typer.Typer(
    help="pvmon: monitor PV poverty-alleviation stations and pay their dividends.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database: embedded server and migrations.", no_args_is_help=True)
fleet_app = typer.Typer(
    help="Fleet registry: import and generate fleet files.", no_args_is_help=True
)
simulate_app = typer.Typer(help="Simulated inverters: serve a fleet over Modbus, backfill history.")
report_app = typer.Typer(help="Reports: the monthly generation report.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(fleet_app, name="fleet")
app.add_typer(simulate_app, name="simulate")
app.add_typer(report_app, name="report")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(dividends_app, name="dividends")
app.add_typer(alarms_app, name="alarms")
app.command("notify")(notify)

console = Console()
err_console = Console(stderr=True)
DEMO_FLEET = Path(__file__).resolve().parent.parent / "examples" / "demo-county.yaml"


def _settings() -> Settings:
    settings = load_settings()
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def _migrated_url(settings: Settings) -> str:
    """Migrate as the owner; the URL the application connects with (no ownership)."""
    return prepare_database(settings)


def _collector_url(settings: Settings) -> str:
    """:func:`_migrated_url`; when an external database cannot be reached, its URL as
    given (the collector then polls from its registry snapshot and spools)."""
    try:
        return _migrated_url(settings)
    except DatabaseUnavailableError:
        if settings.database_url is None:
            raise
        return settings.database_url.get_secret_value()


@db_app.command("upgrade")
def db_upgrade(
    target: Annotated[int | None, typer.Option(help="Version to stop at.")] = None,
) -> None:
    """Apply pending migrations (starts the embedded server if no URL is set)."""
    settings = _settings()
    try:
        url = database_url(settings)
        with open_database(url, autocommit=True) as conn:
            applied = upgrade(conn, target=target, timescaledb=settings.timescaledb)
            console.print(
                f"applied {applied or 'nothing'}; now at version "
                f"{current_version(conn)} ({database_flavour(conn)})"
            )
    except PvmonError as exc:
        raise _fail(exc) from exc


@db_app.command("grant-app")
def db_grant_app() -> None:
    """Let the application role pvmon_app log in with the password in PVMON_APP_DB_PASSWORD
    (run as the owner, after `pvmon db upgrade`; the embedded server needs none of this)."""
    import os

    from pvmon.db.connect import APP_ROLE, enable_app_role

    settings = _settings()
    password = os.environ.get("PVMON_APP_DB_PASSWORD", "")
    if not password:
        raise _fail(ValidationError("PVMON_APP_DB_PASSWORD: set the application role's password"))
    try:
        with open_database(database_url(settings), autocommit=True) as conn:
            enable_app_role(conn, password)
    except PvmonError as exc:
        raise _fail(exc) from exc
    console.print(f"role {APP_ROLE} may log in")


@db_app.command("downgrade")
def db_downgrade(target: Annotated[int, typer.Option(help="Version to go back to.")]) -> None:
    """Revert migrations above TARGET."""
    settings = _settings()
    try:
        with open_database(database_url(settings), autocommit=True) as conn:
            reverted = downgrade(conn, target=target)
            console.print(
                f"reverted {reverted or 'nothing'}; now at version {current_version(conn)}"
            )
    except PvmonError as exc:
        raise _fail(exc) from exc


@db_app.command("status")
def db_status() -> None:
    """Where the database is and which schema version it has."""
    settings = _settings()
    try:
        if settings.embedded:
            server = embedded_server(settings)
            console.print(
                f"embedded server in {server.root_dir}, port {server.port}, "
                f"{'running' if server.running() else 'stopped'}"
            )
            if not server.running():
                return
        with open_database(database_url(settings, start_embedded=False)) as conn:
            console.print(f"schema version {current_version(conn)} ({database_flavour(conn)})")
    except PvmonError as exc:
        raise _fail(exc) from exc


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    settings = _settings()
    try:
        embedded_server(settings).stop()
    except PvmonError as exc:
        raise _fail(exc) from exc
    console.print("embedded server stopped")


@fleet_app.command("import")
def fleet_import(
    files: Annotated[list[Path], typer.Argument(help="YAML or CSV fleet files.")],
) -> None:
    """Load places, stations, inverters and households (upsert by code; all or nothing)."""
    settings = _settings()
    try:
        fleet = load_fleet_files(files, max_bytes=settings.import_file_max_bytes)
        url = _migrated_url(settings)
        with open_database(url, autocommit=True) as conn:
            summary = store_fleet(conn, fleet)
    except ValidationError as exc:
        err_console.print(f"[bold red]rejected, nothing written:[/] {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table("table", "inserted", "updated", title="fleet import")
    for name in sorted(set(summary.inserted) | set(summary.updated)):
        table.add_row(name, str(summary.inserted.get(name, 0)), str(summary.updated.get(name, 0)))
    console.print(table)
    console.print(f"{summary.changed} row(s) changed")


@fleet_app.command("generate")
def fleet_generate(
    households: Annotated[int, typer.Option(help="Household stations (4.32 kWp each).")] = 200,
    out: Annotated[Path, typer.Option(help="Fleet file to write (YAML).")] = Path("fleet.yaml"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same fleet).")] = 2016,
    base_port: Annotated[int, typer.Option(help="First data-logger port.")] = 15020,
    host: Annotated[str, typer.Option(help="Host of the data loggers.")] = "127.0.0.1",
) -> None:
    """Write a synthetic county fleet (e.g. --households 17062 for a Lingyuan-sized county)."""
    fleet = generate_fleet(households=households, seed=seed, base_port=base_port, host=host)
    out.write_text(
        yaml.dump(fleet, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    console.print(
        f"wrote {out}: {len(fleet['stations'])} stations, {len(fleet['households'])} households"
    )


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@simulate_app.callback(invoke_without_command=True)
def simulate(
    ctx: typer.Context,
    fleet: Annotated[Path, typer.Option(help="Fleet file whose inverters to serve.")] = DEMO_FLEET,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per wall second; the faults' and field behaviours' "
            "wall-clock timing (latency, lockouts, NAT timeouts) shrinks with it.",
            min=0.001,
        ),
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulated start (ISO 8601; UTC unless it names an offset); default now. "
            "Faults are drawn from it: same fleet, seed and start, same run."
        ),
    ] = None,
    faults: Annotated[
        str,
        typer.Option(
            help=f"Fault profile: {', '.join(PROFILES)} "
            "(field: the demo's faults and every field behaviour)."
        ),
    ] = "none",
    seed: Annotated[int, typer.Option(help="Weather and fault seed.")] = 2016,
    latency: Annotated[
        float, typer.Option(help="Delay every reply by this much [s] (0.3: a 4G logger).")
    ] = 0.0,
) -> None:
    """Serve the fleet's inverters on the endpoints the fleet file names (Ctrl-C stops)."""
    if ctx.invoked_subcommand is not None:
        return
    from simulators.runner import run_fleet

    settings = _settings()
    try:
        records = load_fleet_files([fleet])
    except PvmonError as exc:
        raise _fail(exc) from exc
    try:
        run(
            run_fleet(
                records,
                speed=speed,
                start=_parse_time(start),
                faults=faults,
                seed=seed,
                console=console,
                latency_s=latency,
            ),
            loop=settings.event_loop,
        )
    except KeyboardInterrupt:
        console.print("stopped")


@simulate_app.command("backfill")
def simulate_backfill(
    days: Annotated[int, typer.Option(help="Days of history to write.")] = 365,
    interval: Annotated[int, typer.Option(help="Minutes between readings.")] = 5,
    seed: Annotated[int, typer.Option(help="Weather seed (same as the live simulator's).")] = 2016,
) -> None:
    """Write simulated history for every registered inverter into readings."""
    from rich.progress import Progress

    from pvmon.backfill import backfill_readings
    from pvmon.db.rollups import refresh_rollups

    settings = _settings()
    try:
        _migrated_url(settings)
        # history and its rollup refresh are the owner's work (TimescaleDB refreshes a
        # continuous aggregate only for its owner)
        owner = database_url(settings)
        with open_database(owner, autocommit=True) as conn, Progress(console=console) as bar:
            task = bar.add_task("simulating history", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            rows = backfill_readings(
                conn,
                days=days,
                end=datetime.now(UTC),
                seed=seed,
                interval_min=interval,
                progress=progress,
            )
            bar.update(task, description="refreshing energy rollups")
            refresh_rollups(conn)
    except PvmonError as exc:
        raise _fail(exc) from exc
    console.print(f"wrote {rows:,} simulated readings ({days} days)")


@app.command("collect")
def collect(
    shard: Annotated[
        str | None, typer.Option(help="Poll only share K of N endpoints: K/N.")
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated fleet speed: divides poll intervals and the wall-clock "
            "options (timeouts, connect delays, request gaps) and timestamps with "
            "the devices' clock.",
            min=0.001,
        ),
    ] = 1.0,
    metrics_port: Annotated[int, typer.Option(help="Prometheus /metrics port (0: off).")] = 9108,
    timeout: Annotated[
        float, typer.Option(help="Per-request timeout [s] (divided by --speed).")
    ] = 3.0,
    batch_window: Annotated[
        float,
        typer.Option(
            help="Handle replies in batches at most this far apart [s] (fewer wake-ups "
            "with loggers behind 4G; shrunk to what every endpoint's schedule allows); 0: off.",
            min=0.0,
        ),
    ] = 0.05,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Poll every inverter once, store what it read, print the summary and "
            "exit (1 when any inverter did not answer): commissioning and checks.",
        ),
    ] = False,
) -> None:
    """Poll every inverter of the registry (or this shard's share) until Ctrl-C."""
    from collectors.runner import collect_once, run_collector
    from collectors.service import parse_shard

    settings = _settings()
    try:
        url = _collector_url(settings)
        if once:
            silent = run(
                collect_once(
                    url=url,
                    spool_dir=settings.data_dir / "spool",
                    spool_max_bytes=settings.spool_max_bytes,
                    shard=parse_shard(shard),
                    timeout_s=timeout,
                    console=console,
                ),
                loop=settings.event_loop,
            )
            raise typer.Exit(code=1 if silent else 0)
        run(
            run_collector(
                url=url,
                spool_dir=settings.data_dir / "spool",
                spool_max_bytes=settings.spool_max_bytes,
                shard=parse_shard(shard),
                speed=speed,
                metrics_port=metrics_port,
                timeout_s=timeout,
                batch_window_max_s=batch_window,
                console=console,
                availability=AvailabilityOptions.from_settings(settings),
            ),
            loop=settings.event_loop,
        )
    except KeyboardInterrupt:
        console.print("stopped")
    except PvmonError as exc:
        raise _fail(exc) from exc


@app.command("demo")
def demo(
    fleet: Annotated[
        Path, typer.Option(help="Fleet file imported when the registry is empty.")
    ] = DEMO_FLEET,
    history_days: Annotated[
        int, typer.Option(help="Days of simulated history written when there is none.")
    ] = 30,
    seed: Annotated[int, typer.Option(help="Weather seed of the simulated fleet.")] = 2016,
    metrics_port: Annotated[
        int, typer.Option(help="The collector's Prometheus /metrics port (0: off).")
    ] = 9108,
) -> None:
    """The main job: database, demo fleet and history, simulated inverters, collector, API.

    The API answers at once; history is written beside it, with progress on stderr."""
    from pvmon.demo import run_demo

    settings = _settings()
    try:
        url = _migrated_url(settings)
        with open_database(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM stations").fetchone()
            if row and row[0] == 0:
                summary = store_fleet(conn, load_fleet_files([fleet]))
                console.print(f"imported demo fleet {fleet.name}: {summary.changed} rows")
            else:
                console.print("registry already loaded: reusing the existing data")
            flavour = database_flavour(conn)
        records = load_fleet_files([fleet])
    except PvmonError as exc:
        raise _fail(exc) from exc
    where = (
        f"embedded PostgreSQL on 127.0.0.1:{settings.embedded_port} "
        f"(data in {settings.data_dir.resolve()})"
        if settings.embedded
        else "PVMON_DATABASE_URL"
    )
    console.print(f"database: {where}, flavour {flavour}")
    try:
        run(
            run_demo(
                settings=settings,
                url=url,
                owner_url=database_url(settings),
                fleet=records,
                history_days=history_days,
                seed=seed,
                console=console,
                metrics_port=metrics_port,
                progress_console=err_console,
            ),
            loop=settings.event_loop,
        )
    except KeyboardInterrupt:
        console.print("stopped")
    except PvmonError as exc:
        raise _fail(exc) from exc


@report_app.command("month")
def report_month(
    county: Annotated[str, typer.Option(help="County code.")],
    month: Annotated[str, typer.Option(help="Month, YYYY-MM.")],
    township: Annotated[str | None, typer.Option(help="Only this township (code).")] = None,
    village: Annotated[str | None, typer.Option(help="Only this village (code).")] = None,
    out: Annotated[Path, typer.Option(help="Folder the XLSX, PDF and HTML go to.")] = Path("."),
    losers: Annotated[int, typer.Option(help="Stations in the top-losers list.")] = 10,
) -> None:
    """Energy per station and village against expected, specific yield, performance
    ratio, alarms, top losers and charts: report-<scope>-<month>.xlsx, .pdf and .html."""
    from pvmon.report import month_report, parse_month
    from pvmon.report.html import report_page
    from pvmon.report.pdf import write_report_pdf
    from pvmon.report.xlsx import write_report_xlsx

    try:
        first = parse_month(month)
        if losers < 0:
            raise ValidationError(f"--losers {losers}: must be 0 or more")
        settings = _settings()
        with open_database(_migrated_url(settings), autocommit=True) as conn:
            options = AvailabilityOptions.from_settings(settings)
            report = month_report(conn, county=county, month=first, township=township,
                                  village=village, losers=losers, availability=options)  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"report-{report.scope.code}-{first:%Y-%m}"
    paths = [
        write_report_xlsx(report, stem.with_suffix(".xlsx")),
        write_report_pdf(report, stem.with_suffix(".pdf")),
    ]
    html = stem.with_suffix(".html")
    html.write_text(report_page(report), encoding="utf-8")
    paths.append(html)
    t = report.totals
    window = f"{report.window[0]} - {report.window[1]}" if report.window else "no data"
    table = Table("figure", "value", title=report.title)
    for name, value in (
        ("window", window),
        ("stations", str(len(report.stations))),
        ("energy [kWh]", f"{t.energy_kwh:,}"),
        ("expected [kWh]", f"{t.expected_kwh:,}"),
        ("specific yield [kWh/kWp]", str(t.specific_yield)),
        ("performance ratio", str(t.performance_ratio)),
        ("open alarms at the end", str(report.open_alarms)),
    ):
        table.add_row(name, value)
    console.print(table)
    for path in paths:
        console.print(f"wrote {path}", soft_wrap=True)


keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Unique key name (shown as creator/approver).")],
    role: Annotated[str, typer.Option(help="viewer, operator, finance or admin.")] = "viewer",
    county: Annotated[str | None, typer.Option(help="Limit the key to this county code.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the key to this new file (owner-only) instead of printing it."),
    ] = None,
) -> None:
    """Create a key and show it once (only its hash is stored): printed, or written to
    ``--out`` for ``pvmon dividends --key-file`` and ``PVMON_API_KEY_FILE``."""
    import os

    from pvmon.api.auth import create_key

    if out is not None and out.exists():
        raise _fail(ValidationError(f"--out {out}: the file exists; keys are never overwritten"))
    try:
        with open_database(_migrated_url(_settings()), autocommit=True) as conn:
            info, plain = create_key(conn, name=name, role=role, county=county)
    except PvmonError as exc:
        raise _fail(exc) from exc
    what = f"key {info.name} ({info.role}{', county ' + county if county else ''})"
    if out is not None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(plain + "\n")
        console.print(f"{what} written to {out}")
        return
    console.print(f"{what}:")
    console.print(plain, soft_wrap=True)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (name, role, county, prefix, created, last used, revoked)."""
    from rich.table import Table

    from pvmon.api.auth import list_keys

    try:
        with open_database(_migrated_url(_settings()), autocommit=True) as conn:
            keys = list_keys(conn)
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table("name", "role", "county", "prefix", "created", "last used", "revoked")
    for k in keys:
        table.add_row(
            k.name,
            k.role,
            k.county_code or "*",
            k.key_prefix,
            k.created_at.isoformat(timespec="seconds"),
            k.last_used_at.isoformat(timespec="minutes") if k.last_used_at else "never",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="Key name.")]) -> None:
    """Revoke a key: it is kept for the record and no longer accepted."""
    from pvmon.api.auth import revoke_key

    try:
        with open_database(_migrated_url(_settings()), autocommit=True) as conn:
            revoke_key(conn, name)
    except PvmonError as exc:
        raise _fail(exc) from exc
    console.print(f"revoked {name}")


maintenance_app = typer.Typer(
    help="Maintenance windows: losses inside one are the O&M contractor's planned work.",
    no_args_is_help=True,
)
app.add_typer(maintenance_app, name="maintenance")


def _moment(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{option}: not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise ValidationError(f"{option}: give a time zone, e.g. 2025-06-03T08:00+08:00")
    return moment.astimezone(UTC)


@maintenance_app.command("add")
def maintenance_add(
    ctx: typer.Context,
    station: Annotated[str, typer.Option(help="Station code.")],
    start: Annotated[str, typer.Option("--from", help="Start, ISO 8601 with zone.")],
    end: Annotated[str, typer.Option("--to", help="End, ISO 8601 with zone.")],
    reason: Annotated[str, typer.Option(help="What was done.")],
    key_file: Annotated[
        Path | None, typer.Option(help="File holding the API key (else PVMON_API_KEY).")
    ] = None,
) -> None:
    """Record a maintenance window, acting with an operator's API key."""
    from dividends.cli import acting
    from pvmon.api.queries import station_county
    from pvmon.availability.queries import add_maintenance
    from pvmon.errors import NotFoundError

    ctx.obj = {"key_file": key_file}
    try:
        starts_at, ends_at = _moment(start, "--from"), _moment(end, "--to")
        with open_database(_migrated_url(_settings()), autocommit=True) as conn:
            who = acting(ctx, conn, "operate")
            found = station_county(conn, station=station)
            if found is None:
                raise NotFoundError(f"station {station!r}: not found")
            who.require_county(found[1], f"station {station!r}")
            window = add_maintenance(
                conn,
                station=station,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason,
                created_by=who.name,
            )
    except PvmonError as exc:
        raise _fail(exc) from exc
    console.print(
        f"maintenance window {window.id} at {escape(station)}: "
        f"{window.starts_at.isoformat()} to {window.ends_at.isoformat()}"
    )


def _share(value: object) -> str:
    return "-" if value is None else f"{float(str(value)) * 100:.2f} %"


@app.command("availability")
def availability(
    county: Annotated[str, typer.Option(help="County code.")],
    month: Annotated[str, typer.Option(help="Month, YYYY-MM.")],
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Also keep each station-day for Grafana (station_availability_daily); the "
            "collector keeps yesterday and today by itself.",
        ),
    ] = False,
) -> None:
    """Availability and lost energy per station and per O&M contractor in a month."""
    from pvmon.availability import contractor_month, month_days, station_month, store_days
    from pvmon.report import parse_month

    stored = 0
    try:
        first = parse_month(month)
        settings = _settings()
        options = AvailabilityOptions.from_settings(settings)
        with open_database(_migrated_url(settings), autocommit=True) as conn:
            stations = station_month(conn, county_code=county, month=first, options=options)
            contractors = contractor_month(conn, month=first, county=county, options=options)
            if store:
                stored = store_days(conn, first=first, last=month_days(first)[1],
                                    county=county, options=options)  # fmt: skip
    except PvmonError as exc:
        raise _fail(exc) from exc
    causes = ("inverter_fault", "grid", "maintenance", "communication")
    table = Table(title=f"Availability, county {escape(county)}, {month}")
    for column in ("station", "contractor", "time avail.", "energy avail.", "actual kWh"):
        table.add_column(column, justify="left" if column in ("station", "contractor") else "right")
    for cause in causes:
        table.add_column(f"lost kWh {cause}", justify="right")
    table.add_column("lost fen", justify="right")
    for s in stations:
        table.add_row(
            escape(s.station_code),
            escape(s.om_contractor or "-"),
            _share(s.time_availability),
            _share(s.energy_availability),
            f"{s.actual_wh / 1000:.1f}",
            *(f"{s.lost_wh_by_cause.get(c, 0) / 1000:.1f}" for c in causes),
            "-" if s.lost_revenue_fen is None else str(s.lost_revenue_fen),
        )
    console.print(table)
    by = Table(title=f"O&M contractors, county {escape(county)}, {month}")
    for column in ("contractor", "stations", "time avail.", "energy avail.", "lost kWh"):
        by.add_column(column, justify="left" if column == "contractor" else "right")
    by.add_column("lost fen", justify="right")
    by.add_column("penalty base fen", justify="right")
    for c in contractors:
        by.add_row(
            escape(c.om_contractor or "-"),
            str(c.stations),
            _share(c.time_availability),
            _share(c.energy_availability),
            f"{sum(c.lost_wh_by_cause.values()) / 1000:.1f}",
            "-" if c.lost_revenue_fen is None else str(c.lost_revenue_fen),
            "-" if c.penalty_base_fen is None else str(c.penalty_base_fen),
        )
    console.print(by)
    if store:
        console.print(f"stored {stored:,} station-days in station_availability_daily")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (PVMON_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (PVMON_API_PORT).")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) on the configured database."""
    import uvicorn

    from pvmon.api.app import app_for

    settings = _settings()
    try:
        url = _migrated_url(settings)
    except PvmonError as exc:
        raise _fail(exc) from exc
    host = host or settings.api_host
    port = port or settings.api_port
    console.print(f"API: http://{host}:{port}/docs")
    uvicorn.run(
        app_for(settings, database_url=url),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    app()
