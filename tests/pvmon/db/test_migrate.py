from __future__ import annotations

import psycopg
import pytest

from pvmon.db.migrate import current_version, database_flavour, downgrade, load_migrations, upgrade
from pvmon.errors import MigrationError

_TABLES = ("counties", "stations", "inverters", "households", "readings", "readings_hourly")


def _relations(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')"
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("timescaledb", ["off", "on"])
def test_up_down_up(empty_db_url: str, pg_server, timescaledb: str) -> None:
    from tests.conftest import _timescaledb_ready

    if timescaledb == "on" and not _timescaledb_ready(pg_server):
        pytest.skip("timescaledb extension not installed on this machine")
    newest = load_migrations()[-1].version
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert current_version(conn) == 0
        assert upgrade(conn, timescaledb=timescaledb) == list(range(1, newest + 1))
        assert database_flavour(conn) == ("timescaledb" if timescaledb == "on" else "postgres")
        assert set(_TABLES) <= _relations(conn)
        assert upgrade(conn, timescaledb=timescaledb) == []  # idempotent
        assert downgrade(conn, target=0) == list(range(newest, 0, -1))
        assert current_version(conn) == 0
        assert not set(_TABLES) & _relations(conn)
        assert upgrade(conn, timescaledb=timescaledb) == list(range(1, newest + 1))
        assert current_version(conn) == newest


def test_upgrade_from_every_earlier_version(empty_db_url: str) -> None:
    newest = load_migrations()[-1].version
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for version in range(0, newest + 1):
            downgrade(conn, target=version) if current_version(conn) > version else None
            upgrade(conn, target=version, timescaledb="off")
            assert current_version(conn) == version
            assert upgrade(conn, timescaledb="off") == list(range(version + 1, newest + 1))


def test_upgrade_needs_autocommit(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn, pytest.raises(MigrationError):
        upgrade(conn)


def test_timescaledb_on_without_extension_is_refused(empty_db_url: str, pg_server) -> None:
    from tests.conftest import _timescaledb_ready

    if _timescaledb_ready(pg_server):
        pytest.skip("this machine has timescaledb; the refusal cannot be shown")
    with (
        psycopg.connect(empty_db_url, autocommit=True) as conn,
        pytest.raises(MigrationError, match="timescaledb"),
    ):
        upgrade(conn, timescaledb="on")


def test_timescaledb_objects(db_url: str, flavour: str) -> None:
    if flavour != "timescaledb":
        pytest.skip("TimescaleDB objects only exist on the timescaledb flavour")
    with psycopg.connect(db_url, autocommit=True) as conn:
        hypertables = conn.execute(
            "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables"
        ).fetchall()
        assert ("readings", True) in hypertables
        caggs = {
            r[0]
            for r in conn.execute(
                "SELECT view_name FROM timescaledb_information.continuous_aggregates"
            ).fetchall()
        }
        assert {"readings_hourly", "readings_daily"} <= caggs
        jobs = {
            r[0]
            for r in conn.execute("SELECT proc_name FROM timescaledb_information.jobs").fetchall()
        }
        assert {"policy_compression", "policy_refresh_continuous_aggregate"} <= jobs
        segmentby = conn.execute(
            "SELECT attname FROM timescaledb_information.compression_settings "
            "WHERE hypertable_name = 'readings' AND segmentby_column_index IS NOT NULL"
        ).fetchall()
        assert segmentby == [("inverter_id",)]


def _database_settings(conn: psycopg.Connection) -> list[str]:
    row = conn.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE d.datname = current_database() AND s.setrole = 0"
    ).fetchone()
    return list(row[0]) if row else []


def test_the_database_runs_without_jit(empty_db_url: str) -> None:
    """Every session in a migrated database plans without JIT, whatever the server's
    default (an energy view's estimate would otherwise buy 1.3 s of compilation)."""
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        upgrade(conn, timescaledb="off")
        assert "jit=off" in _database_settings(conn)
        downgrade(conn, target=16)
        assert "jit=off" not in _database_settings(conn)
