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
            for view, closed, first in _closed_windows(conn, start):
                stop = closed if end is None else min(end, closed)
                if first is not None and first >= stop:
                    continue  # nothing closed in the window
                conn.execute(
                    "CALL refresh_continuous_aggregate(%s, %s::timestamptz, %s::timestamptz)",
                    (view, first, stop),
                )
        else:
            conn.execute("SELECT pvmon_refresh_rollups()")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False
    except psycopg.Error as exc:
        raise DatabaseError(f"refreshing energy rollups failed: {exc}") from exc


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
