"""API keys and access: hashed keys, roles, the county limit.

A key is ``pvk_`` followed by a random URL-safe token; only its SHA-256 hash is stored
(a 256-bit random token needs no slow hash). Each key has one role and optionally one
county it is limited to. Roles are not a ladder: what each can do is spelled out in
:data:`ACCESS`, and every route declares which access it needs.

=========  =====================================================================
role       can
=========  =====================================================================
viewer     read the operators' data (fleet, stations, series, alarms, registry)
operator   viewer + acknowledge alarms
finance    viewer + the finance endpoints (personal data unmasked), create and
           approve runs (never their own)
admin      everything, including registry import (all-county keys only) and edits
=========  =====================================================================

Each accepted key records when it was last used (``api_keys.last_used_at``), at most once
per :data:`LAST_USED_RESOLUTION`: authentication reads the stored time with the key and
writes only when it is older than that, so a busy key costs one small update a minute,
not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import psycopg

from pvmon.errors import ForbiddenError, NotFoundError, PvmonError, ValidationError

__all__ = [
    "ACCESS",
    "KEY_PREFIX",
    "LAST_USED_RESOLUTION",
    "ROLES",
    "Access",
    "AuthError",
    "ForbiddenError",
    "KeyInfo",
    "Principal",
    "Role",
    "authenticate",
    "create_key",
    "ensure_demo_key",
    "hash_key",
    "list_keys",
    "revoke_key",
]

Role = Literal["viewer", "operator", "finance", "admin"]
Access = Literal["read", "operate", "finance", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "finance", "admin")
KEY_PREFIX = "pvk_"
#: ``last_used_at`` is written when the stored time is older than this
LAST_USED_RESOLUTION = timedelta(minutes=1)
_log = logging.getLogger(__name__)

#: which roles have each access
ACCESS: dict[Access, frozenset[str]] = {
    "read": frozenset(ROLES),
    "operate": frozenset({"operator", "admin"}),
    "finance": frozenset({"finance", "admin"}),
    "admin": frozenset({"admin"}),
}
_REVEAL = frozenset({"finance", "admin"})


class AuthError(PvmonError):
    """No key, or a key that is unknown or revoked (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name, role and county limit (None: every county)."""

    key_id: int
    name: str
    role: str
    county_id: int | None
    county_code: str | None

    @property
    def reveals_personal_data(self) -> bool:
        """True when the role sees ID numbers, bank accounts and names unmasked."""
        return self.role in _REVEAL

    def allows(self, access: Access) -> bool:
        """True when the role has ``access``."""
        return self.role in ACCESS[access]

    def require(self, access: Access) -> None:
        """Raise :class:`ForbiddenError` unless the role has ``access``."""
        if not self.allows(access):
            raise ForbiddenError(f"role {self.role!r} does not have {access!r} access")

    def require_county(self, county_id: int | None, what: str) -> None:
        """Raise :class:`ForbiddenError` when the key is limited to another county."""
        if self.county_id is not None and county_id != self.county_id:
            raise ForbiddenError(f"{what} is outside county {self.county_code!r} of this key")


@dataclass(frozen=True)
class KeyInfo:
    """A stored key without its secret."""

    id: int
    name: str
    role: str
    county_code: str | None
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = None


def hash_key(plain: str) -> str:
    """SHA-256 hex digest of a plain key."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def _new_plain() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _county_id(conn: psycopg.Connection, code: str | None) -> int | None:
    if code is None:
        return None
    row = conn.execute("SELECT id FROM counties WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise NotFoundError(f"county {code!r}: not found")
    return int(row[0])


def _check(name: str, role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"key {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
    if not name or len(name) > 64 or not all(c.isalnum() or c in "_.@-" for c in name):
        raise ValidationError(f"key name {name!r}: 1-64 letters, digits or _.@-")


def create_key(
    conn: psycopg.Connection, *, name: str, role: str, county: str | None = None
) -> tuple[KeyInfo, str]:
    """Create a key; returns its record and the plain key (shown once, never stored)."""
    _check(name, role)
    plain = _new_plain()
    county_id = _county_id(conn, county)
    try:
        row = conn.execute(
            """INSERT INTO api_keys (name, role, county_id, key_prefix, key_hash)
               VALUES (%s, %s, %s, %s, %s) RETURNING id, created_at""",
            (name, role, county_id, plain[:10], hash_key(plain)),
        ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise ValidationError(f"key {name!r}: a key with this name exists") from exc
    assert row is not None
    return KeyInfo(int(row[0]), name, role, county, plain[:10], row[1], None), plain


def list_keys(conn: psycopg.Connection, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key (without secrets), oldest first."""
    rows = conn.execute(
        """SELECT k.id, k.name, k.role, c.code, k.key_prefix, k.created_at, k.revoked_at,
                  k.last_used_at
             FROM api_keys k LEFT JOIN counties c ON c.id = k.county_id
            WHERE %s OR k.revoked_at IS NULL ORDER BY k.id""",
        (include_revoked,),
    ).fetchall()
    return [KeyInfo(*row) for row in rows]


def revoke_key(conn: psycopg.Connection, name: str) -> None:
    """Revoke the key called ``name`` (kept for the record, no longer accepted)."""
    cur = conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
    )
    if cur.rowcount == 0:
        raise NotFoundError(f"key {name!r}: no active key with this name")


def authenticate(conn: psycopg.Connection, plain: str | None) -> Principal:
    """The principal of a plain key; :class:`AuthError` when missing, unknown or revoked.

    Records the use in ``last_used_at`` when the stored time is missing or older than
    :data:`LAST_USED_RESOLUTION` (see :func:`_touch`).
    """
    if not plain:
        raise AuthError("an API key is required (header X-API-Key or Authorization: Bearer)")
    if not plain.startswith(KEY_PREFIX) or len(plain) > 200:
        raise AuthError("the API key is not valid")
    row = conn.execute(
        """SELECT k.id, k.name, k.role, k.county_id, c.code,
                  k.last_used_at IS NULL OR k.last_used_at < now() - %s
             FROM api_keys k LEFT JOIN counties c ON c.id = k.county_id
            WHERE k.key_hash = %s AND k.revoked_at IS NULL""",
        (LAST_USED_RESOLUTION, hash_key(plain)),
    ).fetchone()
    if row is None:
        raise AuthError("the API key is not valid or was revoked")
    if row[5]:
        _touch(conn, int(row[0]))
    return Principal(int(row[0]), row[1], row[2], row[3], row[4])


def _touch(conn: psycopg.Connection, key_id: int) -> None:
    """Set the key's ``last_used_at`` to now, unless another request just did or is
    doing so (a locked row is skipped, never waited for).

    Its own (sub)transaction: committed at once on the API's autocommit connections, a
    savepoint inside a caller's transaction. Best effort: a failure (a read-only
    standby, say) is logged and the request goes on.
    """
    try:
        with conn.transaction():
            conn.execute(
                """UPDATE api_keys SET last_used_at = now()
                    WHERE id = (SELECT id FROM api_keys WHERE id = %s
                                   AND (last_used_at IS NULL OR last_used_at < now() - %s)
                                   FOR UPDATE SKIP LOCKED)""",
                (key_id, LAST_USED_RESOLUTION),
            )
    except psycopg.Error as exc:
        _log.warning("could not record the use of API key %s: %s", key_id, exc)


def ensure_demo_key(conn: psycopg.Connection, *, name: str = "demo") -> str:
    """Create, or rotate, the ``admin`` key called ``name``; returns the new plain key.

    Rotating replaces the stored hash, so a key printed by an earlier run stops working.
    """
    plain = _new_plain()
    conn.execute(
        """INSERT INTO api_keys (name, role, key_prefix, key_hash) VALUES (%s, 'admin', %s, %s)
           ON CONFLICT (name) DO UPDATE SET role = 'admin', county_id = NULL,
               key_prefix = EXCLUDED.key_prefix, key_hash = EXCLUDED.key_hash,
               created_at = now(), revoked_at = NULL""",
        (name, plain[:10], hash_key(plain)),
    )
    return plain
