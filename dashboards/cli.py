"""``pvmon dashboards``: build the JSON, push to a Grafana, grant the read-only role."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dashboards.build import FOLDER_TITLE, FOLDER_UID, JSON_DIR, build_all, write_all
from dashboards.reader import READER_ROLE, grant_reader
from pvmon.cliutil import fail as _fail
from pvmon.errors import PvmonError

__all__ = ["app"]

app = typer.Typer(help="Grafana dashboards: build, push, read-only role.", no_args_is_help=True)
_console = Console()
_err = Console(stderr=True)


@app.command("build")
def build(
    out: Annotated[Path, typer.Option(help="Directory of the JSON files.")] = JSON_DIR,
    check: Annotated[
        bool, typer.Option("--check", help="Only check that the files are current.")
    ] = False,
) -> None:
    """Regenerate the dashboards' JSON (deterministic: same code, same bytes)."""
    if check:
        stale = [
            name
            for name, text in build_all().items()
            if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
        ]
        if stale:
            _err.print(f"stale: {', '.join(stale)}; run `pvmon dashboards build`")
            raise typer.Exit(code=1)
        _console.print("dashboards are current")
        return
    changed = write_all(out)
    _console.print(f"wrote {len(changed)} changed file(s) in {out}" if changed else "no change")


@app.command("push")
def push_command(
    url: Annotated[str, typer.Option(help="Grafana base URL.", envvar="GRAFANA_URL")],
    token: Annotated[str, typer.Option(help="Service account token.", envvar="GRAFANA_TOKEN")],
    db_host: Annotated[
        str, typer.Option(help="Database host:port as Grafana sees it.")
    ] = "timescaledb:5432",
    db_name: Annotated[str, typer.Option(help="Database name.")] = "pvmon",
    db_user: Annotated[str, typer.Option(help="Read-only role Grafana uses.")] = READER_ROLE,
    db_password_env: Annotated[
        str, typer.Option(help="Environment variable holding that role's password.")
    ] = "GRAFANA_DB_PASSWORD",
    folder_uid: Annotated[str, typer.Option(help="Folder uid.")] = FOLDER_UID,
    folder_title: Annotated[str, typer.Option(help="Folder title.")] = FOLDER_TITLE,
    force_datasource: Annotated[
        bool, typer.Option("--force-datasource", help="Rewrite the datasource (new password).")
    ] = False,
) -> None:
    """Upsert datasource, folder and dashboards into an existing Grafana."""
    from dashboards.push import datasource_model, push  # requests and grafana_client

    model = datasource_model(
        host=db_host, database=db_name, user=db_user, password=os.environ.get(db_password_env)
    )
    try:
        report = push(
            url=url,
            token=token,
            datasource=model,
            folder_uid=folder_uid,
            folder_title=folder_title,
            force_datasource=force_datasource,
        )
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"datasource {model['uid']}: {report.datasource}")
    _console.print(f"folder {folder_uid}: {report.folder}")
    for uid, outcome in report.dashboards.items():
        _console.print(f"dashboard {uid}: {outcome}")


@app.command("grant-reader")
def grant_reader_command(
    role: Annotated[str, typer.Option(help="Role Grafana logs in as.")] = READER_ROLE,
    password_env: Annotated[
        str, typer.Option(help="Environment variable holding its password (unset: keep).")
    ] = "GRAFANA_DB_PASSWORD",
) -> None:
    """Create/refresh the read-only role: SELECT on the schema, no personal data."""
    from pvmon.db.connect import database_url, open_database
    from pvmon.settings import load_settings

    try:
        settings = load_settings()
        with open_database(database_url(settings), autocommit=True) as conn:
            grant_reader(conn, role=role, password=os.environ.get(password_env))
    except PvmonError as exc:
        raise _fail(exc) from exc
    _console.print(f"role {role}: read-only access granted")
