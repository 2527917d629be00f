"""Column arrays into a table through binary COPY, formatted by numpy.

The dividend engine writes a province's run as millions of rows of whole numbers, dates,
fixed-point factors and a few short codes. As CSV, each value became text in Python
(pandas) and was parsed again by the server; in PostgreSQL's binary COPY format the
fixed-width values are laid out by numpy at memory speed and the server reads them
without parsing.

A row's text values make its length vary. Rows are grouped by the text values they carry
(a run has a handful of combinations: component, payee kind, policy), each group laid out
as one numpy record type with its text as fixed bytes, and the groups' records scattered
back into row order, so rows are written in the order given. Text columns are meant for
codes with few distinct values: every combination is a record layout of its own.

Supported column types: ``bigint``, ``integer``, ``smallint``, ``boolean``, ``date``,
``text`` and ``numeric(p,s)``; no NULLs. Types come from the table's catalogue entry.

The other way, :func:`read_int_columns` reads a query's whole-number columns through
binary COPY: every row then has the same layout, so numpy reads the rows as records
without parsing text (the server formats no numbers either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from pvmon.errors import DatabaseError

__all__ = [
    "COPY_HEADER",
    "COPY_TRAILER",
    "QUICK_STATISTICS_TARGET",
    "Coded",
    "Scaled",
    "analyze_grown",
    "copy_columns",
    "quick_analyze",
    "read_int_columns",
]

# binary COPY: a signature, flags and header-extension length; then per row a field
# count and per field its length and big-endian value; -1 as the trailer
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
COPY_TRAILER = np.array([-1], dtype=">i2").tobytes()
_FIXED = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2", "boolean": "u1", "date": ">i4"}
_EPOCH = np.datetime64("2000-01-01", "D")
_NUMERIC_POSITIVE, _NUMERIC_NEGATIVE = 0x0000, 0x4000


@dataclass(frozen=True)
class Scaled:
    """A ``numeric`` column given exactly: ``values`` [integers] are the numbers times
    ``10**scale`` (``Scaled(np.array([936]), 1)`` is 93.6)."""

    values: npt.NDArray[np.int64]
    scale: int


@dataclass(frozen=True)
class Coded:
    """A ``text`` column given as codes: row ``i`` holds ``labels[codes[i]]`` (no
    string per row is made or compared)."""

    codes: npt.NDArray[np.integer]
    labels: Sequence[str] | npt.NDArray[np.object_]


def _types(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _numeric_scale(kind: str) -> int:
    inside = kind[kind.index("(") + 1 : kind.index(")")] if "(" in kind else ""
    if "," not in inside:
        raise DatabaseError(f"binary COPY needs numeric with a scale, not {kind}")
    return int(inside.split(",")[1])


def _scaled(value: object, scale: int, rows: int) -> npt.NDArray[np.int64]:
    """The column as integers times ``10**scale``; floats round to the nearest."""
    if isinstance(value, Scaled):
        shift = scale - value.scale
        if shift < 0:
            raise DatabaseError(f"numeric of scale {value.scale} into a column of scale {scale}")
        return np.asarray(value.values, dtype=np.int64) * 10**shift
    array = np.broadcast_to(np.asarray(value), (rows,))
    if array.dtype.kind == "f":
        return np.rint(array * 10.0**scale).astype(np.int64)
    return array.astype(np.int64) * 10**scale


def _numeric_fields(scaled: npt.NDArray[np.int64], scale: int) -> list[tuple[str, object]]:
    """Binary ``numeric``: digit count, weight, sign, display scale, then base-10000
    digits, here a fixed number of them (leading and trailing zeros are allowed)."""
    frac_groups = -(-scale // 4)
    magnitude = np.abs(scaled)
    whole, frac = np.divmod(magnitude, 10**scale)
    frac = frac * 10 ** (4 * frac_groups - scale)
    top = int(whole.max()) if whole.size else 0
    int_groups = 1
    while top >= 10_000**int_groups:
        int_groups += 1
    digits = [(whole // 10_000**k) % 10_000 for k in reversed(range(int_groups))]
    digits += [(frac // 10_000**k) % 10_000 for k in reversed(range(frac_groups))]
    sign = np.where(scaled < 0, _NUMERIC_NEGATIVE, _NUMERIC_POSITIVE)
    head: list[tuple[str, object]] = [
        ("len", 8 + 2 * len(digits)),
        ("ndigits", len(digits)),
        ("weight", int_groups - 1),
        ("sign", sign),
        ("dscale", scale),
    ]
    return head + [(f"d{i}", d) for i, d in enumerate(digits)]


def _prepared(kind: str, value: object, rows: int) -> object:
    """One non-text column as its wire values: numerics as scaled integers, dates as days
    since 2000-01-01; an array of ``rows`` values or one value for all."""
    if kind.startswith("numeric"):
        return _scaled(value, _numeric_scale(kind), rows)
    if kind not in _FIXED:
        raise DatabaseError(f"binary COPY: no support for columns of type {kind}")
    if kind == "date":
        day = value if isinstance(value, np.ndarray) else np.datetime64(str(value), "D")
        return (np.asarray(day, dtype="datetime64[D]") - _EPOCH).astype(np.int64)
    return value


def _field_values(kind: str, value: object) -> list[tuple[str, str, object]]:
    """(suffix, wire dtype, values) of one prepared non-text column's field, length first."""
    if kind.startswith("numeric"):
        fields = _numeric_fields(np.asarray(value, dtype=np.int64), _numeric_scale(kind))
        return [(name, ">i4" if name == "len" else ">i2", v) for name, v in fields]
    wire = _FIXED[kind]
    return [("len", ">i4", np.dtype(wire).itemsize), ("v", wire, value)]


