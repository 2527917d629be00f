"""The notification log in SQL: the alarms the notifier looks at, what it told, what is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from psycopg.rows import dict_row

from collectors.notify.plan import AlarmFact, Outgoing

__all__ = [
    "Pending",
    "alarm_facts",
    "digest_days",
    "lock",
    "pending",
    "record",
    "record_attempt",
    "told",
]

#: the advisory lock that keeps two notifiers from planning the same messages at once
_LOCK = 0x70766D6E6F7469  # "pvmnoti"

_FACTS = """
SELECT a.id, a.kind, s.code AS station, i.serial AS inverter, s.kind AS station_kind,
       v.code AS village, v.name AS village_name, tw.code AS township,
       c.code AS county, c.name AS county_name, a.reason, a.opened_at, a.closed_at,
       a.acknowledged_at
  FROM alarms a
  JOIN stations s ON s.id = a.station_id
  JOIN villages v ON v.id = s.village_id
  JOIN townships tw ON tw.id = v.township_id
  JOIN counties c ON c.id = tw.county_id
  LEFT JOIN inverters i ON i.id = a.inverter_id
 WHERE a.opened_at <= %(now)s AND (a.closed_at IS NULL OR a.closed_at >= %(since)s)
 ORDER BY a.opened_at, a.id
"""


@dataclass(frozen=True)
class Pending:
    """A message due for (another) delivery attempt."""

    id: int
    channel: str
    title: str
    body: str
    attempts: int


def lock(conn: psycopg.Connection) -> None:
    """Hold the notifier's lock until the end of the current transaction."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))


def alarm_facts(conn: psycopg.Connection, *, now: datetime, since: datetime) -> list[AlarmFact]:
    """Alarms opened by ``now`` that are open, or closed since ``since`` [UTC]."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_FACTS, {"now": now, "since": since}).fetchall()
    return [AlarmFact(**r) for r in rows]


def told(conn: psycopg.Connection, alarm_ids: list[int]) -> set[tuple[int, str, str]]:
    """(alarm id, channel, event) of every message made for ``alarm_ids``."""
    rows = conn.execute(
        "SELECT alarm_id, channel, event FROM notification_alarms WHERE alarm_id = ANY(%s)",
        (alarm_ids,),
    ).fetchall()
    return {(int(r[0]), str(r[1]), str(r[2])) for r in rows}


def digest_days(conn: psycopg.Connection, day: date) -> set[tuple[str, date]]:
    """(channel, day) of the digests made for local day ``day``."""
    rows = conn.execute(
        "SELECT channel, digest_day FROM notifications WHERE event = 'digest' AND digest_day = %s",
        (day,),
    ).fetchall()
    return {(str(r[0]), r[1]) for r in rows}


def record(conn: psycopg.Connection, messages: list[Outgoing], *, now: datetime) -> None:
    """Log ``messages`` (made at ``now``) with the alarms each tells of."""
    for m in messages:
        row = conn.execute(
            "INSERT INTO notifications (channel, rule, event, title, body, created_at, due_at,"
            " digest_day) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (m.channel, m.rule, m.event, m.title, m.body, now, m.due_at, m.digest_day),
        ).fetchone()
        assert row is not None
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO notification_alarms (alarm_id, channel, event, notification_id)"
                " VALUES (%s, %s, %s, %s)",
                [(a, m.channel, m.event, row[0]) for a in m.alarm_ids],
            )


def pending(conn: psycopg.Connection, *, now: datetime) -> list[Pending]:
    """Messages due at ``now``: not sent, not given up, and past their retry time."""
    rows = conn.execute(
        "SELECT id, channel, title, body, attempts FROM notifications"
        " WHERE sent_at IS NULL AND failed_at IS NULL AND due_at <= %(now)s"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s) ORDER BY due_at, id",
        {"now": now},
    ).fetchall()
    return [Pending(*r) for r in rows]


def record_attempt(
    conn: psycopg.Connection,
    *,
    notification_id: int,
    at: datetime,
    error: str | None,
    next_attempt_at: datetime | None,
) -> None:
    """Count an attempt at ``at``: sent (``error`` None), retried at ``next_attempt_at``,
    or given up (``error`` and no next attempt). ``error`` holds no secret."""
    conn.execute(
        "UPDATE notifications SET attempts = attempts + 1, last_error = %(error)s,"
        " next_attempt_at = %(next)s,"
        " sent_at = CASE WHEN %(error)s::text IS NULL THEN %(at)s END,"
        " failed_at = CASE WHEN %(error)s::text IS NOT NULL AND %(next)s::timestamptz IS NULL"
        " THEN %(at)s END WHERE id = %(id)s",
        {"error": error, "next": next_attempt_at, "at": at, "id": notification_id},
    )
