"""Grid settlement statements: import (CSV/XLSX), settled energy as revenue basis, and
reconciliation against inverter-metered energy.

A statement has one row per station (or meter, carrying the station code) and settlement
period with the on-grid energy [kWh], the price [yuan/kWh] and the amount [yuan]. Accepted
headings (English or Chinese, any order):

=========  =========================================  =================================
field      headings                                   content
=========  =========================================  =================================
station    ``station``, ``meter``, 电站编号, 表号      station code in the registry
period     ``period``, 结算期                         ``2025-01`` (month), ``2025-Q1``,
                                                      ``2025-H1`` or ``2025``
energy     ``energy_kwh``, 上网电量                   kWh, up to 3 decimals, ≥ 0
price      ``price``, 电价                            yuan/kWh, ≥ 0
amount     ``amount``, 金额                           yuan, up to 2 decimals, ≥ 0, within
                                                      1 yuan of energy × price
=========  =========================================  =================================

Every problem is reported at once with file, row and field; nothing is written unless the
whole file is valid; rows are upserted by (station, period) and only changed values are
written, so importing the same statement again changes nothing.

Settled energy becomes the engine's energy basis (source ``settled``) for stations whose
statements cover the whole run period: every run, recompute and adjustment does this for
its scope (:func:`dividends.revenue.write_settled_energy`), and the run's units say which
energy source they used; the inverter-metered energy stays
in ``station_energy_daily``, and :func:`reconciliation` compares the two. Each statement
row is also a revenue line (part ``benchmark``, source ``settled``).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors

from dividends.cash.errors import SettlementImportError
from dividends.cash.pure import Reconciliation, reconcile
from dividends.periods import Period, parse_period
from dividends.revenue import write_settled_energy
from pvmon.errors import DatabaseError, ValidationError
from pvmon.safeyaml import DEFAULT_MAX_BYTES, read_text

__all__ = [
    "HEADINGS",
    "MAX_ROWS",
    "ImportResult",
    "SettlementRow",
    "apply_settled_basis",
    "import_settlements",
    "parse_settlement_file",
    "reconciliation",
]

HEADINGS: dict[str, tuple[str, ...]] = {
    "station": ("station", "station_code", "meter", "电站编号", "表号"),
    "period": ("period", "结算期"),
    "energy": ("energy_kwh", "energy", "上网电量", "上网电量(kwh)"),
    "price": ("price", "yuan_per_kwh", "电价"),
    "amount": ("amount", "amount_yuan", "金额", "金额(元)"),
}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_AMOUNT_SLACK_FEN = 100
_TOO_LARGE = Decimal(10) ** 12  # kWh, yuan/kWh or yuan: no statement line comes near
#: at most this many rows per statement, and this much uncompressed XLSX per file byte
MAX_ROWS = 100_000
_XLSX_INFLATION = 100


@dataclass(frozen=True)
class SettlementRow:
    """One validated statement row: energy [Wh], price [yuan/kWh], amount [fen]."""

    row: int
    station_code: str
    period_start: date
    period_end: date
    energy_wh: int
    yuan_per_kwh: Decimal
    amount_fen: int


@dataclass(frozen=True)
class ImportResult:
    """Rows in the file, and how many were new, changed or already identical."""

    path: str
    rows: int
    inserted: int
    updated: int
    unchanged: int


def _period(text: str) -> tuple[date, date]:
    m = _MONTH.match(text.strip())
    if m:
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12 or not 1990 <= year <= 2100:
            raise ValidationError(f"{text!r} is not a month")
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return date(year, month, 1), end
    p: Period = parse_period(text)
    return p.start, p.end


def _decimal(text: str, *, places: int) -> Decimal:
    value = Decimal(text.strip().replace(",", ""))
    if not value.is_finite():
        raise InvalidOperation
    if value < 0:
        raise ValueError("must not be negative")
    if value >= _TOO_LARGE:
        raise ValueError(f"larger than any statement holds (at most {_TOO_LARGE - 1:,})")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"at most {places} decimals")
    return value


def _records(path: Path, *, max_bytes: int) -> Iterable[tuple[int, dict[str, str]]]:
    """The statement's rows by row number, headed by its first row; a file larger than
    ``max_bytes`` [bytes], an XLSX that inflates past ``_XLSX_INFLATION`` times that, a
    file that is not what its name says, or more than :data:`MAX_ROWS` rows are refused
    before they are read whole."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_records(path, max_bytes=max_bytes)
        return
    reader = csv.DictReader(io.StringIO(read_text(path, max_bytes=max_bytes)))
    for n, rec in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise SettlementImportError(f"{path.name}: more than {MAX_ROWS:,} rows")
        if all((v or "").strip() == "" for v in rec.values()):
            continue
        yield n, {k.strip(): (v or "") for k, v in rec.items() if k is not None}


