"""FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from pvmon.db.connect import open_database
from pvmon.db.migrate import current_version, database_flavour
from pvmon.errors import DatabaseError

__all__ = ["create_app"]


def create_app(*, database_url: str) -> FastAPI:
    """The pvmon API bound to the database at ``database_url``."""
    app = FastAPI(
        title="pvmon",
        version="0.1.0",
        description="Monitoring and dividends of PV poverty-alleviation stations",
    )

    @app.get("/health", tags=["status"], summary="Liveness and database status")
    def health() -> JSONResponse:
        try:
            with open_database(database_url) as conn:
                body: dict[str, Any] = {
                    "status": "ok",
                    "schema_version": current_version(conn),
                    "flavour": database_flavour(conn),
                }
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM stations), (SELECT count(*) FROM inverters), "
                    "(SELECT count(*) FROM households)"
                ).fetchone()
                assert counts is not None
                body["stations"], body["inverters"], body["households"] = counts
                latest = conn.execute("SELECT max(time) FROM readings").fetchone()
                body["latest_reading"] = latest[0].isoformat() if latest and latest[0] else None
        except DatabaseError as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
        return JSONResponse(body)

    return app
