"""A durable local spool for readings the database could not take.

Each batch is one CSV file (no header, :data:`pvmon.db.readings.READING_COLUMNS`
order), written to a temporary name, fsynced and renamed, so a crash never leaves a
half batch. Files are named by a increasing sequence number and replayed oldest first.
Replay goes through the idempotent insert, so a batch replayed twice (a crash between
the insert and the delete) is still stored once.

The spool is bounded: past ``warn_fraction`` of ``max_bytes`` it logs a warning on
every new batch; when full it refuses new batches (logging how many readings were
dropped) rather than deleting ones it already accepted.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pvmon.errors import PvmonError

__all__ = ["Spool", "SpoolFullError", "encode_batch"]

log = logging.getLogger(__name__)


class SpoolFullError(PvmonError):
    """The spool reached its size limit; the batch was not stored."""


def encode_batch(rows: Sequence[Sequence[object]]) -> bytes:
    """CSV bytes for COPY ... WITH (FORMAT csv): None → empty (NULL), dicts → JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(
            ""
            if v is None
            else json.dumps(v, sort_keys=True)
            if isinstance(v, dict)
            else v.isoformat()
            if hasattr(v, "isoformat")
            else v
            for v in row
        )
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    sequence: int
    size: int


class Spool:
    """Batches on disk under ``directory``, at most ``max_bytes`` in all."""

    def __init__(
        self, directory: Path, *, max_bytes: int = 512 * 1024 * 1024, warn_fraction: float = 0.8
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.warn_fraction = warn_fraction
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):
            stale.unlink()  # a batch whose write never finished was never acknowledged
        files = self.files()
        self._next = files[-1].sequence + 1 if files else 1
        self._bytes = sum(f.size for f in files)
        self.dropped_rows = 0

    def files(self) -> list[SpoolFile]:
        """Spooled batches, oldest first."""
        found = []
        for path in self.directory.glob("*.csv"):
            try:
                found.append(SpoolFile(path, int(path.stem), path.stat().st_size))
            except (ValueError, FileNotFoundError):
                continue
        return sorted(found, key=lambda f: f.sequence)

    @property
    def depth_bytes(self) -> int:
        return self._bytes

    @property
    def depth_batches(self) -> int:
        return len(self.files())

    def put(self, rows: Sequence[Sequence[object]]) -> Path:
        """Store a batch durably; raises :class:`SpoolFullError` when over the limit."""
        data = encode_batch(rows)
        if self._bytes + len(data) > self.max_bytes:
            self.dropped_rows += len(rows)
            log.error(
                "spool %s is full (%d of %d bytes): %d readings dropped so far",
                self.directory,
                self._bytes,
                self.max_bytes,
                self.dropped_rows,
            )
            raise SpoolFullError(f"spool full: {self._bytes} of {self.max_bytes} bytes")
        final = self.directory / f"{self._next:012d}.csv"
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        self._fsync_directory()
        self._next += 1
        self._bytes += len(data)
        if self._bytes >= self.warn_fraction * self.max_bytes:
            log.warning(
                "spool %s is %.0f%% full (%d of %d bytes); the database has been "
                "unreachable for a while",
                self.directory,
                100 * self._bytes / self.max_bytes,
                self._bytes,
                self.max_bytes,
            )
        return final

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def pending(self) -> Iterator[tuple[SpoolFile, bytes]]:
        """Batches to replay, oldest first, with their CSV bytes."""
        for spooled in self.files():
            try:
                yield spooled, spooled.path.read_bytes()
            except FileNotFoundError:
                continue

    def done(self, spooled: SpoolFile) -> None:
        """Forget a batch the database has stored."""
        spooled.path.unlink(missing_ok=True)
        self._bytes = max(self._bytes - spooled.size, 0)
