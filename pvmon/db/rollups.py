"""Bringing the hourly/daily counter statistics up to date.

On TimescaleDB they are continuous aggregates (refreshed by policy; real-time for
recent rows); on plain PostgreSQL they are tables refreshed from an invalidation log.
Either way, call :func:`refresh_rollups` after writing old data (backfill, a replayed
spool) or before reading results that must include everything just written.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from pvmon.db.migrate import database_flavour
from pvmon.errors import DatabaseError

__all__ = ["refresh_rollups"]


def refresh_rollups(
    conn: psycopg.Connection, *, start: datetime | None = None, end: datetime | None = None
) -> bool:
    """Recompute invalidated buckets between ``start`` and ``end`` (default: all); False
    when skipped: on TimescaleDB only the aggregates' owner refreshes them, and the
    application role leaves it to the refresh policy (real-time aggregation covers what
    is recent).

    ``conn`` must be in autocommit mode (TimescaleDB's refresh cannot run in a transaction).
    """
    if not conn.autocommit:
        raise DatabaseError("refresh_rollups needs an autocommit connection")
    try:
        if database_flavour(conn) == "timescaledb":
            for view in ("readings_hourly", "readings_daily"):
                conn.execute(
                    "CALL refresh_continuous_aggregate(%s, %s::timestamptz, %s::timestamptz)",
                    (view, start, end),
                )
        else:
            conn.execute("SELECT pvmon_refresh_rollups()")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False
    except psycopg.Error as exc:
        raise DatabaseError(f"refreshing energy rollups failed: {exc}") from exc
