"""Connections to PostgreSQL, with psycopg errors translated to pvmon's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from pvmon.db.embedded import EmbeddedPostgres
from pvmon.errors import DatabaseError, DatabaseUnavailableError
from pvmon.settings import Settings

__all__ = [
    "APP_ROLE",
    "KeptConnection",
    "connect",
    "database_url",
    "embedded_server",
    "enable_app_role",
    "open_database",
    "prepare_database",
]

#: the role the application connects as on the embedded server (migration 0012)
APP_ROLE = "pvmon_app"


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server described by ``settings`` (not started)."""
    return EmbeddedPostgres(
        root_dir=settings.data_dir / "postgres",
        port=settings.embedded_port,
        bin_dir=settings.postgres_bin_dir,
        preload_timescaledb=None if settings.timescaledb != "off" else False,
    )


def database_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The owner's URL, for migrations and administration: ``PVMON_OWNER_DATABASE_URL``,
    else ``PVMON_DATABASE_URL``, else the embedded server's superuser (started if asked).
    The application itself connects with :func:`prepare_database`'s URL."""
    if settings.owner_database_url is not None:
        return settings.owner_database_url.get_secret_value()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    server = embedded_server(settings)
    if start_embedded:
        server.start()
    return server.url()


def enable_app_role(conn: psycopg.Connection, password: str, *, role: str = APP_ROLE) -> None:
    """Let the application role (created by migration 0012) log in with ``password``;
    ``conn`` is the owner's (or a superuser's)."""
    if not password:
        raise DatabaseError(f"role {role}: an empty password is refused")
    try:
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    except psycopg.Error as exc:
        raise DatabaseError(f"enabling the application role {role} failed") from exc


def prepare_database(settings: Settings) -> str:
    """Bring the schema up to date as its owner and return the URL the application
    connects with: ``PVMON_DATABASE_URL``, or on the embedded server the
    :data:`APP_ROLE`, which owns no table (so it cannot disable the triggers that freeze
    approved runs and keep claims and history append-only)."""
    from pvmon.db.migrate import upgrade

    owner = database_url(settings)
    with open_database(owner, autocommit=True) as conn:
        upgrade(conn, timescaledb=settings.timescaledb)
        if settings.database_url is not None:
            return settings.database_url.get_secret_value()
        server = embedded_server(settings)
        enable_app_role(conn, server.app_password)
    return server.app_url(APP_ROLE)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection; an unreachable server raises :class:`DatabaseUnavailableError`."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot connect to the database: {exc}") from exc


@contextmanager
def open_database(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """``with open_database(url) as conn``: commit on success, roll back on error, close."""
    conn = connect(url, autocommit=autocommit)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


class KeptConnection:
    """An autocommit connection opened on first use and kept between uses (a service's
    periodic writes); :meth:`drop` closes it after an error, and the next use reconnects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        """The kept connection (opened now if there is none or it was closed)."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, autocommit=True)
        return self._conn

    def drop(self) -> None:
        """Close the connection, ignoring errors (it is usually broken already)."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