def _text_codes(value: object, rows: int) -> tuple[list[bytes], npt.NDArray[np.int64]]:
    if isinstance(value, Coded):
        codes = np.asarray(value.codes, dtype=np.int64)
        if codes.size != rows:
            raise DatabaseError(f"a coded column has {codes.size} rows, not {rows}")
        if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= len(value.labels)):
            raise DatabaseError("a coded column's codes point outside its labels")
        return [str(label).encode() for label in value.labels], codes
    if not isinstance(value, np.ndarray):
        return [str(value).encode()], np.zeros(rows, dtype=np.int64)
    labels, codes = np.unique(np.asarray(value, dtype=object).astype(str), return_inverse=True)
    return [str(label).encode() for label in labels], codes.astype(np.int64)


def _chunk(
    columns: list[str],
    kinds: Mapping[str, str],
    values: Mapping[str, object],
    texts: Mapping[str, tuple[list[bytes], npt.NDArray[np.int64]]],
    start: int,
    stop: int,
) -> bytes:
    """Rows ``start``..``stop`` in binary COPY format, in order."""
    rows = stop - start

    def part(value: object) -> object:
        return value[start:stop] if isinstance(value, np.ndarray) else value

    fixed = {c: _field_values(kinds[c], part(values[c])) for c in columns if c not in texts}
    combos, group = _combinations(texts, start, stop)
    records: list[memoryview] = []
    sizes: list[int] = []
    rank = np.zeros(rows, dtype=np.int64)  # each row's place among its combination's rows
    for g, combo in enumerate(combos):
        text = {c: texts[c][0][code] for c, code in zip(texts, combo, strict=True)}
        layout: list[tuple[str, str]] = [("fields", ">i2")]
        for column in columns:
            if column in text:
                layout.append((f"{column}__len", ">i4"))
                if text[column]:
                    layout.append((column, f"S{len(text[column])}"))
            else:
                layout += [(f"{column}__{s}", w) for s, w, _ in fixed[column]]
        members = np.flatnonzero(group == g)
        rank[members] = np.arange(members.size)
        record = np.empty(members.size, dtype=np.dtype(layout))
        record["fields"] = len(columns)
        for column, value in text.items():
            record[f"{column}__len"] = len(value)
            if value:
                record[column] = value
        for column, fields in fixed.items():
            for suffix, _wire, v in fields:
                record[f"{column}__{suffix}"] = v[members] if isinstance(v, np.ndarray) else v
        records.append(memoryview(record.tobytes()))
        sizes.append(record.dtype.itemsize)
    # rows in order: each run of consecutive rows of one combination is a slice of that
    # combination's records (a handful of runs as a rule; one per row at worst)
    firsts = np.flatnonzero(np.diff(group, prepend=-1))
    lasts = np.append(firsts[1:], rows)
    pieces = []
    for g, at, first, last in zip(group[firsts].tolist(), rank[firsts].tolist(),
                                  firsts.tolist(), lasts.tolist(), strict=True):  # fmt: skip
        pieces.append(records[g][at * sizes[g] : (at + last - first) * sizes[g]])
    return b"".join(pieces)


