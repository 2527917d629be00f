"""Database edge: connections, the embedded server, migrations, readings storage."""

from pvmon.db.connect import connect, database_url, open_database

__all__ = ["connect", "database_url", "open_database"]
