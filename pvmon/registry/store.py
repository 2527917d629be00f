"""Writing a validated fleet into the registry tables: upsert by code, all or nothing.

Rows whose values are unchanged are not touched, so importing the same file twice
changes nothing (the counts say so). References (village, station, owner household)
are resolved against the import and the database; an unknown reference is an error
naming the record and field, and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pvmon.errors import DatabaseError, ValidationError
from pvmon.registry.models import FleetFile, InverterRecord, StationRecord

__all__ = ["ImportSummary", "store_fleet"]


@dataclass
class ImportSummary:
    """Rows inserted and updated per table (unchanged rows are not counted)."""

    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values())


def _upsert(
    conn: psycopg.Connection,
    *,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    summary: ImportSummary,
) -> None:
    if not rows:
        return
    stage = f"_stage_{table}"
    cols = ", ".join(columns)
    conn.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
    )
    with conn.cursor() as cur:
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        non_key = [c for c in columns if c not in key]
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in non_key)
        differs = " OR ".join(f"{table}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in non_key)
        cur.execute(
            f"INSERT INTO {table} AS {table} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments} WHERE {differs} "
            f"RETURNING (xmax = 0)"
        )
        flags = [r[0] for r in cur.fetchall()]
    summary.inserted[table] = summary.inserted.get(table, 0) + sum(flags)
    summary.updated[table] = summary.updated.get(table, 0) + len(flags) - sum(flags)


def _ids(conn: psycopg.Connection, table: str, key: str) -> dict[str, int]:
    return {code: id_ for id_, code in conn.execute(f"SELECT id, {key} FROM {table}")}


class _Resolver:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, mapping: dict[str, int], code: str, where: str, what: str) -> int | None:
        if code in mapping:
            return mapping[code]
        self.problems.append(f"{where}: field {what}: unknown {what} {code!r}")
        return None


def store_fleet(conn: psycopg.Connection, fleet: FleetFile) -> ImportSummary:
    """Upsert ``fleet`` in one transaction; raises :class:`ValidationError` on bad references."""
    summary = ImportSummary()
    try:
        with conn.transaction():
            _store(conn, fleet, summary)
    except psycopg.errors.IntegrityError as exc:
        raise ValidationError(_refusal(exc)) from exc
    except psycopg.errors.CardinalityViolation as exc:  # caught by FleetFile, kept as a guard
        raise ValidationError("fleet rejected: a code is given twice in this import") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"storing the fleet failed: {exc}") from exc
    return summary


def _refusal(exc: psycopg.errors.IntegrityError) -> str:
    """What the database refused, in the registry's words: the table and the columns,
    never the values (an ID number or a bank account must not be echoed)."""
    table = exc.diag.table_name or "registry"
    detail = exc.diag.message_detail or ""
    columns = detail[detail.find("(") + 1 : detail.find(")")] if detail.startswith("Key (") else ""
    if isinstance(exc, psycopg.errors.UniqueViolation) and columns:
        return f"fleet rejected: {table}: another record already has this {columns}"
    constraint = exc.diag.constraint_name or "a constraint"
    return f"fleet rejected: {table}: {constraint} does not hold for a record of this import"


def _store(conn: psycopg.Connection, fleet: FleetFile, summary: ImportSummary) -> None:
    resolve = _Resolver()
    _upsert(
        conn,
        table="counties",
        key=["code"],
        columns=["code", "name", "province"],
        rows=[(c.code, c.name, c.province) for c in fleet.counties],
        summary=summary,
    )
    county_ids = _ids(conn, "counties", "code")
    _upsert(
        conn,
        table="townships",
        key=["code"],
        columns=["code", "name", "county_id"],
        rows=[(t.code, t.name, county_ids[c.code]) for c in fleet.counties for t in c.townships],
        summary=summary,
    )
    township_ids = _ids(conn, "townships", "code")
    _upsert(
        conn,
        table="villages",
        key=["code"],
        columns=["code", "name", "township_id"],
        rows=[
            (v.code, v.name, township_ids[t.code])
            for c in fleet.counties
            for t in c.townships
            for v in t.villages
        ],
        summary=summary,
    )
    village_ids = _ids(conn, "villages", "code")

    household_rows = []
    for h in fleet.households:
        where = f"household {h.file_no}"
        village_id = resolve.get(village_ids, h.village, where, "village")
        household_rows.append(
            (h.file_no, h.name, village_id, h.id_number, h.bank_name, h.bank_account, h.members)
        )
    if resolve.problems:
        raise ValidationError("\n".join(resolve.problems), resolve.problems)
    _upsert(
        conn,
        table="households",
        key=["file_no"],
        columns=[
            "file_no",
            "name",
            "village_id",
            "id_number",
            "bank_name",
            "bank_account",
            "members",
        ],
        rows=household_rows,
        summary=summary,
    )
    household_ids = _ids(conn, "households", "file_no")

    station_rows = []
    for s in fleet.stations:
        where = f"station {s.code}"
        owner = (
            resolve.get(household_ids, s.owner_household, where, "owner_household")
            if s.owner_household
            else None
        )
        station_rows.append(
            _station_row(s, resolve.get(village_ids, s.village, where, "village"), owner)
        )
    for s in fleet.stations:
        for share in s.shares:
            resolve.get(village_ids, share.village, f"station {s.code} share", "village")
    if resolve.problems:
        raise ValidationError("\n".join(resolve.problems), resolve.problems)
    _upsert(
        conn,
        table="stations",
        key=["code"],
        columns=_STATION_COLUMNS,
        rows=station_rows,
        summary=summary,
    )
    station_ids = _ids(conn, "stations", "code")
    _upsert(
        conn,
        table="station_village_shares",
        key=["station_id", "village_id"],
        columns=["station_id", "village_id", "weight"],
        rows=[
            (station_ids[s.code], village_ids[sh.village], sh.weight)
            for s in fleet.stations
            for sh in s.shares
        ],
        summary=summary,
    )

    inverter_rows = [
        _inverter_row(inv, station_ids[s.code]) for s in fleet.stations for inv in s.inverters
    ]
    for loose in fleet.loose_inverters:
        station_id = resolve.get(station_ids, loose.station, loose.where, "station")
        inverter_rows.append(_inverter_row(loose.inverter, station_id))
    served = []
    for h in fleet.households:
        if h.served_by_station:
            station_id = resolve.get(
                station_ids, h.served_by_station, f"household {h.file_no}", "served_by_station"
            )
            served.append((h.file_no, station_id))
    if resolve.problems:
        raise ValidationError("\n".join(resolve.problems), resolve.problems)
    _upsert(
        conn,
        table="inverters",
        key=["serial"],
        columns=_INVERTER_COLUMNS,
        rows=inverter_rows,
        summary=summary,
    )
    if served:
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE households SET served_by_station_id = %s "
                "WHERE file_no = %s AND served_by_station_id IS DISTINCT FROM %s",
                [(sid, file_no, sid) for file_no, sid in served],
            )
    _upsert(
        conn,
        table="household_poverty_periods",
        key=["household_id", "entered_on"],
        columns=["household_id", "entered_on", "left_on", "status"],
        rows=[
            (household_ids[h.file_no], p.entered_on, p.left_on, p.status)
            for h in fleet.households
            for p in h.poverty
        ],
        summary=summary,
    )


_STATION_COLUMNS = [
    "code",
    "name",
    "kind",
    "capacity_kwp",
    "village_id",
    "latitude",
    "longitude",
    "tilt_deg",
    "azimuth_deg",
    "commissioned_on",
    "grid_connected_on",
    "tariff_ref",
    "owner_household_id",
    "om_contractor",
]
_INVERTER_COLUMNS = [
    "serial",
    "station_id",
    "vendor",
    "model",
    "rated_ac_w",
    "phases",
    "host",
    "port",
    "unit_id",
    "framing",
    "register_map",
    "poll_interval_s",
    "endpoint_options",
]


def _station_row(s: StationRecord, village_id: int | None, owner_id: int | None) -> tuple[Any, ...]:
    return (
        s.code,
        s.name,
        s.kind,
        s.capacity_kwp,
        village_id,
        s.latitude,
        s.longitude,
        s.tilt_deg,
        s.azimuth_deg,
        s.commissioned_on,
        s.grid_connected_on,
        s.tariff_ref,
        owner_id,
        s.om_contractor,
    )


def _inverter_row(inv: InverterRecord, station_id: int | None) -> tuple[Any, ...]:
    return (
        inv.serial,
        station_id,
        inv.vendor,
        inv.model,
        inv.rated_ac_w,
        inv.phases,
        inv.host,
        inv.port,
        inv.unit_id,
        inv.framing,
        inv.register_map,
        inv.poll_interval_s,
        json.dumps(inv.endpoint_options.stored(), sort_keys=True),
    )