def _combinations(
    texts: Mapping[str, tuple[list[bytes], npt.NDArray[np.int64]]], start: int, stop: int
) -> tuple[list[tuple[int, ...]], npt.NDArray[np.int64]]:
    """The combinations of text codes among rows ``start``..``stop`` (each a tuple of one
    code per text column) and each row's combination: the codes read as the digits of one
    number, whose distinct values are the combinations."""
    key = np.zeros(stop - start, dtype=np.int64)
    if np.prod([float(max(len(labels), 1)) for labels, _ in texts.values()]) >= 2.0**62:
        raise DatabaseError("binary COPY: too many combinations of text values")
    for labels, codes in texts.values():
        key = key * max(len(labels), 1) + codes[start:stop]
    distinct, group = np.unique(key, return_inverse=True)
    if not texts:
        return [()], group.reshape(-1)
    combos = []
    for value in distinct.tolist():
        combo = []
        for labels, _codes in reversed(list(texts.values())):
            value, code = divmod(value, max(len(labels), 1))
            combo.append(code)
        combos.append(tuple(reversed(combo)))
    return combos, group.reshape(-1)


def copy_columns(
    conn: psycopg.Connection,
    table: str,
    values: Mapping[str, object],
    *,
    chunk_rows: int = 20_000,
) -> int:
    """COPY ``values`` (column name to an array of one value per row, a :class:`Scaled`,
    or one value for every row) into ``table`` in binary; returns the rows written.
    Memory is bounded by ``chunk_rows`` rows at a time."""
    kinds = _types(conn, table)
    columns = list(values)
    unknown = [c for c in columns if c not in kinds]
    if unknown:
        raise DatabaseError(f"{table} has no column(s) {', '.join(unknown)}")
    arrays = [
        v.values if isinstance(v, Scaled) else v.codes if isinstance(v, Coded) else v
        for v in values.values()
    ]
    lengths = {len(a) for a in arrays if isinstance(a, np.ndarray)}
    if len(lengths) > 1:
        raise DatabaseError(f"columns for {table} differ in length: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    texts = {c: _text_codes(values[c], rows) for c in columns if kinds[c] == "text"}
    prepared = {c: _prepared(kinds[c], values[c], rows) for c in columns if c not in texts}
    with conn.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
    ) as copy:
        copy.write(COPY_HEADER)
        for start in range(0, rows, chunk_rows):
            stop = min(rows, start + chunk_rows)
            copy.write(_chunk(columns, kinds, prepared, texts, start, stop))
        copy.write(COPY_TRAILER)
    return rows


def analyze_grown(
    conn: psycopg.Connection, table: str, *, written: int, columns: Sequence[str] = ()
) -> bool:
    """ANALYZE ``table`` when ``written`` rows are a fifth or more of what its statistics
    say it holds (or it was never analysed); returns whether it did.

    Statistics taken before a bulk write say a run's rows are not there (a province's
    first run: "1 row" of a million), and the statements after it in the same transaction
    pick plans for one row; autovacuum only looks after the commit. ANALYZE samples a
    bounded number of rows, and sees this transaction's own. Given ``columns`` (those that
    queries look rows up or join by), only their statistics are taken: the row count is
    renewed all the same, and a county's run spends a tenth of the time on it (a table's
    every text and number column sorted and counted is most of an ANALYZE). The sample is
    small (:func:`quick_analyze`)."""
    row = conn.execute(
        "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,)
    ).fetchone()
    known = float(row[0]) if row else -1.0
    if known >= 0 and written < 0.2 * max(known, 1_000.0):
        return False
    quick_analyze(conn, table, columns)
    return True


