"""The application connects as ``pvmon_app``, a role that owns no table: it can compute,
approve and pay runs, and cannot take the guards away (drop or disable the triggers that
freeze approved runs, delete the double-payment claims, rewrite a run's history)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from dividends.runs import approve_run, compute_run, mark_exported, mark_paid
from pvmon.db.connect import APP_ROLE, embedded_server, prepare_database
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade
from pvmon.settings import load_settings
from tests.dividends.conftest import World, world  # noqa: F401 (the fixture)


def _app_url(server: EmbeddedPostgres, db_url: str) -> str:
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(APP_ROLE), psycopg.sql.Literal(server.app_password)
            )
        )
    return server.app_url(APP_ROLE, urlsplit(db_url).path.lstrip("/"))


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM dividend_payout_claims",
        "UPDATE dividend_payout_claims SET payee_id = 0",
        "UPDATE dividend_run_events SET actor = 'someone else'",
        "DELETE FROM dividend_run_events",
        "ALTER TABLE dividend_lines DISABLE TRIGGER ALL",
        "ALTER TABLE dividend_payout_claims DISABLE TRIGGER dividend_payout_claims_append_only",
        "SET session_replication_role = replica",
        "DROP TABLE dividend_payout_claims",
        "TRUNCATE dividend_lines CASCADE",
        "DELETE FROM schema_migrations",
    ],
)
def test_the_application_role_cannot_take_the_guards_away(
    world: World,  # noqa: F811 (the dividends' fixture, imported above)
    pg_server: EmbeddedPostgres,
    db_url: str,
    statement: str,
) -> None:
    station, _household = world.enrolled_village_household(world.villages[0])
    world.feed("2025", {station: 5_000})
    with psycopg.connect(_app_url(pg_server, db_url), autocommit=True) as app:
        row = app.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (APP_ROLE, False)
        # the whole life of a run works as the application role
        run = compute_run(app, period="2025", created_by="clerk")
        approve_run(app, run, approved_by="chief", today=date(2026, 1, 20))
        mark_exported(app, run, by="cashier")
        mark_paid(app, run, by="cashier")
        assert upgrade(app) == []  # checking for migrations needs no ownership
        claims = app.execute("SELECT count(*) FROM dividend_payout_claims").fetchone()
        assert claims == (2,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)
        assert app.execute("SELECT count(*) FROM dividend_payout_claims").fetchone() == claims


def test_the_embedded_server_gives_the_application_its_role() -> None:
    root = Path(tempfile.mkdtemp(prefix="pvmon-test-app-"))
    root.chmod(0o755)  # the server runs as 'postgres' when the tests run as root
    settings = load_settings(data_dir=root / "data", embedded_port=free_port(), timescaledb="off")
    try:
        url = prepare_database(settings)
        assert urlsplit(url).username == APP_ROLE
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles"
                " WHERE rolname = current_user"
            ).fetchone()
            assert row == (APP_ROLE, False, False)
            owned = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                " AND tableowner = current_user"
            ).fetchone()
            assert owned == (0,)
        assert prepare_database(settings) == url  # again: the same role and password
        password = settings.data_dir / "postgres" / "app-password"
        assert password.stat().st_mode & 0o077 == 0
    finally:
        embedded_server(settings).stop()
        shutil.rmtree(root, ignore_errors=True)


def test_pvmon_db_grant_app_lets_the_role_log_in(
    pg_server: EmbeddedPostgres, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pvmon.cli import app

    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    monkeypatch.delenv("PVMON_APP_DB_PASSWORD", raising=False)
    refused = CliRunner().invoke(app, ["db", "grant-app"])
    assert refused.exit_code == 1 and "PVMON_APP_DB_PASSWORD" in refused.output
    done = CliRunner().invoke(app, ["db", "grant-app"], env={"PVMON_APP_DB_PASSWORD": "s3cret"})
    assert done.exit_code == 0 and "role pvmon_app may log in" in done.output, done.output
    parts = urlsplit(db_url)
    url = f"postgresql://{APP_ROLE}:s3cret@{parts.hostname}:{parts.port}{parts.path}"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
