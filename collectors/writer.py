"""The collector's writer: batches readings into the database, spooling when it is down.

Readings are buffered and written in batches through the idempotent COPY path. If the
database cannot be reached the batch goes to the durable :class:`~collectors.spool.Spool`;
while anything is spooled, new batches are spooled behind it so order is kept, and a
flush first replays the spool, oldest first. Nothing is lost (the spool is durable) and
nothing is doubled (inserts ignore an existing (inverter, time)).

Database calls are synchronous psycopg in a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from collectors.spool import Spool, SpoolError, SpoolWriteError, encode_batch
from pvmon.db.connect import KeptConnection
from pvmon.db.readings import READING_COLUMNS, write_readings, write_readings_csv
from pvmon.errors import DatabaseError, DatabaseUnavailableError
from pvmon.quality import Quality

__all__ = ["ReadingWriter", "WriterStats"]

log = logging.getLogger(__name__)
_QUALITY = READING_COLUMNS.index("quality")


@dataclass
class WriterStats:
    rows_written: int = 0
    rows_spooled: int = 0
    rows_replayed: int = 0
    rows_rejected: int = 0
    batches_failed: int = 0


class ReadingWriter:
    """Buffer, write, spool and replay readings for one collector."""

    def __init__(
        self,
        *,
        url: str,
        spool: Spool,
        batch_rows: int = 5000,
        flush_rows: int = 1000,
        max_age_s: float = 5.0,
        retry_after_s: float = 5.0,
        on_rows_written: Callable[[int], None] | None = None,
    ) -> None:
        self.url = url
        self.spool = spool
        self.batch_rows = batch_rows
        self.flush_rows = flush_rows
        self.max_age_s = max_age_s
        self._waiting_since: float | None = None  # when due() first saw rows buffered
        self.retry_after_s = retry_after_s
        self.stats = WriterStats()
        self._buffer: list[Sequence[object]] = []
        self._db = KeptConnection(url)
        self._down_until = 0.0
        self._lock = asyncio.Lock()
        self._on_rows_written = on_rows_written or (lambda n: None)

    def add(self, rows: Sequence[Sequence[object]]) -> None:
        """Queue readings (tuples in READING_COLUMNS order) for the next flush."""
        self._buffer.extend(rows)

    def add_one(self, row: Sequence[object]) -> None:
        """Queue one reading (the collector's hot path)."""
        self._buffer.append(row)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def due(self) -> bool:
        """Whether a scheduled flush should write now: ``flush_rows`` buffered, rows
        buffered for about ``max_age_s`` [s], or a spool to replay.

        A flush costs about a millisecond of client CPU whatever its size (a transaction
        and four statements), then some microseconds per row: at a slow schedule a flush
        every second would write a few dozen rows at several times the cost per row.
        """
        if self.spool.depth_bytes or len(self._buffer) >= self.flush_rows:
            return True
        if not self._buffer:
            self._waiting_since = None
            return False
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since >= self.max_age_s - 1.0  # checked every second

    async def flush(self) -> None:
        """Write what is buffered (replaying the spool first); never raises for a DB outage."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            self._waiting_since = None
            if batch or self.spool.depth_bytes:  # nothing to write: no thread hop
                await asyncio.to_thread(self._flush_sync, batch)

    def _flush_sync(self, batch: list[Sequence[object]]) -> None:
        healthy = time.monotonic() >= self._down_until
        if healthy and self.spool.depth_bytes:
            healthy = self._replay()
        for start in range(0, len(batch), self.batch_rows):
            chunk = batch[start : start + self.batch_rows]
            if healthy and not self.spool.depth_bytes:
                healthy = self._write(chunk)
                if healthy:
                    continue
            self._to_spool(chunk)

    def _write(self, chunk: Sequence[Sequence[object]]) -> bool:
        try:
            written = write_readings(self._db.get(), chunk)
        except DatabaseUnavailableError as exc:
            self._outage(exc)
            return False
        except DatabaseError as exc:
            self._reject(encode_batch(chunk), len(chunk), exc)
            return True
        self.stats.rows_written += written
        self._on_rows_written(written)
        return True

    def _outage(self, exc: Exception) -> None:
        self.stats.batches_failed += 1
        if time.monotonic() >= self._down_until:
            log.warning("database unavailable, spooling readings: %s", exc)
        self._down_until = time.monotonic() + self.retry_after_s
        self._db.drop()

    def _reject(self, data: bytes, rows: int, exc: Exception) -> None:
        """A batch the database refuses for its content: kept aside, never retried blindly."""
        rejected = self.spool.directory / "rejected"
        path = rejected / f"{int(time.time() * 1000)}.csv"
        try:
            rejected.mkdir(exist_ok=True)
            path.write_bytes(data)
        except OSError as io_error:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            lost = SpoolWriteError(f"rejected readings not kept: {io_error.strerror or io_error}")
            self.spool.drop(lost.reason, rows, f"{lost} (rejected for: {exc})")
            return
        self.stats.rows_rejected += rows
        log.error("database rejected %d readings (kept in %s): %s", rows, path, exc)

    def _to_spool(self, chunk: Sequence[Sequence[object]]) -> None:
        flag = int(Quality.REPLAYED)
        marked = [
            (*row[:_QUALITY], int(row[_QUALITY]) | flag, *row[_QUALITY + 1 :])  # type: ignore[call-overload]
            for row in chunk
        ]
        try:
            self.spool.put(marked)
            self.stats.rows_spooled += len(chunk)
        except SpoolError:
            pass  # counted and logged by the spool

    def _replay(self) -> bool:
        """Write spooled batches oldest first; False if the database went away again."""
        for spooled, data in self.spool.pending():
            try:
                written = write_readings_csv(self._db.get(), columns=READING_COLUMNS, chunks=[data])
            except DatabaseUnavailableError as exc:
                self._outage(exc)
                return False
            except DatabaseError as exc:
                self._reject(data, data.count(b"\n"), exc)
                self.spool.done(spooled)
                continue
            self.spool.done(spooled)
            self.stats.rows_replayed += written
            self._on_rows_written(written)
        log.info("spool replayed; %d readings replayed in all", self.stats.rows_replayed)
        return True

    def close(self) -> None:
        self._db.drop()
