"""Binary COPY from column arrays: every supported type reads back as written, rows in the
order given across text combinations and chunks; what it cannot write is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvmon.db import bulkcopy
from pvmon.db.bulkcopy import (
    QUICK_STATISTICS_TARGET,
    Coded,
    Scaled,
    analyze_grown,
    copy_columns,
    read_int_columns,
)
from pvmon.errors import DatabaseError

_TABLE = """
CREATE TABLE bulk (
    ord bigint, small smallint, mid integer, flag boolean, day date, code text, label text,
    factor numeric(12, 9), weight numeric(14, 6), money numeric(20, 2)
)
"""


@pytest.fixture
def empty(empty_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(_TABLE)
        yield conn


def _back(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM bulk ORDER BY ord").fetchall()


def test_every_type_reads_back_in_the_order_given(empty: psycopg.Connection) -> None:
    rows = 7
    written = copy_columns(
        empty,
        "bulk",
        {
            "ord": np.arange(rows, dtype=np.int64),
            "small": np.array([0, -1, 1, 32767, -32768, 5, 6], dtype=np.int64),
            "mid": 2_000_000_000,
            "flag": np.array([True, False] * 3 + [True]),
            "day": "2025-03-01",
            "code": np.array(["household", "collective", "", "村集体", "a", "a", "b"], object),
            "label": "pro_rata_carry_forward",
            "factor": np.array([0.0, 1.0, 0.123456789, 0.5, 999.999999999, 2e-9, 0.1]),
            "weight": Scaled(np.array([936, 0, 1, 999_999_999, 123456789, 5, 100_000]), 1),
            "money": Scaled(np.array([-1, 0, 1, -123456789, 10**17, 99, -100]), 2),
        },
        chunk_rows=3,
    )
    assert written == rows
    back = _back(empty)
    assert [r[0] for r in back] == list(range(rows))
    assert [r[1] for r in back] == [0, -1, 1, 32767, -32768, 5, 6]
    assert {r[2] for r in back} == {2_000_000_000}
    assert [r[3] for r in back] == [True, False] * 3 + [True]
    assert {r[4] for r in back} == {date(2025, 3, 1)}
    assert [r[5] for r in back] == ["household", "collective", "", "村集体", "a", "a", "b"]
    assert {r[6] for r in back} == {"pro_rata_carry_forward"}
    assert [r[7] for r in back] == [
        Decimal(v)
        for v in (
            "0E-9",
            "1.000000000",
            "0.123456789",
            "0.500000000",
            "999.999999999",
            "2E-9",
            "0.100000000",
        )
    ]
    assert [r[8] for r in back] == [
        Decimal("93.6"),
        Decimal(0),
        Decimal("0.1"),
        Decimal("99999999.9"),
        Decimal("12345678.9"),
        Decimal("0.5"),
        Decimal(10_000),
    ]
    assert [r[9] for r in back] == [
        Decimal("-0.01"),
        Decimal(0),
        Decimal("0.01"),
        Decimal("-1234567.89"),
        Decimal(10**15),
        Decimal("0.99"),
        Decimal("-1.00"),
    ]


@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.sampled_from(["x", "yy", "", "村"]),
            st.integers(-(10**12), 10**12),
        ),
        max_size=60,
    ),
    st.integers(1, 9),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_property_binary_copy_is_what_text_would_store(
    empty: psycopg.Connection, rows: list[tuple[int, str, int]], chunk: int
) -> None:
    empty.execute("TRUNCATE bulk")
    copy_columns(
        empty,
        "bulk",
        {
            "ord": np.arange(len(rows), dtype=np.int64),
            "mid": np.array([r[0] % 1000 for r in rows], dtype=np.int64),
            "code": np.array([r[1] for r in rows], dtype=object),
            "money": Scaled(np.array([r[2] for r in rows], dtype=np.int64), 2),
            "weight": np.array([r[0] for r in rows], dtype=np.int64) % 10**7,
        },
        chunk_rows=chunk,
    )
    back = empty.execute("SELECT mid, code, money, weight FROM bulk ORDER BY ord").fetchall()
    assert back == [
        (r[0] % 1000, r[1], Decimal(r[2]).scaleb(-2), Decimal(r[0] % 10**7)) for r in rows
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": np.arange(2)}, "bulk has no column"),
        ({"ord": np.arange(2), "mid": np.arange(3)}, "differ in length"),
        ({"money": Scaled(np.arange(2), 3)}, "numeric of scale 3 into a column of scale 2"),
        ({"ord": np.arange(2), "code": Coded(np.array([0, 2]), ["a", "b"])}, "outside its labels"),
        ({"ord": np.arange(2), "code": Coded(np.array([0]), ["a"])}, "differ in length"),
    ],
)
def test_what_cannot_be_written_is_refused(
    empty: psycopg.Connection, values: dict[str, object], message: str
) -> None:
    with pytest.raises(DatabaseError, match=message):
        copy_columns(empty, "bulk", values)
    assert _back(empty) == []


def test_statistics_are_refreshed_only_after_a_large_write(empty: psycopg.Connection) -> None:
    def rows() -> float:
        row = empty.execute("SELECT reltuples FROM pg_class WHERE relname = 'bulk'").fetchone()
        return float(row[0]) if row else -2.0

    assert rows() == -1  # never analysed: any write refreshes
    copy_columns(empty, "bulk", {"ord": np.arange(10_000, dtype=np.int64)})
    assert analyze_grown(empty, "bulk", written=10_000)
    assert rows() == 10_000
    copy_columns(empty, "bulk", {"ord": np.arange(100, dtype=np.int64)})
    assert not analyze_grown(empty, "bulk", written=100)  # a small share: left to autovacuum
    assert rows() == 10_000
    copy_columns(empty, "bulk", {"ord": np.arange(5_000, dtype=np.int64)})
    assert analyze_grown(empty, "bulk", written=5_000)
    assert rows() == 15_100


def test_statistics_of_named_columns_only_renew_the_row_count(
    empty: psycopg.Connection,
) -> None:
    copy_columns(empty, "bulk", {"ord": np.arange(3_000, dtype=np.int64), "code": "a", "mid": 7})
    assert analyze_grown(empty, "bulk", written=3_000, columns=("ord", "code"))
    row = empty.execute("SELECT reltuples FROM pg_class WHERE relname = 'bulk'").fetchone()
    assert row is not None and row[0] == 3_000
    stats = empty.execute(
        "SELECT attname FROM pg_stats WHERE tablename = 'bulk' ORDER BY attname"
    ).fetchall()
    assert [name for (name,) in stats] == ["code", "ord"]


def test_coded_text_reads_back_as_its_labels(empty: psycopg.Connection) -> None:
    labels = np.array(["household", "村集体", ""], dtype=object)
    codes = np.array([1, 0, 2, 1, 0])
    copy_columns(empty, "bulk", {"ord": np.arange(5), "code": Coded(codes, labels)}, chunk_rows=2)
    assert [r[5] for r in _back(empty)] == ["村集体", "household", "", "村集体", "household"]


@pytest.mark.parametrize("chunk", [16 << 20, 40])  # one read, and rows across many chunks
def test_integer_columns_read_back_as_stored(
    empty: psycopg.Connection, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulkcopy, "_READ_CHUNK", chunk)
    query = """
        SELECT g::bigint AS id, (g - 50)::int AS mid, (-g)::smallint AS small,
               (g %% 2 = 0) AS even, (g * 10000000000)::bigint AS big
          FROM generate_series(1, %(n)s) g ORDER BY g"""
    got = read_int_columns(empty, query, {"n": 1000})
    assert list(got) == ["id", "mid", "small", "even", "big"]
    n = np.arange(1, 1001)
    assert got["id"].tolist() == n.tolist() and got["id"].dtype == np.int64
    assert got["mid"].tolist() == (n - 50).tolist() and got["mid"].dtype == np.int32
    assert got["small"].tolist() == (-n).tolist() and got["small"].dtype == np.int16
    assert got["even"].tolist() == (n % 2 == 0).astype(int).tolist()
    assert got["big"].tolist() == (n * 10**10).tolist()
    empty_result = read_int_columns(empty, query, {"n": 0})
    assert [a.size for a in empty_result.values()] == [0] * 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1::bigint AS a, 'x'::text AS b", "column b is not a whole number"),
        ("SELECT 1.5::numeric AS a", "column a is not a whole number"),
        ("SELECT g::bigint AS a, NULLIF(g, 2)::bigint AS b FROM generate_series(1, 3) g",
         "rows do not match the columns"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_as_integers_is_refused(
    empty: psycopg.Connection, query: str, message: str
) -> None:
    with pytest.raises(DatabaseError, match=message):
        read_int_columns(empty, query)


def test_statistics_in_a_bulk_write_take_a_small_sample(empty: psycopg.Connection) -> None:
    """analyze_grown samples few rows (autovacuum takes full statistics after the commit):
    the row count is exact, the histogram coarse; the session's own setting is kept."""
    copy_columns(empty, "bulk", {"ord": np.arange(20_000, dtype=np.int64)})
    assert analyze_grown(empty, "bulk", written=20_000, columns=("ord",))
    row = empty.execute(
        "SELECT c.reltuples, array_length(s.histogram_bounds::text::bigint[], 1)"
        " FROM pg_class c JOIN pg_stats s ON s.tablename = c.relname AND s.attname = 'ord'"
        " WHERE c.relname = 'bulk'"
    ).fetchone()
    assert row == (20_000, QUICK_STATISTICS_TARGET + 1)
    assert empty.execute("SHOW default_statistics_target").fetchone() == ("100",)
