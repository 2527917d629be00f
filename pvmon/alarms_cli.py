"""``pvmon alarms`` (list, acknowledge) and ``pvmon notify`` (the alarm notifier).

``alarms`` commands act as a person, like ``pvmon dividends``: the API key in
``PVMON_API_KEY`` or the file ``--key-file`` names, with the key's role and county.

    pvmon alarms list [--status open] [--county LY] [--kind offline]
    pvmon alarms ack ID --comment TEXT            # operator or admin key
    pvmon notify [--routes FILE] [--once] [--check]
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from collectors.alarms import acknowledge
from collectors.notify.deliver import check_url
from collectors.notify.routes import ALARM_KINDS, Routes, load_routes
from collectors.notify.service import Limits, Notifier, utc_now
from dividends.cli import acting
from pvmon.aio import run
from pvmon.cliutil import fail as _fail
from pvmon.cliutil import remember_key_file
from pvmon.errors import ConfigError, NotFoundError, PvmonError, ValidationError
from pvmon.settings import Settings, load_settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["alarms_app", "load_notify_routes", "notifier_for", "notify"]

alarms_app = typer.Typer(
    help="Alarms: list and acknowledge. Acts with the API key in PVMON_API_KEY or --key-file.",
    no_args_is_help=True,
)
_console = Console()
_err = Console(stderr=True)


alarms_app.callback()(remember_key_file)


def _url(settings: Settings) -> str:
    from pvmon.db.connect import prepare_database

    return prepare_database(settings)


@alarms_app.command("list")
def alarms_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="open or closed.")] = None,
    county: Annotated[str | None, typer.Option(help="County code.")] = None,
    station: Annotated[str | None, typer.Option(help="Station code.")] = None,
    kind: Annotated[str | None, typer.Option(help=", ".join(ALARM_KINDS))] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Alarms newest first, with who acknowledged them."""
    from pvmon.api import queries
    from pvmon.db.connect import open_database

    try:
        if status not in (None, "open", "closed"):
            raise ValidationError(f"--status {status!r}: expected open or closed")
        if kind is not None and kind not in ALARM_KINDS:
            raise ValidationError(f"--kind {kind!r}: expected one of {', '.join(ALARM_KINDS)}")
        with open_database(_url(load_settings()), autocommit=True) as conn:
            who = acting(ctx, conn, "read")
            if who.county_code is not None and county not in (None, who.county_code):
                raise ValidationError(f"--county {county!r}: the key is for {who.county_code}")
            rows, total = queries.alarms(
                conn,
                county=who.county_code or county,
                station=station,
                kind=kind,
                status=status,
                limit=limit,
            )
    except PvmonError as exc:
        raise _fail(exc) from exc
    table = Table(title=f"alarms ({len(rows)} of {total})")
    for col in ("id", "station", "inverter", "kind", "opened", "closed", "acknowledged", "reason"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["station"],
            r["inverter"] or "-",
            r["kind"],
            f"{r['opened_at']:%Y-%m-%d %H:%M}",
            f"{r['closed_at']:%Y-%m-%d %H:%M}" if r["closed_at"] else "open",
            f"{r['acknowledged_by']} {r['acknowledged_at']:%Y-%m-%d %H:%M}"
            if r["acknowledged_at"]
            else "-",
            escape(r["reason"]),
        )
    _console.print(table)


@alarms_app.command("ack")
def alarms_ack(
    ctx: typer.Context,
    alarm_id: Annotated[int, typer.Argument(help="Alarm id (pvmon alarms list).", min=1)],
    comment: Annotated[str, typer.Option(help="What is being done about it.")],
) -> None:
    """Acknowledge an alarm (operator or admin key): who and when are recorded, and the
    alarm is no longer escalated."""
    from pvmon.api import queries
    from pvmon.db.connect import open_database

    try:
        text = comment.strip()
        if not text or len(text) > 2000:
            raise ValidationError("--comment: write 1 to 2000 characters")
        with open_database(_url(load_settings()), autocommit=True) as conn:
            who = acting(ctx, conn, "operate")
            row = queries.alarm(conn, alarm_id)
            if row is None:
                raise NotFoundError(f"alarm {alarm_id}: not found")
            who.require_county(row["county_id"], f"alarm {alarm_id}")
            acknowledge(conn, alarm_id=alarm_id, by=who.name, comment=text)
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"alarm {alarm_id} acknowledged by {escape(who.name)}")


