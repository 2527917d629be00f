"""Acknowledging an alarm: the one rule both doors (API and CLI) call."""

from __future__ import annotations

from datetime import datetime

import psycopg

from pvmon.errors import DatabaseError, NotFoundError

__all__ = ["acknowledge"]


def acknowledge(
    conn: psycopg.Connection, *, alarm_id: int, by: str, comment: str, at: datetime | None = None
) -> None:
    """Record that ``by`` acknowledged alarm ``alarm_id`` at ``at`` (default: the database's
    now) with ``comment``; acknowledging again overwrites. An acknowledged alarm is not
    escalated."""
    try:
        cur = conn.execute(
            "UPDATE alarms SET acknowledged_at = coalesce(%s, now()), acknowledged_by = %s,"
            " ack_comment = %s WHERE id = %s",
            (at, by, comment, alarm_id),
        )
    except psycopg.Error as exc:
        raise DatabaseError(f"alarm {alarm_id}: cannot acknowledge ({type(exc).__name__})") from exc
    if cur.rowcount == 0:
        raise NotFoundError(f"alarm {alarm_id}: not found")
