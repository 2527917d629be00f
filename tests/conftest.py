"""Test fixtures: one real PostgreSQL server for the whole run, a fresh database per test.

The server is pvmon's own embedded server (the same code path as the product's
default), started in a temporary directory on an ephemeral port and removed at the
end. Databases are cloned from a migrated template per flavour, so each test starts
from the current schema in a few milliseconds. When the machine has TimescaleDB, the
``flavour`` parameter runs database tests on both flavours.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade

# Rich wraps and squeezes what the CLI prints to the terminal's width, 80 columns when
# there is no terminal: a test reading the CLI's output must not depend on how long this
# machine's temporary paths are. Set before any test imports the CLI; subprocesses inherit it.
os.environ["COLUMNS"] = "200"

_counter = itertools.count()
# a test server's data is thrown away: nothing it writes needs to survive a power cut
# (a stopped server still writes everything out), so no fsync and no full-page images
_THROWAWAY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    root = Path(tempfile.mkdtemp(prefix="pvmon-test-pg-"))
    root.chmod(0o755)  # the server may run as 'postgres' when the tests run as root
    # Background jobs (TimescaleDB policies) are off: tests refresh explicitly, and jobs
    # racing schema changes in freshly cloned databases only add noise.
    server = EmbeddedPostgres(
        root_dir=root / "server",
        port=free_port(),
        server_settings={"timescaledb.max_background_workers": "0", **_THROWAWAY},
    )
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _timescaledb_ready(server: EmbeddedPostgres) -> bool:
    with psycopg.connect(server.url("postgres")) as conn:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return bool(row and "timescaledb" in row[0])


_templates: dict[str, str] = {}


def _template(server: EmbeddedPostgres, flavour: str) -> str:
    if flavour in _templates:
        return _templates[flavour]
    name = f"pvmon_template_{flavour}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        upgrade(conn, timescaledb="on" if flavour == "timescaledb" else "off")
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
    _templates[flavour] = name
    return name


def _flavours() -> list[str]:
    return ["postgres", "timescaledb"]


@pytest.fixture(params=_flavours())
def flavour(request: pytest.FixtureRequest, pg_server: EmbeddedPostgres) -> str:
    if request.param == "timescaledb" and not _timescaledb_ready(pg_server):
        pytest.skip("timescaledb extension not installed on this machine")
    return str(request.param)


def new_database(server: EmbeddedPostgres, *, template: str | None = None) -> str:
    """Create a fresh database (optionally from a template) and return its URL."""
    name = f"pvmon_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        if template:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            admin.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture
def empty_db_url(pg_server: EmbeddedPostgres) -> str:
    """A database with nothing in it (for migration tests)."""
    return new_database(pg_server)


@pytest.fixture
def db_url(pg_server: EmbeddedPostgres, flavour: str) -> str:
    """A fresh, fully migrated database of the test's flavour."""
    return new_database(pg_server, template=_template(pg_server, flavour))


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """Autocommit connection to :func:`db_url`."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@contextlib.contextmanager
def stoppable_postgres(*, migrated: bool = False) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of a test's own (started), which the test may stop and start:
    outages. ``migrated``: the plain schema applied."""
    root = Path(tempfile.mkdtemp(prefix="pvmon-own-pg-"))
    root.chmod(0o755)  # the server may run as 'postgres' when the tests run as root
    server = EmbeddedPostgres(
        root_dir=root / "s", port=free_port(), preload_timescaledb=False, server_settings=_THROWAWAY
    )
    server.start()
    try:
        if migrated:
            with psycopg.connect(server.url(), autocommit=True) as conn:
                upgrade(conn, timescaledb="off")
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