def load_notify_routes(settings: Settings, path: Path | None = None) -> Routes:
    """The routing file ``path`` or ``PVMON_NOTIFY_ROUTES``, validated whole."""
    path = path or settings.notify_routes
    if path is None:
        raise ConfigError("no routing file: pass --routes FILE or set PVMON_NOTIFY_ROUTES")
    return load_routes(
        path, env=os.environ, check_url=check_url, max_bytes=settings.setup_file_max_bytes
    )


def notifier_for(
    settings: Settings, *, url: str, routes: Routes, registry: CollectorRegistry | None = None
) -> Notifier:
    """The notifier the settings describe, on the wall clock; its delivery counter
    (``pvmon_notifications_total``) in ``registry`` (default: one of its own)."""
    return Notifier(
        url=url,
        routes=routes,
        registry=registry,
        limits=Limits(
            send_timeout_s=settings.notify_send_timeout_s,
            max_attempts=settings.notify_max_attempts,
            retry_base_s=settings.notify_retry_base_s,
            lookback_s=settings.notify_lookback_s,
        ),
        clock=utc_now,
    )


def notify(
    routes_file: Annotated[
        Path | None,
        typer.Option("--routes", help="Routing file (else PVMON_NOTIFY_ROUTES)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Validate the routing file, print it, exit.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Look once, deliver what is due, print, exit.")
    ] = False,
    metrics_port: Annotated[
        int,
        typer.Option(help="Serve pvmon_notifications_total on 127.0.0.1:PORT/metrics (0: off)."),
    ] = 0,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="With --once: look as of this instant (ISO 8601 with offset) instead of "
            "now, e.g. to send a digest or replay quiet hours.",
        ),
    ] = None,
) -> None:
    """Tell county staff of alarms: the routing file's channels (apprise URLs), rules,
    quiet hours, grouping, escalation, resolve messages and the daily digest."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        routes = load_notify_routes(settings, routes_file)
        if check:
            for name, url in routes.channels.items():
                _console.print(f"channel {name}: {escape(routes.mask(url))}")
            for rule in routes.rules:
                _console.print(
                    f"rule {rule.name}: {', '.join(rule.channels)}"
                    + (f"; escalate to {', '.join(rule.escalate_to)}" if rule.escalate_to else "")
                )
            return
        notifier = notifier_for(settings, url=_url(settings), routes=routes)
        if at is not None:
            if not once:
                raise ValidationError("--at: only with --once")
            try:
                instant = datetime.fromisoformat(at)
            except ValueError as exc:
                raise ValidationError(f"--at {at!r}: expected ISO 8601") from exc
            if instant.tzinfo is None:
                raise ValidationError(f"--at {at!r}: give the offset, e.g. +08:00")
            notifier.clock = lambda: instant.astimezone(UTC)
        if once:
            try:
                result = asyncio.run(notifier.tick())
            finally:
                notifier.close()
            _console.print(
                f"made {result.made}, sent {result.sent}, to retry {result.retrying}, "
                f"given up {result.failed}"
            )
            raise typer.Exit(code=1 if result.retrying or result.failed else 0)
        if metrics_port:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr="127.0.0.1", registry=notifier.registry)
        _console.print(
            f"notifier: {len(routes.channels)} channels, {len(routes.rules)} rules, "
            f"looking every {settings.notify_interval_s:g} s"
            + (f"; metrics at http://127.0.0.1:{metrics_port}/metrics" if metrics_port else "")
        )
        run(notifier.run(interval_s=settings.notify_interval_s), loop=settings.event_loop)
    except KeyboardInterrupt:
        _console.print("stopped")
    except PvmonError as exc:
        raise _fail(exc) from exc
