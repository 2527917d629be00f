"""The read-only database role Grafana connects as.

Grafana gets SELECT on the schema's tables and views, nothing else, and no access to
personal data (``households``, ``household_poverty_periods``: names, ID numbers, bank
accounts). The grants are applied after migrations (``pvmon dashboards grant-reader``;
docker-compose's ``migrate`` service runs it on every start), because an init script
that runs before the schema exists could only use default privileges, which would also
open the personal-data tables. Running it again is harmless.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from pvmon.errors import DatabaseError

__all__ = ["PERSONAL_TABLES", "READER_ROLE", "grant_reader"]

READER_ROLE = "pvmon_grafana"
PERSONAL_TABLES = ("households", "household_poverty_periods")


def grant_reader(
    conn: psycopg.Connection, *, role: str = READER_ROLE, password: str | None = None
) -> None:
    """Create ``role`` if needed (LOGIN, read-only by default) and grant it SELECT.

    ``password`` (if given) is set on the role. Grants cover every table and view in
    ``public`` as it is now, minus :data:`PERSONAL_TABLES`.
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
        sql.SQL("REVOKE ALL ON {} FROM {}").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in PERSONAL_TABLES), ident
        ),
    ]
    if password is not None:
        statements.append(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(ident, sql.Literal(password))
        )
    try:
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
    except psycopg.Error as exc:
        raise DatabaseError(f"granting read access to role {role!r} failed: {exc}") from exc
