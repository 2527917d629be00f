"""Enrolments by the codes people use: enrol, reassign a slot, end, move a station's slots
to another scheme, add a deduction (the SQL edge behind ``pvmon dividends enrol`` ...).

Every function resolves station, household, scheme and county codes first (an unknown
code is a :class:`pvmon.errors.NotFoundError` naming the field and the code), then writes
in one transaction through :mod:`dividends.schemes`, so a refusal leaves nothing behind.
Dates are the first day of the new state (an end date is exclusive: the last day held is
the day before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg

from dividends.schemes import END_REASONS, add_deduction, end_enrolment, enrol, reassign_slot
from pvmon.errors import DatabaseError, NotFoundError, ValidationError

DEDUCTION_KINDS = ("land_rent", "om_fee", "reserve", "insurance", "tax", "other")

__all__ = [
    "DEDUCTION_KINDS",
    "EnrolmentRow",
    "add_deduction_by_code",
    "end_slot",
    "enrol_household",
    "list_enrolments",
    "move_station_scheme",
    "reassign_by_code",
]


@dataclass(frozen=True)
class EnrolmentRow:
    """One enrolment of a station's slot: who held it under which scheme, from and to."""

    station: str
    slot_no: int
    holder: str
    scheme: str
    starts_on: date
    ends_on: date | None
    end_reason: str | None


def _id(conn: psycopg.Connection, table: str, column: str, code: str, field: str) -> int:
    row = conn.execute(f"SELECT id FROM {table} WHERE {column} = %s", (code,)).fetchone()
    if row is None:
        raise NotFoundError(f"{field} {code!r}: not found")
    return int(row[0])


