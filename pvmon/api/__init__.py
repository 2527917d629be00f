"""The HTTP API (FastAPI)."""

from pvmon.api.app import create_app

__all__ = ["create_app"]
