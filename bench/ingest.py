"""Ingest benchmark: 1 million readings through pvmon's writer path beside its ceiling.

Starts its own PostgreSQL (the embedded server) in a temporary directory, loads a
synthetic fleet, and writes 1,000,000 readings in collector-sized batches, once on
plain PostgreSQL and once on TimescaleDB when the extension is installed. Prints, in the
same run, the rows/s of a bare binary COPY of the same readings into the same (emptied)
table, packed beforehand by numpy (the ceiling: the server's own cost), and of the writer
(``write_readings`` from Python tuples, idempotent), with the share of the ceiling it
reaches (target: at least 80 %); then a second, fully duplicate pass and the rollup
refresh.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--batch 10000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from pvmon.db.bulkcopy import COPY_HEADER, COPY_TRAILER
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade
from pvmon.db.readings import Reading, binary_reading_rows, write_readings
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile


def _readings(inverter_ids: list[int], rows: int) -> list[Reading]:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    steps = rows // len(inverter_ids) + 1
    out: list[Reading] = []
    for step in range(steps):
        t = start + timedelta(seconds=60 * step)
        for inverter_id in inverter_ids:
            if len(out) == rows:
                return out
            out.append(
                Reading(
                    time=t,
                    inverter_id=inverter_id,
                    ac_power_w=2500.0,
                    energy_wh=1_000_000 + step * 42,
                    dc_power_w=2600.0,
                    ac_voltage_a_v=230.1,
                    ac_current_a_a=10.9,
                    frequency_hz=50.0,
                    temperature_c=41.5,
                    state=4,
                    quality=0,
                )
            )
    return out


_BARE_COLUMNS = (
    "time", "inverter_id", "ac_power_w", "energy_wh", "dc_power_w", "ac_voltage_a_v",
    "ac_current_a_a", "frequency_hz", "temperature_c", "state", "quality",
)  # fmt: skip


def _packed(readings: list[Reading], batch: int) -> list[bytes]:
    """The readings' non-NULL columns as binary COPY batches (packed before timing)."""
    out = []
    for start in range(0, len(readings), batch):
        part = readings[start : start + batch]
        values = {c: [getattr(r, c) for r in part] for c in _BARE_COLUMNS}
        values["time"] = [r.time.replace(tzinfo=None) for r in part]
        out.append(binary_reading_rows(_BARE_COLUMNS, values, len(part)))
    return out


def _bare_copy(conn: psycopg.Connection, packed: list[bytes]) -> float:
    """Seconds for a bare binary COPY of ``packed`` into ``readings``, batch by batch."""
    began = time.perf_counter()
    for data in packed:
        with conn.cursor().copy(
            f"COPY readings ({', '.join(_BARE_COLUMNS)}) FROM STDIN (FORMAT binary)"
        ) as copy:
            copy.write(COPY_HEADER + data + COPY_TRAILER)
    return time.perf_counter() - began


def _run(server: EmbeddedPostgres, flavour: str, rows: int, batch: int) -> None:
    db = f"bench_{flavour}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(server.url(db), autocommit=True) as conn:
        upgrade(conn, timescaledb="on" if flavour == "timescaledb" else "off")
        store_fleet(conn, FleetFile.model_validate(generate_fleet(households=2000)))
        ids = [r[0] for r in conn.execute("SELECT id FROM inverters ORDER BY id LIMIT 2000")]
        readings = _readings(ids, rows)
        packed = _packed(readings, batch)
        bare_s = []
        for _ in range(2):  # the best of two: the ceiling
            bare_s.append(_bare_copy(conn, packed))
            conn.execute("TRUNCATE readings")
        began = time.perf_counter()
        written = 0
        for start in range(0, len(readings), batch):
            written += write_readings(conn, readings[start : start + batch])
        elapsed = time.perf_counter() - began
        began = time.perf_counter()
        duplicates = sum(
            write_readings(conn, readings[s : s + batch]) for s in range(0, len(readings), batch)
        )
        dup_elapsed = time.perf_counter() - began
        began = time.perf_counter()
        refresh_rollups(conn)
        refresh_elapsed = time.perf_counter() - began
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    assert written == rows and duplicates == 0
    ceiling = rows / min(bare_s)
    share = rows / elapsed / ceiling
    print(
        f"{flavour:12s} rows={rows:,} batch={batch:,}  bare binary COPY {ceiling:,.0f} rows/s  "
        f"writer {rows / elapsed:,.0f} rows/s ({elapsed:.1f} s) = {share:.0%} of bare COPY "
        f"(target >= 80 %: {'met' if share >= 0.8 else 'NOT met'})\n"
        f"{'':12s} duplicate pass {rows / dup_elapsed:,.0f} rows/s  "
        f"rollup refresh {refresh_elapsed:.1f} s  database {size[0] if size else '?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pvmon-bench-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root_dir=root / "pg", port=free_port())
    server.start()
    try:
        with psycopg.connect(server.url("postgres")) as conn:
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()
        flavours = ["postgres"] + (
            ["timescaledb"] if preload and "timescaledb" in preload[0] else []
        )
        if len(flavours) == 1:
            print("timescaledb: not installed on this machine, plain PostgreSQL only")
        for flavour in flavours:
            _run(server, flavour, args.rows, args.batch)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