def _xlsx_records(path: Path, *, max_bytes: int) -> Iterable[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SettlementImportError(
                f"{path.name}: {size:,} bytes, larger than the limit of {max_bytes:,} bytes "
                "(PVMON_IMPORT_FILE_MAX_BYTES)"
            )
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > _XLSX_INFLATION * max(size, 1) or inflated > _XLSX_INFLATION * max_bytes:
            raise SettlementImportError(
                f"{path.name}: inflates to {inflated:,} bytes: not a statement (a zip bomb?)"
            )
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise SettlementImportError(
            f"{path.name}: not a readable XLSX workbook (save it again from the spreadsheet)"
        ) from exc
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows, ())]
        for n, values in enumerate(rows, start=2):
            if n > MAX_ROWS + 1:
                raise SettlementImportError(f"{path.name}: more than {MAX_ROWS:,} rows")
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            cells = zip(header, values, strict=False)
            yield n, {h: ("" if v is None else str(v)) for h, v in cells}
    finally:
        wb.close()


def _columns(header: Sequence[str], path: Path) -> dict[str, str]:
    lower = {h.strip().lower(): h for h in header}
    found: dict[str, str] = {}
    missing = []
    for field, names in HEADINGS.items():
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is None:
            missing.append(f"{path.name}: header: no column for {field} (one of {list(names)})")
        else:
            found[field] = hit
    if missing:
        raise SettlementImportError(missing[0], missing)
    return found


def parse_settlement_file(
    path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[SettlementRow]:
    """Read and validate a statement of at most ``max_bytes`` [bytes]; raises
    :class:`SettlementImportError` with every problem (``file: row N: field: why``)."""
    path = Path(path)
    if not path.exists():
        raise SettlementImportError(f"{path}: no such file")
    try:
        records = list(_records(path, max_bytes=max_bytes))
    except SettlementImportError:
        raise
    except ValidationError as exc:  # read_text: too large, not UTF-8
        raise SettlementImportError(str(exc)) from exc
    if not records:
        raise SettlementImportError(f"{path.name}: no rows")
    cols = _columns(list(records[0][1].keys()), path)
    problems: list[str] = []
    out: list[SettlementRow] = []
    seen: dict[tuple[str, date], int] = {}
    for n, rec in records:
        where = f"{path.name}: row {n}"
        bad = len(problems)
        code = rec.get(cols["station"], "").strip()
        if not code:
            problems.append(f"{where}: station: empty")
        try:
            start, end = _period(rec.get(cols["period"], ""))
        except ValidationError as exc:
            problems.append(f"{where}: period: {exc}")
            start, end = date.min, date.min
        values: dict[str, Decimal] = {}
        for field, places in (("energy", 3), ("price", 6), ("amount", 2)):
            raw = rec.get(cols[field], "")
            try:
                values[field] = _decimal(raw, places=places)
            except (InvalidOperation, ValueError) as exc:
                why = str(exc) if isinstance(exc, ValueError) and str(exc) else "not a number"
                problems.append(f"{where}: {field}: {raw!r}: {why}")
        if len(problems) == bad:
            wh = int(values["energy"] * 1000)
            fen = int(values["amount"] * 100)
            expected = (values["energy"] * values["price"] * 100).quantize(Decimal(1))
            if abs(fen - int(expected)) > _AMOUNT_SLACK_FEN:
                problems.append(
                    f"{where}: amount: {values['amount']} yuan differs from energy × price "
                    f"= {expected / 100} yuan by more than 1 yuan"
                )
            key = (code, start)
            if key in seen:
                problems.append(f"{where}: period: {code} {start} already on row {seen[key]}")
            seen[key] = n
            out.append(SettlementRow(n, code, start, end, wh, values["price"], fen))
    if problems:
        raise SettlementImportError(problems[0], problems)
    return out


def import_settlements(
    conn: psycopg.Connection, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ImportResult:
    """Validate and store a statement of at most ``max_bytes`` [bytes] in one
    transaction (all or nothing)."""
    path = Path(path)
    rows = parse_settlement_file(path, max_bytes=max_bytes)
    codes = sorted({r.station_code for r in rows})
    ids: dict[str, int] = dict(
        conn.execute("SELECT code, id FROM stations WHERE code = ANY(%s)", (codes,)).fetchall()
    )
    unknown = [
        f"{path.name}: row {r.row}: station: unknown station {r.station_code!r}"
        for r in rows
        if r.station_code not in ids
    ]
    if unknown:
        raise SettlementImportError(unknown[0], unknown)
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _cash_settle (station_id bigint, ps date,"
                " pe date, energy_wh bigint, price numeric, amount_fen bigint, src_row integer)"
                " ON COMMIT DELETE ROWS"
            )
            with conn.cursor().copy(
                "COPY _cash_settle (station_id, ps, pe, energy_wh, price, amount_fen, src_row)"
                " FROM STDIN"
            ) as copy:
                for r in rows:
                    copy.write_row(
                        (
                            ids[r.station_code],
                            r.period_start,
                            r.period_end,
                            r.energy_wh,
                            r.yuan_per_kwh,
                            r.amount_fen,
                            r.row,
                        )
                    )
            before = conn.execute(
                """SELECT count(*) FILTER (WHERE g.station_id IS NULL),
                          count(*) FILTER (WHERE g.station_id IS NOT NULL
                              AND (g.energy_wh, g.yuan_per_kwh, g.amount_fen)
                                  IS DISTINCT FROM (t.energy_wh, t.price, t.amount_fen))
                     FROM _cash_settle t LEFT JOIN grid_settlements g
                       ON g.station_id = t.station_id AND g.period_start = t.ps
                      AND g.period_end = t.pe"""
            ).fetchone()
            assert before is not None
            conn.execute(
                """
                INSERT INTO grid_settlements AS g (station_id, period_start, period_end,
                       energy_wh, yuan_per_kwh, amount_fen, source_file, source_row)
                SELECT station_id, ps, pe, energy_wh, price, amount_fen, %(f)s, src_row
                  FROM _cash_settle
                ON CONFLICT (station_id, period_start, period_end) DO UPDATE
                   SET energy_wh = excluded.energy_wh, yuan_per_kwh = excluded.yuan_per_kwh,
                       amount_fen = excluded.amount_fen, source_file = excluded.source_file,
                       source_row = excluded.source_row, imported_at = now()
                 WHERE (g.energy_wh, g.yuan_per_kwh, g.amount_fen)
                       IS DISTINCT FROM (excluded.energy_wh, excluded.yuan_per_kwh,
                                         excluded.amount_fen)
                """,
                {"f": path.name},
            )
            conn.execute(
                """
                INSERT INTO revenue_lines AS r (station_id, period_start, period_end, part,
                       source, energy_wh, yuan_per_kwh, amount_fen)
                SELECT station_id, ps, pe, 'benchmark', 'settled', energy_wh, price, amount_fen
                  FROM _cash_settle
                ON CONFLICT (station_id, period_start, period_end, part, source) DO UPDATE
                   SET energy_wh = excluded.energy_wh, yuan_per_kwh = excluded.yuan_per_kwh,
                       amount_fen = excluded.amount_fen
                 WHERE (r.energy_wh, r.yuan_per_kwh, r.amount_fen)
                       IS DISTINCT FROM (excluded.energy_wh, excluded.yuan_per_kwh,
                                         excluded.amount_fen)
                """
            )
    except pg_errors.ExclusionViolation as exc:
        raise SettlementImportError(
            f"{path.name}: period: a row overlaps an earlier statement's period for the same "
            f"station with different boundaries ({exc.diag.message_detail})"
        ) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"importing settlements from {path.name} failed: {exc}") from exc
    inserted, updated = int(before[0]), int(before[1])
    return ImportResult(str(path), len(rows), inserted, updated, len(rows) - inserted - updated)


def apply_settled_basis(conn: psycopg.Connection, period: Period | str) -> int:
    """Make settled energy the energy basis [Wh] of every station whose statements cover
    all of ``period`` (source ``settled``); returns stations written. Runs do this for
    their own scope by themselves (:func:`dividends.revenue.write_settled_energy`)."""
    period = parse_period(period) if isinstance(period, str) else period
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _div_scope (station_id bigint PRIMARY KEY)"
            )
            conn.execute("TRUNCATE _div_scope")
            conn.execute("INSERT INTO _div_scope SELECT id FROM stations")
            return write_settled_energy(conn, period)
    except psycopg.Error as exc:
        raise DatabaseError(f"settled energy for {period.label} failed: {exc}") from exc


