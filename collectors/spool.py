"""A durable local spool for readings the database could not take.

Each batch is one CSV file (no header, :data:`pvmon.db.readings.READING_COLUMNS`
order), written to a temporary name, fsynced and renamed, so a crash never leaves a
half batch. Files are named by a increasing sequence number and replayed oldest first.
Replay goes through the idempotent insert, so a batch replayed twice (a crash between
the insert and the delete) is still stored once.

The spool is bounded: past ``warn_fraction`` of ``max_bytes`` it logs a warning on
every new batch; when full it refuses new batches rather than deleting ones it already
accepted. A batch it cannot keep (full, or the disk failed: ENOSPC, EIO) is dropped and
counted by reason (``on_dropped``: the collector's ``pvmon_readings_dropped_total``),
logged at most once a minute with the count, and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pvmon.errors import PvmonError
from pvmon.logs import Throttled

__all__ = ["Spool", "SpoolError", "SpoolFullError", "SpoolWriteError", "encode_batch"]

log = logging.getLogger(__name__)


class SpoolError(PvmonError):
    """A batch could not be spooled: it was dropped (and counted under ``reason``)."""

    reason = "spool_error"


class SpoolFullError(SpoolError):
    """The spool reached its size limit; the batch was not stored."""

    reason = "spool_full"


class SpoolWriteError(SpoolError):
    """The spool's disk failed (full, read-only, I/O error); the batch was not stored."""

    reason = "disk_error"


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
        self,
        directory: Path,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        warn_fraction: float = 0.8,
        on_dropped: Callable[[str, int], None] | None = None,
        log_every_s: float = 60.0,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.warn_fraction = warn_fraction
        self._on_dropped = on_dropped or (lambda reason, rows: None)
        self._drops = Throttled(log, "readings dropped", every_s=log_every_s)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):
            stale.unlink()  # a batch whose write never finished was never acknowledged
        files = self.files()
        self._next = files[-1].sequence + 1 if files else 1
        self._bytes = sum(f.size for f in files)

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

    @property
    def dropped(self) -> Counter[str]:
        """Readings dropped, by reason."""
        return self._drops.total

    @property
    def dropped_rows(self) -> int:
        """Readings dropped, whatever the reason."""
        return sum(self.dropped.values())

    def put(self, rows: Sequence[Sequence[object]]) -> Path:
        """Store a batch durably; raises :class:`SpoolFullError` when over the limit and
        :class:`SpoolWriteError` when the disk fails (the batch is dropped and counted)."""
        data = encode_batch(rows)
        if self._bytes + len(data) > self.max_bytes:
            error: SpoolError = SpoolFullError(
                f"spool {self.directory} full: {self._bytes} of {self.max_bytes} bytes"
            )
            self.drop(error.reason, len(rows), str(error))
            raise error
        final = self.directory / f"{self._next:012d}.csv"
        temporary = final.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
            self._fsync_directory()
        except OSError as exc:
            with contextlib.suppress(OSError):  # else removed at the next start
                temporary.unlink(missing_ok=True)
            error = SpoolWriteError(f"spool {self.directory}: {exc.strerror or exc}")
            self.drop(error.reason, len(rows), str(error))
            raise error from exc
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

    def drop(self, reason: str, rows: int, detail: str) -> None:
        """Count ``rows`` readings dropped for ``reason``; log at most once a minute."""
        self._on_dropped(reason, rows)
        self._drops.add(reason, rows, detail=detail, level=logging.ERROR)

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
