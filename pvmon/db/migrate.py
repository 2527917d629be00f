"""Versioned schema migrations: ordered SQL files with an up and a down side.

Files live in ``pvmon/db/migrations`` and are named ``NNNN_name.up.sql`` and
``NNNN_name.down.sql``. A migration that differs between plain PostgreSQL and
TimescaleDB has flavoured files instead (``NNNN_name.up.postgres.sql`` and
``NNNN_name.up.timescaledb.sql``, likewise for down). The flavour of a database is
chosen once, when its first migration runs, and kept in ``pvmon_meta``.

Each migration runs in its own transaction under an advisory lock, so two
processes migrating at once apply each step once. A line
``-- pvmon:after-commit <statement>`` in a migration names a statement that cannot run
in a transaction (TimescaleDB's ``refresh_continuous_aggregate``); it runs right after
the migration commits, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import psycopg

from pvmon.errors import MigrationError

__all__ = [
    "Flavour",
    "Migration",
    "current_version",
    "database_flavour",
    "downgrade",
    "load_migrations",
    "upgrade",
]

Flavour = Literal["postgres", "timescaledb"]
_FILE = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.(?P<side>up|down)"
    r"(?:\.(?P<flavour>postgres|timescaledb))?\.sql$"
)
_LOCK_KEY = 0x70766D6F6E  # "pvmon"
_AFTER_COMMIT = re.compile(r"^-- pvmon:after-commit (?P<statement>.+?);?\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    """One schema step; ``up``/``down`` map a flavour to its SQL."""

    version: int
    name: str
    up: dict[str, str]
    down: dict[str, str]

    def after_commit(self, side: Literal["up", "down"], flavour: Flavour) -> list[str]:
        """Statements to run once ``side`` has committed (outside its transaction)."""
        return [m["statement"] for m in _AFTER_COMMIT.finditer(self.sql(side, flavour))]

    def sql(self, side: Literal["up", "down"], flavour: Flavour) -> str:
        scripts = self.up if side == "up" else self.down
        if flavour in scripts:
            return scripts[flavour]
        if "any" in scripts:
            return scripts["any"]
        raise MigrationError(
            f"migration {self.version:04d}_{self.name} has no {side} for {flavour}"
        )


def load_migrations() -> list[Migration]:
    """All migrations shipped with pvmon, in version order."""
    found: dict[int, dict[str, object]] = {}
    folder = resources.files("pvmon.db") / "migrations"
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        version = int(match["version"])
        slot = found.setdefault(version, {"name": match["name"], "up": {}, "down": {}})
        if slot["name"] != match["name"]:
            raise MigrationError(f"two names for migration {version:04d}")
        side = slot[match["side"]]
        assert isinstance(side, dict)
        side[match["flavour"] or "any"] = entry.read_text(encoding="utf-8")
    migrations = []
    for version in sorted(found):
        slot = found[version]
        up, down = slot["up"], slot["down"]
        assert isinstance(up, dict) and isinstance(down, dict)
        if not up or not down:
            raise MigrationError(f"migration {version:04d} lacks an up or a down side")
        migrations.append(Migration(version, str(slot["name"]), up, down))
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise MigrationError("migration versions must be 1..N without holes")
    return migrations


def _ensure_bookkeeping(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT to_regclass('pvmon_meta') IS NOT NULL AND to_regclass('schema_migrations')"
        " IS NOT NULL"
    ).fetchone()
    if row and row[0]:
        return  # nothing to create (and a role without CREATE may check for upgrades)
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS pvmon_meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def _timescaledb_loadable(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if not row or not row[0]:
        return False
    preload = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    return bool(preload and "timescaledb" in preload[0])


def database_flavour(conn: psycopg.Connection) -> Flavour | None:
    """The flavour recorded for this database, or None before the first migration."""
    exists = conn.execute("SELECT to_regclass('pvmon_meta')").fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute("SELECT value FROM pvmon_meta WHERE key = 'flavour'").fetchone()
    return row[0] if row else None


def _choose_flavour(conn: psycopg.Connection, timescaledb: str) -> Flavour:
    recorded = database_flavour(conn)
    if recorded is not None:
        return recorded
    loadable = _timescaledb_loadable(conn)
    if timescaledb == "on" and not loadable:
        raise MigrationError(
            "PVMON_TIMESCALEDB=on but the server has no loadable timescaledb extension "
            "(install it and add it to shared_preload_libraries)"
        )
    flavour: Flavour = "timescaledb" if (timescaledb != "off" and loadable) else "postgres"
    conn.execute("INSERT INTO pvmon_meta (key, value) VALUES ('flavour', %s)", (flavour,))
    return flavour


def current_version(conn: psycopg.Connection) -> int:
    """Highest applied migration version (0 for an empty database)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def _after_commit(
    conn: psycopg.Connection,
    migration: Migration,
    side: Literal["up", "down"],
    flavour: Flavour,
) -> None:
    for statement in migration.after_commit(side, flavour):
        conn.execute(statement.encode())


def upgrade(
    conn: psycopg.Connection, *, target: int | None = None, timescaledb: str = "auto"
) -> list[int]:
    """Apply pending migrations up to ``target`` (default: the newest); returns versions run.

    ``conn`` must be in autocommit mode; each step gets its own transaction.
    """
    if not conn.autocommit:
        raise MigrationError("upgrade needs an autocommit connection")
    migrations = load_migrations()
    target = migrations[-1].version if target is None else target
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        _ensure_bookkeeping(conn)
        flavour = _choose_flavour(conn, timescaledb)
    for migration in migrations:
        if migration.version > target:
            break
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if migration.version <= current_version(conn):
                    continue
                conn.execute(migration.sql("up", flavour))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            _after_commit(conn, migration, "up", flavour)
        except psycopg.Error as exc:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} ({flavour}) failed: {exc}"
            ) from exc
        applied.append(migration.version)
    return applied


def downgrade(conn: psycopg.Connection, *, target: int) -> list[int]:
    """Revert applied migrations above ``target``, newest first; returns versions reverted."""
    if not conn.autocommit:
        raise MigrationError("downgrade needs an autocommit connection")
    flavour = database_flavour(conn) or "postgres"
    reverted: list[int] = []
    for migration in reversed(load_migrations()):
        if migration.version <= target:
            break
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if migration.version > current_version(conn):
                    continue
                conn.execute(migration.sql("down", flavour))
                conn.execute(
                    "DELETE FROM schema_migrations WHERE version = %s", (migration.version,)
                )
            _after_commit(conn, migration, "down", flavour)
        except psycopg.Error as exc:
            raise MigrationError(
                f"reverting {migration.version:04d}_{migration.name} ({flavour}) failed: {exc}"
            ) from exc
        reverted.append(migration.version)
    return reverted
