"""Writing readings: COPY, idempotently.

This is the one write path for readings (collectors, the spool replay and the
simulator backfill all use it). A reading already stored for (inverter, time) is
left as it is, so replaying the same batch twice stores it once. A collector's batch is
almost always all new: it is copied straight into ``readings`` in binary (the speed of
a bare COPY), and only a batch that holds a stored reading is copied again into a
staging table and inserted from there, skipping what is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from pvmon.db.bulkcopy import COPY_HEADER, COPY_TRAILER
from pvmon.errors import DatabaseError, DatabaseUnavailableError

__all__ = [
    "READING_COLUMNS",
    "Reading",
    "binary_reading_rows",
    "write_readings",
    "write_readings_binary",
    "write_readings_csv",
]


class Reading(NamedTuple):
    """One row of ``readings``; units as the names say. ``None`` is stored as NULL."""

    time: datetime
    inverter_id: int
    ac_power_w: float | None = None
    energy_wh: int | None = None
    dc_power_w: float | None = None
    ac_voltage_a_v: float | None = None
    ac_voltage_b_v: float | None = None
    ac_voltage_c_v: float | None = None
    ac_current_a_a: float | None = None
    ac_current_b_a: float | None = None
    ac_current_c_a: float | None = None
    frequency_hz: float | None = None
    temperature_c: float | None = None
    state: int | None = None
    event_code: int | None = None
    quality: int = 0
    device_clock_offset_s: float | None = None
    raw: dict[str, object] | None = None


READING_COLUMNS: tuple[str, ...] = Reading._fields
_COLUMN_LIST = ", ".join(READING_COLUMNS)
_STAGE = "pvmon_readings_stage"


def _rows(readings: Iterable[Sequence[object]]) -> Iterable[Sequence[object]]:
    raw_index = READING_COLUMNS.index("raw")
    for reading in readings:
        raw = reading[raw_index]
        if raw is None:
            yield reading
        else:
            row = list(reading)
            row[raw_index] = Jsonb(raw)
            yield row


def _staged_insert(
    conn: psycopg.Connection,
    columns: Sequence[str],
    fill: Callable[[psycopg.Copy], None],
    *,
    copy_options: str = "",
) -> int:
    """COPY rows into the staging table with ``fill``, then insert the new ones."""
    column_list = ", ".join(columns)
    try:
        with conn.transaction():
            conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
                f"(LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with conn.cursor() as cur:
                with cur.copy(f"COPY {_STAGE} ({column_list}) FROM STDIN {copy_options}") as copy:
                    fill(copy)
                cur.execute(
                    f"INSERT INTO readings ({_COLUMN_LIST}) "
                    f"SELECT {_COLUMN_LIST} FROM {_STAGE} "
                    f"ON CONFLICT (inverter_id, time) DO NOTHING"
                )
                inserted = cur.rowcount
            conn.execute(f"TRUNCATE {_STAGE}")
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"writing readings failed: {exc}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"writing readings failed: {exc}") from exc
    return max(inserted, 0)


def _copy_new(conn: psycopg.Connection, rows: Sequence[Sequence[object]]) -> int | None:
    """COPY ``rows`` straight into ``readings`` (binary); None, with nothing written, if
    one of them is stored already."""
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint in the caller's
            with cur.copy(f"COPY readings ({_COLUMN_LIST}) FROM STDIN (FORMAT binary)") as copy:
                copy.set_types([_PG_TYPES[c] for c in READING_COLUMNS])
                for row in rows:
                    copy.write_row(row)
            return max(cur.rowcount, 0)
    except psycopg.errors.UniqueViolation:
        return None
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"writing readings failed: {exc}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"writing readings failed: {exc}") from exc


def write_readings(conn: psycopg.Connection, readings: Iterable[Sequence[object]]) -> int:
    """Store ``readings`` (tuples in :data:`READING_COLUMNS` order) once each.

    Runs in the caller's transaction (or its own, on an autocommit connection).
    Returns how many rows were new.
    """
    rows = list(_rows(readings))
    if not rows:
        return 0
    written = _copy_new(conn, rows)
    if written is not None:
        return written

    def fill(copy: psycopg.Copy) -> None:
        for row in rows:
            copy.write_row(row)

    return _staged_insert(conn, READING_COLUMNS, fill)


def write_readings_csv(
    conn: psycopg.Connection, *, columns: Sequence[str], chunks: Iterable[bytes]
) -> int:
    """Store readings given as CSV text (no header) in ``columns`` order, once each.

    The set-based path for bulk loads (simulated history): rows are formatted in
    bulk (e.g. by pandas) instead of one Python tuple at a time. Returns new rows.
    """
    unknown = set(columns) - set(READING_COLUMNS)
    if unknown:
        raise DatabaseError(f"unknown reading columns {sorted(unknown)}")

    def fill(copy: psycopg.Copy) -> None:
        for chunk in chunks:
            copy.write(chunk)

    return _staged_insert(conn, columns, fill, copy_options="WITH (FORMAT csv)")


# PostgreSQL type of each column of ``readings`` (migration 0002), and the wire format of
# the fixed-width ones in binary COPY: timestamptz is microseconds since 2000-01-01 UTC.
_PG_TYPES: dict[str, str] = {
    "time": "timestamptz",
    "inverter_id": "int8",
    "ac_power_w": "float4",
    "energy_wh": "int8",
    "dc_power_w": "float4",
    "ac_voltage_a_v": "float4",
    "ac_voltage_b_v": "float4",
    "ac_voltage_c_v": "float4",
    "ac_current_a_a": "float4",
    "ac_current_b_a": "float4",
    "ac_current_c_a": "float4",
    "frequency_hz": "float4",
    "temperature_c": "float4",
    "state": "int2",
    "event_code": "int8",
    "quality": "int4",
    "device_clock_offset_s": "float4",
    "raw": "jsonb",
}
_WIRE = {"timestamptz": ">i8", "int8": ">i8", "float4": ">f4", "int2": ">i2", "int4": ">i4"}
_BINARY_TYPES: dict[str, str] = {c: _WIRE[t] for c, t in _PG_TYPES.items() if t in _WIRE}
_PG_EPOCH = np.datetime64("2000-01-01T00:00:00", "us")


def binary_reading_rows(columns: Sequence[str], values: Mapping[str, object], rows: int) -> bytes:
    """``rows`` readings as rows of PostgreSQL's binary COPY format (no header).

    ``values`` maps each of ``columns`` to an array of ``rows`` values or one value for
    all; ``time`` is ``datetime64`` in UTC. No NULLs, and ``raw`` is not supported: the
    path for bulk loads of complete rows (simulated history), formatted by numpy at
    memory speed instead of as text.
    """
    unknown = [c for c in columns if c not in _BINARY_TYPES]
    if unknown:
        raise DatabaseError(f"columns without a binary COPY type: {unknown}")
    layout = [("fields", ">i2")]
    for column in columns:
        layout += [(f"{column}__len", ">i4"), (column, _BINARY_TYPES[column])]
    out = np.empty(rows, dtype=np.dtype(layout))
    out["fields"] = len(columns)
    for column in columns:
        out[f"{column}__len"] = np.dtype(_BINARY_TYPES[column]).itemsize
        value = values[column]
        if column == "time":
            value = (np.asarray(value, dtype="datetime64[us]") - _PG_EPOCH).astype(np.int64)
        out[column] = value
    return out.tobytes()


def write_readings_binary(
    conn: psycopg.Connection, *, columns: Sequence[str], chunks: Iterable[bytes]
) -> int:
    """Store readings given as binary COPY rows (:func:`binary_reading_rows`) in
    ``columns`` order, once each, through the same staging insert. Returns new rows."""

    def fill(copy: psycopg.Copy) -> None:
        copy.write(COPY_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        copy.write(COPY_TRAILER)

    return _staged_insert(conn, columns, fill, copy_options="WITH (FORMAT binary)")
