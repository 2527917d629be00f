"""The read-only database role Grafana connects as.

Grafana gets SELECT on the schema's tables and views, nothing else, and no personal data:
not the tables of people (:data:`PERSONAL_TABLES`: households with their names, ID numbers
and bank accounts, their poverty periods, the API keys of staff), and on every other table
only the columns that name no natural person (:func:`personal_column`: station names, which
for household stations carry the owner's name — the dashboards read ``station_labels``
instead —, plan payees' names, the staff who acted, free-text notes); those tables get
column grants made from the catalogue. The grants are applied after migrations (``pvmon
dashboards grant-reader``; docker-compose's ``migrate`` service runs it on every start),
because an init script that runs before the schema exists could only use default privileges,
which would also open the personal-data tables. Running it again is harmless.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from pvmon.errors import DatabaseError

__all__ = ["PERSONAL_TABLES", "READER_ROLE", "grant_reader", "personal_column"]

READER_ROLE = "pvmon_grafana"
PERSONAL_TABLES = ("households", "household_poverty_periods", "api_keys")
_PERSONAL_COLUMNS = {("stations", "name")}
_FREE_TEXT = {"note", "detail", "payee_name", "actor", "source_file"}
#: the alarm notification log: message texts, channel names and delivery errors (which
#: may carry a recipient's address); no dashboard reads it, so Grafana gets none of it
_NOT_SHOWN = ("notifications", "notification_alarms")


def personal_column(table: str, column: str) -> bool:
    """True when ``table.column`` may name a natural person: household members (station
    names, plan payees) or staff (``*_by``, ``actor``), or is free text that may."""
    return (
        table in PERSONAL_TABLES
        or table in _NOT_SHOWN
        or (table, column) in _PERSONAL_COLUMNS
        or column in _FREE_TEXT
        or column.endswith(("_by", "comment"))
    )


_COLUMNS = """
SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position)
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_schema, table_name)
 WHERE c.table_schema = 'public'
 GROUP BY c.table_name
"""


def grant_reader(
    conn: psycopg.Connection, *, role: str = READER_ROLE, password: str | None = None
) -> None:
    """Create ``role`` if needed (LOGIN, read-only by default) and grant it SELECT.

    ``password`` (if given) is set on the role. Grants cover every table and view in
    ``public`` as it is now, minus :data:`PERSONAL_TABLES`, and on tables with a
    :func:`personal_column` only their other columns.
    """
    ident = sql.Identifier(role)
    statements: list[sql.Composed] = [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
            "THEN CREATE ROLE {role} LOGIN; END IF; END $$"
        ).format(name=sql.Literal(role), role=ident),
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident),
    ]
    if password is not None:
        statements.append(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(ident, sql.Literal(password))
        )
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
            for table, columns in conn.execute(_COLUMNS).fetchall():
                closed = [c for c in columns if personal_column(table, c)]
                if not closed:
                    continue
                name = sql.Identifier(table)
                conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, ident))
                conn.execute(sql.SQL("REVOKE SELECT ({}) ON {} FROM {}").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns)), name, ident))  # fmt: skip
                open_ = [c for c in columns if c not in closed]
                if open_ and table not in PERSONAL_TABLES:
                    conn.execute(sql.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                        sql.SQL(", ").join(map(sql.Identifier, open_)), name, ident))  # fmt: skip
    except psycopg.Error as exc:
        raise DatabaseError(f"granting read access to role {role!r} failed: {exc}") from exc