def _station(conn: psycopg.Connection, code: str) -> tuple[int, str, int, int]:
    """(id, kind, village id, county id) of station ``code``."""
    row = conn.execute(
        """SELECT s.id, s.kind, s.village_id, tw.county_id FROM stations s
             JOIN villages v ON v.id = s.village_id JOIN townships tw ON tw.id = v.township_id
            WHERE s.code = %s""",
        (code,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"--station {code!r}: not found")
    return int(row[0]), str(row[1]), int(row[2]), int(row[3])


def station_county(conn: psycopg.Connection, code: str) -> int:
    """The county id of station ``code`` (for a county-limited person's check)."""
    return _station(conn, code)[3]


def _slot(conn: psycopg.Connection, station_id: int, station: str, slot_no: int) -> int:
    row = conn.execute(
        "SELECT id FROM station_slots WHERE station_id = %s AND slot_no = %s",
        (station_id, slot_no),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"--slot {slot_no}: station {station} has no such slot")
    return int(row[0])


def _reason(reason: str) -> str:
    if reason not in END_REASONS:
        raise ValidationError(f"--reason {reason!r}: expected one of {', '.join(END_REASONS)}")
    return reason


def enrol_household(
    conn: psycopg.Connection,
    *,
    station: str,
    household: str,
    scheme: str,
    starts_on: date,
    first_dividend_on: date | None = None,
) -> tuple[int, int]:
    """Enrol household ``household`` (file number) on a new slot of ``station`` under
    ``scheme`` from ``starts_on``; returns (slot number, enrolment id). The slot's first
    dividend day is ``first_dividend_on`` (default ``starts_on``); its allocation unit is
    the station's village (a joint station: the household's, which must share in it)."""
    station_id, kind, village_id, _county = _station(conn, station)
    household_id = _id(conn, "households", "file_no", household, "--household")
    _id(conn, "dividend_schemes", "code", scheme, "--scheme")
    if kind == "joint":
        row = conn.execute(
            """SELECT h.village_id FROM households h JOIN station_village_shares sh
                   ON sh.village_id = h.village_id AND sh.station_id = %s WHERE h.id = %s""",
            (station_id, household_id),
        ).fetchone()
        if row is None:
            raise ValidationError(
                f"--household {household}: its village has no share in joint station {station}"
            )
        village_id = int(row[0])
    try:
        with conn.transaction():
            row = conn.execute(
                """INSERT INTO station_slots (station_id, slot_no, village_id, first_dividend_on)
                   SELECT %s, coalesce(max(slot_no), 0) + 1, %s, %s FROM station_slots
                    WHERE station_id = %s RETURNING slot_no, id""",
                (station_id, village_id, first_dividend_on or starts_on, station_id),
            ).fetchone()
            assert row is not None
            enrolment = enrol(
                conn, slot_id=int(row[1]), scheme=scheme, starts_on=starts_on,
                household_id=household_id,
            )  # fmt: skip
    except psycopg.Error as exc:
        raise DatabaseError(f"enrolling {household} on {station} failed") from exc
    return int(row[0]), enrolment


def reassign_by_code(
    conn: psycopg.Connection,
    *,
    station: str,
    slot_no: int,
    to_household: str,
    on: date,
    reason: str = "reassigned",
) -> int:
    """Dynamic adjustment: slot ``slot_no`` of ``station`` passes to ``to_household`` on
    ``on`` (the former holder's enrolment ends with ``reason``); each is paid for its own
    days. Returns the new enrolment id."""
    station_id, _kind, _village, _county = _station(conn, station)
    slot_id = _slot(conn, station_id, station, slot_no)
    household_id = _id(conn, "households", "file_no", to_household, "--to")
    return reassign_slot(
        conn, slot_id=slot_id, to_household_id=household_id, on=on, reason=_reason(reason)
    )


def _open_enrolment(conn: psycopg.Connection, slot_id: int, station: str, slot_no: int) -> int:
    row = conn.execute(
        "SELECT id FROM dividend_enrolments WHERE slot_id = %s AND ends_on IS NULL", (slot_id,)
    ).fetchone()
    if row is None:
        raise ValidationError(f"--slot {slot_no}: station {station}'s slot has no open enrolment")
    return int(row[0])


def end_slot(
    conn: psycopg.Connection, *, station: str, slot_no: int, on: date, reason: str
) -> None:
    """End the open enrolment of slot ``slot_no`` of ``station``: its last day is the day
    before ``on`` (e.g. the household left poverty)."""
    station_id, _kind, _village, _county = _station(conn, station)
    slot_id = _slot(conn, station_id, station, slot_no)
    end_enrolment(
        conn, _open_enrolment(conn, slot_id, station, slot_no), ends_on=on, reason=_reason(reason)
    )


def move_station_scheme(conn: psycopg.Connection, *, station: str, scheme: str, on: date) -> int:
    """Every open enrolment of ``station`` passes to ``scheme`` on ``on``: the old one ends
    (``scheme_ended``) and the same holder is enrolled under ``scheme`` from ``on``.
    Returns how many moved; an enrolment already under ``scheme`` stays."""
    station_id, _kind, _village, _county = _station(conn, station)
    _id(conn, "dividend_schemes", "code", scheme, "--scheme")
    rows = conn.execute(
        """SELECT e.id, e.slot_id, e.household_id, e.village_id, e.starts_on
             FROM dividend_enrolments e JOIN station_slots sl ON sl.id = e.slot_id
             JOIN dividend_schemes sc ON sc.id = e.scheme_id
            WHERE sl.station_id = %s AND e.ends_on IS NULL AND sc.code <> %s
            ORDER BY sl.slot_no""",
        (station_id, scheme),
    ).fetchall()
    late = [str(r[4]) for r in rows if r[4] >= on]
    if late:
        raise ValidationError(
            f"--on {on}: enrolments of {station} start on or after it ({', '.join(late)})"
        )
    with conn.transaction():
        for enrolment_id, slot_id, household_id, village_id, _start in rows:
            end_enrolment(conn, int(enrolment_id), ends_on=on, reason="scheme_ended")
            enrol(
                conn, slot_id=int(slot_id), scheme=scheme, starts_on=on,
                household_id=household_id, village_id=village_id,
            )  # fmt: skip
    return len(rows)


def add_deduction_by_code(
    conn: psycopg.Connection,
    *,
    seq: int,
    kind: str,
    county: str | None = None,
    station: str | None = None,
    rate: Decimal | None = None,
    yearly_fen: int | None = None,
    effective_from: date = date(2000, 1, 1),
    effective_to: date | None = None,
) -> int:
    """A deduction before dividends for a county or one station: a ``rate`` of gross
    revenue or ``yearly_fen`` [fen/year]; returns its id."""
    if (county is None) == (station is None):
        raise ValidationError("deduction: give --county or --station (one of them)")
    if kind not in DEDUCTION_KINDS:
        raise ValidationError(f"--kind {kind!r}: expected one of {', '.join(DEDUCTION_KINDS)}")
    if (rate is None) == (yearly_fen is None):
        raise ValidationError("deduction: give --rate (a share of revenue) or --yearly-yuan")
    if rate is not None and not Decimal(0) <= rate <= Decimal(1):
        raise ValidationError(f"--rate {rate}: a share between 0 and 1")
    if yearly_fen is not None and yearly_fen < 0:
        raise ValidationError("--yearly-yuan: must not be negative")
    if effective_to is not None and effective_to <= effective_from:
        raise ValidationError(f"--to {effective_to}: must be after --from {effective_from}")
    county_id = _id(conn, "counties", "code", county, "--county") if county else None
    station_id = _station(conn, station)[0] if station else None
    with conn.transaction():
        return add_deduction(
            conn, seq=seq, kind=kind, county_id=county_id, station_id=station_id,
            yearly_fen=yearly_fen, rate=rate, effective_from=effective_from,
            effective_to=effective_to,
        )  # fmt: skip


def list_enrolments(conn: psycopg.Connection, *, station: str) -> list[EnrolmentRow]:
    """Every enrolment of ``station``'s slots, by slot and start: a slot's history reads
    top to bottom."""
    station_id = _station(conn, station)[0]
    rows = conn.execute(
        """SELECT sl.slot_no, coalesce(h.file_no, 'collective ' || v.code), sc.code,
                  e.starts_on, e.ends_on, e.end_reason
             FROM dividend_enrolments e JOIN station_slots sl ON sl.id = e.slot_id
             JOIN dividend_schemes sc ON sc.id = e.scheme_id
             LEFT JOIN households h ON h.id = e.household_id
             LEFT JOIN villages v ON v.id = e.village_id
            WHERE sl.station_id = %s ORDER BY sl.slot_no, e.starts_on""",
        (station_id,),
    ).fetchall()
    return [EnrolmentRow(station, int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
