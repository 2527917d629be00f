"""County cash benchmark: 12 monthly grid settlement statements for a 17,062-household
county, the settled basis, the annual run, advances, and one subsidy batch allocated over
the county (largest remainder) repaying the advances; then the county switched to the
``received`` basis and a draft of the same year computed on cash.

Uses the synthetic county of ``bench/dividends.py`` (its ``_setup``) on a fresh embedded
PostgreSQL. Settlement files are CSV, one per month, every station a row.

    .venv/bin/python bench/cash.py [--households 17062]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# bench/ on sys.path would let bench/dividends.py shadow the dividends package
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import psycopg

from dividends.cash.ledger import (
    outstanding_advances,
    record_advances,
    record_receipt,
    set_basis,
)
from dividends.cash.settlements import apply_settled_basis, import_settlements
from dividends.runs import approve_run, compute_run, run_summary
from pvmon.db.embedded import EmbeddedPostgres, free_port
from pvmon.db.migrate import upgrade


def _county_setup() -> object:
    spec = importlib.util.spec_from_file_location(
        "bench_dividends", Path(__file__).resolve().parent / "dividends.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._setup


def _statements(conn: psycopg.Connection, folder: Path) -> list[Path]:
    rows = conn.execute(
        "SELECT s.code, e.metered_wh + e.estimated_wh FROM stations s"
        " JOIN station_period_energy e ON e.station_id = s.id ORDER BY s.code"
    ).fetchall()
    files = []
    for month in range(1, 13):
        path = folder / f"grid-2025-{month:02d}.csv"
        lines = ["station,period,energy_kwh,price,amount"]
        for code, wh in rows:
            kwh = int(wh) // 12000  # whole kWh per month
            fen = kwh * 3749 // 100  # 0.3749 yuan/kWh, cut to the fen
            lines.append(f"{code},2025-{month:02d},{kwh},0.3749,{fen // 100}.{fen % 100:02d}")
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def _bench(server: EmbeddedPostgres, households: int, folder: Path) -> None:
    db = f"bench_cash_{households}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(server.url(db), autocommit=True) as conn:
        upgrade(conn, timescaledb="off")
        setup = _county_setup()
        setup(conn, households)  # type: ignore[operator]
        files = _statements(conn, folder)
        t0 = time.perf_counter()
        rows = sum(import_settlements(conn, f).rows for f in files)
        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = sum(import_settlements(conn, f).unchanged for f in files)
        reimport_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        fed = apply_settled_basis(conn, "2025")
        basis_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = compute_run(conn, period="2025", created_by="bench")
        approve_run(conn, run, approved_by="bench-approver", accept_estimated=True)
        run_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        advanced = record_advances(conn, run, advanced_on=date(2026, 1, 20))
        adv_s = time.perf_counter() - t0
        accrued = conn.execute(
            "SELECT sum(amount_fen) FROM revenue_lines WHERE part = 'subsidy'"
            " AND source IN ('metered', 'estimated') AND period_start = '2025-01-01'"
        ).fetchone()
        amount = int(accrued[0]) * 6 // 10 + 1 if accrued else 0
        t0 = time.perf_counter()
        receipt = record_receipt(
            conn, county="B", reference="SUB-2025-1", received_on=date(2026, 4, 15),
            covers="2025", amount_fen=amount, coverage="partial", recorded_by="bench",
        )  # fmt: skip
        receipt_s = time.perf_counter() - t0
        left = outstanding_advances(conn, "B")
        set_basis(conn, county="B", basis="received", set_by="bench")
        t0 = time.perf_counter()
        draft = compute_run(conn, period="2025", created_by="bench")
        received_s = time.perf_counter() - t0
        on_cash = run_summary(conn, draft)
    print(
        f"households={households:,}: import 12 statements ({rows:,} rows) {import_s:.1f} s | "
        f"re-import {reimport_s:.1f} s ({again:,} unchanged) | settled basis {fed:,} stations "
        f"{basis_s:.1f} s | run+approve {run_s:.1f} s | advances {advanced / 100:,.2f} yuan "
        f"{adv_s:.1f} s | subsidy batch {amount / 100:,.2f} yuan over {receipt.lines:,} "
        f"station-periods {receipt_s:.1f} s (repaid {receipt.repaid_fen / 100:,.2f}, "
        f"outstanding {left / 100:,.2f} yuan) | received-basis draft {received_s:.1f} s "
        f"(revenue {on_cash.revenue_fen / 100:,.2f}, paid {on_cash.paid_fen / 100:,.2f} yuan)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, nargs="+", default=[17_062])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pvmon-bench-cash-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(
        root_dir=root / "pg", port=free_port(),
        server_settings={"timescaledb.max_background_workers": "0"},
    )  # fmt: skip
    server.start()
    try:
        for households in args.households:
            _bench(server, households, root)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