#: ANALYZE inside a bulk write samples 300 x this many rows (PostgreSQL's default target
#: is 100: 30,000 rows), enough for the row count and the key columns' spread that the
#: statements after it plan by; autovacuum's next ANALYZE of the table takes full ones
QUICK_STATISTICS_TARGET = 10


def quick_analyze(conn: psycopg.Connection, table: str, columns: Sequence[str] = ()) -> None:
    """ANALYZE ``table`` (only ``columns`` when given; the row count is renewed all the
    same) on a small sample: a county's run spent 20 ms on its ANALYZEs against 118 ms
    with the default sample. Inside a transaction the smaller sample holds for the rest of it
    (only ANALYZE reads the setting)."""
    which = sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.transaction():
        conn.execute(
            sql.SQL("SET LOCAL default_statistics_target = {}").format(
                sql.Literal(QUICK_STATISTICS_TARGET)
            )
        )
        conn.execute(
            sql.SQL("ANALYZE {}{}").format(sql.Identifier(table), which if columns else sql.SQL(""))
        )


# binary COPY field types a query's integer columns arrive as (type OID: wire dtype)
_INT_WIRE = {20: ">i8", 23: ">i4", 21: ">i2", 16: "u1"}
_READ_CHUNK = 16 << 20


def read_int_columns(
    conn: psycopg.Connection, query: str, params: Mapping[str, object] | None = None
) -> dict[str, npt.NDArray[np.integer]]:
    """The columns of ``query`` as numpy arrays (name to array, in the query's order),
    read through binary COPY. Every column must be ``bigint``, ``integer``, ``smallint``
    or ``boolean`` and never NULL (``coalesce`` in the query); text is sent as codes.
    Rows are read a bounded chunk at a time."""
    probe = conn.execute(f"SELECT * FROM ({query}) AS q LIMIT 0", params)
    described = probe.description or []
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for i, column in enumerate(described):
        wire = _INT_WIRE.get(int(column.type_code))
        if wire is None:
            raise DatabaseError(f"binary read: column {column.name} is not a whole number")
        layout += [(f"len{i}", ">i4"), (f"v{i}", wire)]
    record = np.dtype(layout)
    wires = [wire for _, wire in layout[2::2]]
    columns: list[list[npt.NDArray[np.integer]]] = [[] for _ in described]

    def take(data: bytes) -> None:
        """Rows of whole records into the columns, their framing checked."""
        if len(data) % record.itemsize:
            raise DatabaseError("binary read: rows do not match the columns (a NULL?)")
        rows = np.frombuffer(data, dtype=record)
        bad = rows["fields"] != len(described)
        for i, wire in enumerate(wires):
            bad |= rows[f"len{i}"] != np.dtype(wire).itemsize
        if bad.any():
            raise DatabaseError("binary read: rows do not match the columns (a NULL?)")
        for i, wire in enumerate(wires):
            columns[i].append(rows[f"v{i}"].astype(np.dtype(wire).newbyteorder("=")))

    pending = bytearray()
    started = False
    with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT binary)", params) as copy:
        for chunk in copy:
            pending += chunk
            if not started and len(pending) >= len(COPY_HEADER):
                if bytes(pending[: len(COPY_HEADER)]) != COPY_HEADER:
                    raise DatabaseError("binary read: unexpected COPY header")
                del pending[: len(COPY_HEADER)]
                started = True
            if started and len(pending) >= _READ_CHUNK:
                whole = len(pending) // record.itemsize * record.itemsize
                take(bytes(pending[:whole]))
                del pending[:whole]
    if not started or bytes(pending[-len(COPY_TRAILER) :]) != COPY_TRAILER:
        raise DatabaseError("binary read: the COPY stream ended early")
    take(bytes(pending[: -len(COPY_TRAILER)]))
    return {
        column.name: np.concatenate(parts) if len(parts) > 1 else parts[0]
        for column, parts in zip(described, columns, strict=True)
    }