def reconciliation(
    conn: psycopg.Connection,
    *,
    start: date,
    end: date,
    county: str | None = None,
    tolerance: Decimal = Decimal("0.01"),
) -> list[Reconciliation]:
    """Settled against metered energy per station and settlement period inside
    ``[start, end)``; ``flagged`` rows differ by more than ``tolerance`` (a fraction)."""
    rows = conn.execute(
        """
        SELECT g.station_id, s.code, g.period_start, g.period_end, g.energy_wh,
               coalesce((SELECT sum(d.energy_wh) FROM station_energy_daily d
                          WHERE d.station_id = g.station_id AND d.day >= g.period_start
                            AND d.day < g.period_end), 0)::bigint
          FROM grid_settlements g
          JOIN stations s ON s.id = g.station_id
          JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
          JOIN counties c ON c.id = tw.county_id
         WHERE g.period_start >= %(s)s AND g.period_end <= %(e)s
           AND (%(county)s::text IS NULL OR c.code = %(county)s)
         ORDER BY s.code, g.period_start
        """,
        {"s": start, "e": end, "county": county},
    ).fetchall()
    return [
        reconcile(
            station_id=int(r[0]),
            station_code=r[1],
            period_start=r[2],
            period_end=r[3],
            settled_wh=int(r[4]),
            metered_wh=int(r[5]),
            tolerance=tolerance,
        )
        for r in rows
    ]
