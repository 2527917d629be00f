"""Connections to PostgreSQL, with psycopg errors translated to pvmon's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from pvmon.db.embedded import EmbeddedPostgres
from pvmon.errors import DatabaseUnavailableError
from pvmon.settings import Settings

__all__ = ["KeptConnection", "connect", "database_url", "embedded_server", "open_database"]


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server described by ``settings`` (not started)."""
    return EmbeddedPostgres(
        root_dir=settings.data_dir / "postgres",
        port=settings.embedded_port,
        bin_dir=settings.postgres_bin_dir,
        preload_timescaledb=None if settings.timescaledb != "off" else False,
    )


def database_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The URL to use: ``PVMON_DATABASE_URL`` or the embedded server's (started if asked)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    server = embedded_server(settings)
    if start_embedded:
        server.start()
    return server.url()


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
