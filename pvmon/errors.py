"""Typed errors for pvmon, all under one root.

Third-party exceptions are translated at the module boundary that meets them
(``raise PvmonError(...) from exc``), so callers only ever catch ours.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "EmbeddedDatabaseError",
    "ForbiddenError",
    "MigrationError",
    "NotFoundError",
    "PvmonError",
    "ServerBusyError",
    "ValidationError",
    "problem_lines",
]


class PvmonError(Exception):
    """Root of every error pvmon raises on purpose."""


class ConfigError(PvmonError):
    """The settings or the environment cannot work as given."""


class DatabaseError(PvmonError):
    """A database operation failed."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached (down, refused, network)."""


class ServerBusyError(PvmonError):
    """Every database connection (or slot for heavy requests) stayed busy for the short
    wait a request is given: try again shortly (HTTP 503 with Retry-After)."""

    retry_after_s = 1


class EmbeddedDatabaseError(DatabaseError):
    """The embedded PostgreSQL server could not be created, started or stopped."""


class MigrationError(DatabaseError):
    """A schema migration could not be applied or reverted."""


class ForbiddenError(PvmonError):
    """The caller's role or county does not allow this (HTTP 403)."""


class NotFoundError(PvmonError):
    """A named record does not exist."""


class ValidationError(PvmonError):
    """Input was rejected; the message names the record and field.

    ``problems`` holds one entry per rejected field so that a caller can show
    every problem of a file at once instead of only the first one.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        super().__init__(message)


#: the most problems a command prints; the rest are counted
PRINTED_PROBLEMS = 50


def problem_lines(exc: PvmonError, *, limit: int = PRINTED_PROBLEMS) -> list[str]:
    """What a command prints for ``exc``: its message's lines and its further
    ``problems``, at most ``limit`` of them, then how many more there were."""
    problems = getattr(exc, "problems", None) or []
    lines = str(exc).splitlines() or [""]
    known = set(lines)
    lines += [p for p in problems[1:] if p not in known]
    if len(lines) > limit:
        return [*lines[:limit], f"... and {len(lines) - limit:,} more problems"]
    return lines
