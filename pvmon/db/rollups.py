"""Bringing the hourly/daily counter statistics up to date.

On TimescaleDB they are continuous aggregates (refreshed by policy; real-time for
recent rows); on plain PostgreSQL they are tables refreshed from an invalidation log.
Either way, call :func:`refresh_rollups` after writing old data (backfill, a replayed
spool) or before reading results that must include everything just written.

On TimescaleDB an explicit refresh never materialises a bucket that is still open (this
hour, today in China Standard Time): once materialised, a bucket sits below the
aggregate's watermark and the real-time union would ignore every reading written into it
later, freezing "energy today" until the policy refreshed the closed day. Open buckets
stay real-time; the policies materialise them once closed.

Each inverter's final days of energy (before its last day with readings, before today)
are kept in ``energy_days`` (migration 0024): :func:`store_energy` keeps what became final,
:func:`refresh_rollups` calls it after the rollups, and on TimescaleDB forgets what is
kept from where it refreshes, before the refresh and again after it (a keep meanwhile read
the old aggregates); on plain PostgreSQL a trigger on the rollup table forgets.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from pvmon.db.migrate import database_flavour
from pvmon.errors import DatabaseError

__all__ = ["refresh_rollups", "store_energy"]


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
        keeps = _keeps_energy(conn)
        if database_flavour(conn) == "timescaledb":
            if keeps:  # late data from ``start`` on: kept days it may change go first
                conn.execute("SELECT pvmon_forget_energy_since(%s)", (start,))
            for view, closed, first in _closed_windows(conn, start):
                stop = closed if end is None else min(end, closed)
                if first is not None and first >= stop:
                    continue  # nothing closed in the window
                conn.execute(
                    "CALL refresh_continuous_aggregate(%s, %s::timestamptz, %s::timestamptz)",
                    (view, first, stop),
                )
            if keeps:  # and what a keep during the refresh took from the old aggregates
                conn.execute("SELECT pvmon_forget_energy_since(%s)", (start,))
        else:
            conn.execute("SELECT pvmon_refresh_rollups()")
    except psycopg.errors.InsufficientPrivilege:
        return False
    except psycopg.Error as exc:
        raise DatabaseError(f"refreshing energy rollups failed: {exc}") from exc
    if keeps:
        store_energy(conn)
    return True


def _keeps_energy(conn: psycopg.Connection) -> bool:
    """Whether the schema keeps final days of energy (migration 0024 on; a database being
    upgraded step by step may be older)."""
    row = conn.execute("SELECT to_regprocedure('pvmon_store_energy()') IS NOT NULL").fetchone()
    return bool(row and row[0])


def store_energy(conn: psycopg.Connection) -> int:
    """Keep every inverter's days of energy that became final since the last call (the
    energy views then read them instead of computing them); the days kept."""
    try:
        row = conn.execute("SELECT pvmon_store_energy()").fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"keeping final days of energy failed: {exc}") from exc
    return int(row[0]) if row and row[0] is not None else 0


def _closed_windows(
    conn: psycopg.Connection, start: datetime | None
) -> list[tuple[str, datetime, datetime | None]]:
    """Per aggregate: where its open bucket starts (the end of what may be refreshed) and
    ``start`` aligned down to a bucket (a window covers whole buckets)."""
    row = conn.execute(
        """SELECT time_bucket(INTERVAL '1 hour', now()),
                  time_bucket(INTERVAL '1 day', now(), 'Asia/Shanghai'),
                  time_bucket(INTERVAL '1 hour', %(s)s::timestamptz),
                  time_bucket(INTERVAL '1 day', %(s)s::timestamptz, 'Asia/Shanghai')""",
        {"s": start},
    ).fetchone()
    assert row is not None
    return [
        ("readings_hourly", row[0], row[2]),
        ("readings_daily", row[1], row[3]),
    ]
