"""The registry as the collector last read it, kept on disk so it can start in any weather.

After every successful read of the registry the collector writes what it read (the
inverters with their endpoints and maps, the endpoint options, the database flavour and
schema version) to a JSON file in its data directory, atomically. When the database
cannot be reached at start, the collector polls from that file and spools; when the
database returns and its registry differs, the collector reloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from pvmon.db.migrate import current_version
from pvmon.errors import ConfigError

__all__ = [
    "RegistryView",
    "load_snapshot",
    "read_registry",
    "registry_digest",
    "save_snapshot",
]

_FORMAT = 1
# the columns load_targets builds targets from (health columns are the last two but one)
_REGISTRY_SQL = """
    SELECT i.id, i.serial, s.id, s.village_id, i.unit_id, i.rated_ac_w, i.register_map,
           i.phases, s.latitude, s.longitude, i.host, i.port, i.framing, h.last_energy_wh,
           h.last_good_at, i.poll_interval_s
      FROM inverters i JOIN stations s ON s.id = i.station_id
      LEFT JOIN inverter_health h ON h.inverter_id = i.id
     ORDER BY i.host, i.port, i.unit_id
"""
_HEALTH = (13, 14)  # last_energy_wh, last_good_at: change with every poll, not the registry
# What the fingerprint covers, summed up by the server: the collector's minutely check of
# an unchanged registry reads one value instead of every inverter (a county's 17,000 rows
# hashed in Python cost a tenth of its CPU). Jsonb's text is canonical (keys sorted).
_DIGEST_SQL = """
    SELECT md5(coalesce(string_agg(
               (i.id, i.serial, s.id, s.village_id, i.unit_id, i.rated_ac_w, i.register_map,
                i.phases, s.latitude, s.longitude, i.host, i.port, i.framing, i.poll_interval_s,
                i.endpoint_options)::text, ',' ORDER BY i.id), ''))
      FROM inverters i JOIN stations s ON s.id = i.station_id
"""


@dataclass(frozen=True)
class RegistryView:
    """What the collector polls: one row per inverter (see ``_REGISTRY_SQL``), the
    merged ``endpoint_options`` per ``host:port``, the flavour and schema version."""

    rows: list[tuple[Any, ...]]
    options: dict[tuple[str, int], dict[str, Any]]
    flavour: str
    schema_version: int
    taken_at: datetime
    # what the collector learned per endpoint: setting -> (value, why); not part of the
    # fingerprint (learning something is no reason to reload the registry)
    learned: dict[tuple[str, int], dict[str, tuple[Any, str]]] = field(default_factory=dict)
    # the server's digest of the registry when read (:func:`registry_digest`); "" when
    # unknown (a view from the snapshot)
    digest: str = ""

    @property
    def fingerprint(self) -> str:
        """Changes when the registry does (not when health does)."""
        digest = hashlib.sha256()
        for row in self.rows:
            kept = [v for i, v in enumerate(row) if i not in _HEALTH]
            digest.update(json.dumps(kept, default=str).encode())
        for (host, port), options in sorted(self.options.items()):
            digest.update(json.dumps([host, port, options], sort_keys=True).encode())
        return digest.hexdigest()


def registry_digest(conn: psycopg.Connection) -> str:
    """A digest of everything the registry's fingerprint covers, computed by the server:
    equal digests, equal registries (a different one: read the registry again)."""
    row = conn.execute(_DIGEST_SQL).fetchone()
    return str(row[0]) if row else ""


def read_registry(conn: psycopg.Connection, *, taken_at: datetime) -> RegistryView:
    """The registry as the collector needs it, and its digest, read in one transaction."""
    with conn.transaction():
        digest = registry_digest(conn)
        rows = [tuple(r) for r in conn.execute(_REGISTRY_SQL).fetchall()]
        options: dict[tuple[str, int], dict[str, Any]] = {}
        for host, port, given in conn.execute(
            "SELECT host, port, endpoint_options FROM inverters ORDER BY id"
        ):
            options.setdefault((host, port), {}).update(given or {})
        flavour = conn.execute("SELECT value FROM pvmon_meta WHERE key = 'flavour'").fetchone()
        version = current_version(conn)
        learned: dict[tuple[str, int], dict[str, tuple[Any, str]]] = {}
        for host, port, setting, value, why in conn.execute(
            "SELECT host, port, setting, value, why FROM endpoint_learned"
        ):
            learned.setdefault((host, port), {})[setting] = (value, why)
    return RegistryView(
        rows, options, flavour[0] if flavour else "postgres", version, taken_at, learned, digest
    )


def save_snapshot(view: RegistryView, path: Path) -> None:
    """Write ``view`` to ``path`` atomically (a temporary file, fsynced, renamed)."""
    document = {
        "format": _FORMAT,
        "taken_at": view.taken_at.isoformat(),
        "flavour": view.flavour,
        "schema_version": view.schema_version,
        "options": [[host, port, options] for (host, port), options in view.options.items()],
        "learned": [
            [host, port, setting, value, why]
            for (host, port), settings in view.learned.items()
            for setting, (value, why) in settings.items()
        ],
        "rows": [
            [v.isoformat() if isinstance(v, datetime) else v for v in row] for row in view.rows
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(document, handle, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def load_snapshot(path: Path, *, schema_version: int) -> RegistryView:
    """The view saved at ``path``; :class:`ConfigError` saying what to do when there is
    none, it cannot be read, or it was written for another schema version."""
    hint = "start the collector once while the database is reachable"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no registry snapshot at {path}: {hint}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"the registry snapshot at {path} cannot be read ({exc}): {hint}"
        ) from exc
    try:
        if document["format"] != _FORMAT or document["schema_version"] != schema_version:
            raise ConfigError(
                f"the registry snapshot at {path} was written for schema version "
                f"{document['schema_version']}, this pvmon has {schema_version}: {hint}"
            )
        rows = []
        for row in document["rows"]:
            row = list(row)
            if row[14] is not None:
                row[14] = datetime.fromisoformat(row[14])
            rows.append(tuple(row))
        learned: dict[tuple[str, int], dict[str, tuple[Any, str]]] = {}
        for host, port, setting, value, why in document.get("learned", []):
            learned.setdefault((str(host), int(port)), {})[str(setting)] = (value, str(why))
        return RegistryView(
            rows=rows,
            options={(h, int(p)): dict(o) for h, p, o in document["options"]},
            flavour=str(document["flavour"]),
            schema_version=int(document["schema_version"]),
            taken_at=datetime.fromisoformat(document["taken_at"]),
            learned=learned,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"the registry snapshot at {path} is damaged ({exc}): {hint}") from exc
