"""Schemes, slots, enrolments, prices and deduction rules: the engine's data, in SQL.

Schemes are rows, not code: :data:`STANDARD_SCHEMES` are the programme's two schemes
(``household_own``: 1,100 yuan a year for 20 years, the station passes to the household
after 25; ``village_slot``: 900 yuan a year to the household and 100 yuan to its village
collective, for 20 years). Further schemes (other amounts, per-person amounts, shares of
the unit's net revenue, a 25-year horizon) are :class:`SchemeSpec` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from psycopg import errors as pg_errors

from dividends.allocation import POLICIES
from dividends.errors import DividendError
from pvmon.errors import DatabaseError, NotFoundError, ValidationError

__all__ = [
    "END_REASONS",
    "STANDARD_SCHEMES",
    "Component",
    "SchemeSpec",
    "add_deduction",
    "define_scheme",
    "end_enrolment",
    "enrol",
    "enrol_registry",
    "reassign_slot",
    "set_benchmark_price",
    "set_tariff",
]

END_REASONS = ("left_poverty", "moved", "deceased", "reassigned", "scheme_ended", "transferred")


@dataclass(frozen=True)
class Component:
    """One payee of a scheme: ``fixed``/``per_person`` [fen/year] or a ``share`` of net revenue."""

    component: str
    payee_role: str = "enrollee"  # or 'village_collective'
    basis: str = "fixed"
    yearly_fen: int = 0
    share: Decimal | None = None


@dataclass(frozen=True)
class SchemeSpec:
    """A scheme version; ``years`` of dividends from the slot's first dividend day."""

    code: str
    components: tuple[Component, ...]
    version: int = 1
    effective_from: date = date(2014, 1, 1)
    effective_to: date | None = None
    years: int = 20
    transfer_after_years: int | None = None
    policy: str = "guaranteed"
    description: str = ""


STANDARD_SCHEMES: tuple[SchemeSpec, ...] = (
    SchemeSpec(
        code="household_own",
        components=(Component("household", yearly_fen=110_000),),
        years=20,
        transfer_after_years=25,
        description="户用电站: 1,100 元/年, 20 年; 25 年后电站归农户",
    ),
    SchemeSpec(
        code="village_slot",
        components=(
            Component("household", yearly_fen=90_000),
            Component("collective", payee_role="village_collective", yearly_fen=10_000),
        ),
        years=20,
        description="村级电站: 农户 900 元/年 + 村集体 100 元/年, 20 年",
    ),
)


def _problems(spec: SchemeSpec) -> list[str]:
    where = f"scheme {spec.code} v{spec.version}"
    out: list[str] = []
    if spec.policy not in POLICIES:
        out.append(f"{where}: policy {spec.policy!r} not one of {list(POLICIES)}")
    if not spec.components:
        out.append(f"{where}: components: at least one")
    for c in spec.components:
        if c.basis not in ("fixed", "per_person", "share"):
            out.append(f"{where}: component {c.component}: basis {c.basis!r} unknown")
        if c.payee_role not in ("enrollee", "village_collective"):
            out.append(f"{where}: component {c.component}: payee_role {c.payee_role!r} unknown")
        if c.yearly_fen < 0:
            out.append(f"{where}: component {c.component}: yearly_fen must not be negative")
        if (c.basis == "share") != (c.share is not None):
            out.append(f"{where}: component {c.component}: share is required for basis share only")
        if c.share is not None and not Decimal(0) < c.share <= 1:
            out.append(f"{where}: component {c.component}: share must be in (0, 1]")
    if spec.transfer_after_years is not None and spec.transfer_after_years < spec.years:
        out.append(f"{where}: transfer_after_years must be at least years ({spec.years})")
    return out


def define_scheme(conn: psycopg.Connection, spec: SchemeSpec) -> int:
    """Insert (or return the existing id of) a scheme version with its components."""
    problems = _problems(spec)
    if problems:
        raise ValidationError(problems[0], problems)
    with conn.transaction():
        row = conn.execute(
            "SELECT id FROM dividend_schemes WHERE code = %s AND version = %s",
            (spec.code, spec.version),
        ).fetchone()
        if row:
            return int(row[0])
        row = conn.execute(
            """INSERT INTO dividend_schemes (code, version, effective_from, effective_to, years,
                   transfer_after_years, policy, description)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                spec.code,
                spec.version,
                spec.effective_from,
                spec.effective_to,
                spec.years,
                spec.transfer_after_years,
                spec.policy,
                spec.description,
            ),
        ).fetchone()
        assert row is not None
        scheme_id = int(row[0])
        for c in spec.components:
            conn.execute(
                """INSERT INTO dividend_scheme_components (scheme_id, component, payee_role,
                       basis, yearly_fen, share) VALUES (%s, %s, %s, %s, %s, %s)""",
                (scheme_id, c.component, c.payee_role, c.basis, c.yearly_fen, c.share),
            )
    return scheme_id


def _scheme_id(conn: psycopg.Connection, code: str, version: int | None) -> int:
    row = conn.execute(
        "SELECT id FROM dividend_schemes WHERE code = %s AND (%s::int IS NULL OR version = %s)"
        " ORDER BY version DESC LIMIT 1",
        (code, version, version),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"scheme {code!r}: not defined (define_scheme first)")
    return int(row[0])


def enrol_registry(
    conn: psycopg.Connection,
    *,
    first_dividend_on: date,
    starts_on: date | None = None,
    household_scheme: str = "household_own",
    village_scheme: str = "village_slot",
) -> dict[str, int]:
    """Slots and enrolments for the whole registry, set-based (idempotent).

    A household station gets one slot held by its owner under ``household_scheme``; each
    household served by a village or joint station gets a slot of that station (in its
    own village, which must be a share village for joint stations) under
    ``village_scheme``. Existing slots are kept. Returns counts of what was added.
    """
    starts = starts_on or first_dividend_on
    h_id = _scheme_id(conn, household_scheme, None)
    v_id = _scheme_id(conn, village_scheme, None)
    with conn.transaction():
        a = conn.execute(
            """
            INSERT INTO station_slots (station_id, slot_no, village_id, first_dividend_on)
            SELECT s.id, 1, s.village_id, %s FROM stations s WHERE s.kind = 'household'
            ON CONFLICT (station_id, slot_no) DO NOTHING
            """,
            (first_dividend_on,),
        ).rowcount
        b = conn.execute(
            """
            INSERT INTO station_slots (station_id, slot_no, village_id, first_dividend_on)
            SELECT h.served_by_station_id,
                   row_number() OVER (PARTITION BY h.served_by_station_id ORDER BY h.id),
                   h.village_id, %s
              FROM households h JOIN stations s ON s.id = h.served_by_station_id
             WHERE s.kind IN ('village', 'joint')
            ON CONFLICT (station_id, slot_no) DO NOTHING
            """,
            (first_dividend_on,),
        ).rowcount
        c = conn.execute(
            """
            INSERT INTO dividend_enrolments (slot_id, scheme_id, household_id, starts_on)
            SELECT sl.id, %s, s.owner_household_id, %s
              FROM station_slots sl JOIN stations s ON s.id = sl.station_id
             WHERE s.kind = 'household'
               AND NOT EXISTS (SELECT 1 FROM dividend_enrolments e WHERE e.slot_id = sl.id)
             ORDER BY hashint8(sl.id)  -- the GiST exclusion index fills faster unordered
            """,
            (h_id, starts),
        ).rowcount
        d = conn.execute(
            """
            WITH served AS (
                SELECT h.id, h.served_by_station_id AS station_id,
                       row_number() OVER (PARTITION BY h.served_by_station_id ORDER BY h.id) AS n
                  FROM households h JOIN stations s ON s.id = h.served_by_station_id
                 WHERE s.kind IN ('village', 'joint'))
            INSERT INTO dividend_enrolments (slot_id, scheme_id, household_id, starts_on)
            SELECT sl.id, %s, served.id, %s
              FROM served JOIN station_slots sl
                ON sl.station_id = served.station_id AND sl.slot_no = served.n
             WHERE NOT EXISTS (SELECT 1 FROM dividend_enrolments e WHERE e.slot_id = sl.id)
             ORDER BY hashint8(sl.id)
            """,
            (v_id, starts),
        ).rowcount
    return {
        "household_slots": a,
        "village_slots": b,
        "household_enrolments": c,
        "village_enrolments": d,
    }


def enrol(
    conn: psycopg.Connection,
    *,
    slot_id: int,
    scheme: str,
    starts_on: date,
    household_id: int | None = None,
    village_id: int | None = None,
    ends_on: date | None = None,
    end_reason: str | None = None,
    scheme_version: int | None = None,
) -> int:
    """Enrol a household (or a village collective) on a slot; returns the enrolment id.

    The database refuses a slot with two holders at once, and so a household holding the
    same slot twice over overlapping dates (:class:`DividendError` naming slot and dates).
    """
    if (household_id is None) == (village_id is None):
        raise ValidationError(f"enrolment on slot {slot_id}: give household_id or village_id")
    if end_reason is not None and end_reason not in END_REASONS:
        raise ValidationError(f"enrolment on slot {slot_id}: end_reason {end_reason!r} unknown")
    scheme_id = _scheme_id(conn, scheme, scheme_version)
    try:
        row = conn.execute(
            """INSERT INTO dividend_enrolments (slot_id, scheme_id, household_id, village_id,
                   starts_on, ends_on, end_reason) VALUES (%s, %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (slot_id, scheme_id, household_id, village_id, starts_on, ends_on, end_reason),
        ).fetchone()
    except pg_errors.ExclusionViolation as exc:
        who = f"household {household_id}" if household_id else f"village {village_id}"
        raise DividendError(
            f"enrolment of {who} on slot {slot_id} from {starts_on}: overlaps an existing "
            f"enrolment ({exc.diag.constraint_name})"
        ) from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"enrolment on slot {slot_id}: could not be stored") from exc
    assert row is not None
    return int(row[0])


def end_enrolment(
    conn: psycopg.Connection, enrolment_id: int, *, ends_on: date, reason: str
) -> None:
    """End an open enrolment on ``ends_on`` (exclusive) for ``reason``."""
    if reason not in END_REASONS:
        raise ValidationError(f"enrolment {enrolment_id}: end_reason {reason!r} unknown")
    cur = conn.execute(
        "UPDATE dividend_enrolments SET ends_on = %s, end_reason = %s"
        " WHERE id = %s AND ends_on IS NULL AND starts_on < %s",
        (ends_on, reason, enrolment_id, ends_on),
    )
    if cur.rowcount != 1:
        raise DividendError(
            f"enrolment {enrolment_id}: not open, or starts on/after ends_on {ends_on}"
        )


def reassign_slot(
    conn: psycopg.Connection,
    *,
    slot_id: int,
    to_household_id: int,
    on: date,
    reason: str = "reassigned",
    scheme: str | None = None,
) -> int:
    """Dynamic adjustment: end the slot's open enrolment on ``on`` and enrol another household
    from ``on``; each is then paid for its own days. Returns the new enrolment id."""
    with conn.transaction():
        row = conn.execute(
            """SELECT e.id, s.code FROM dividend_enrolments e
                 JOIN dividend_schemes s ON s.id = e.scheme_id
                WHERE e.slot_id = %s AND e.ends_on IS NULL FOR UPDATE OF e""",
            (slot_id,),
        ).fetchone()
        if row is None:
            raise DividendError(f"slot {slot_id}: no open enrolment to reassign")
        end_enrolment(conn, int(row[0]), ends_on=on, reason=reason)
        return enrol(
            conn,
            slot_id=slot_id,
            scheme=scheme or str(row[1]),
            starts_on=on,
            household_id=to_household_id,
        )


def set_benchmark_price(
    conn: psycopg.Connection, *, province: str, effective_from: date, yuan_per_kwh: Decimal
) -> None:
    """Coal benchmark price of a province from a date [yuan/kWh]."""
    conn.execute(
        """INSERT INTO benchmark_prices VALUES (%s, %s, %s)
           ON CONFLICT (province, effective_from)
           DO UPDATE SET yuan_per_kwh = excluded.yuan_per_kwh""",
        (province, effective_from, Decimal(yuan_per_kwh)),
    )


def set_tariff(
    conn: psycopg.Connection, *, tariff_ref: str, effective_from: date, yuan_per_kwh: Decimal
) -> None:
    """A station tariff (by ``stations.tariff_ref``) from a date [yuan/kWh]."""
    conn.execute(
        """INSERT INTO station_tariffs VALUES (%s, %s, %s)
           ON CONFLICT (tariff_ref, effective_from)
           DO UPDATE SET yuan_per_kwh = excluded.yuan_per_kwh""",
        (tariff_ref, effective_from, Decimal(yuan_per_kwh)),
    )


def add_deduction(
    conn: psycopg.Connection,
    *,
    seq: int,
    kind: str,
    county_id: int | None = None,
    station_id: int | None = None,
    yearly_fen: int | None = None,
    rate: Decimal | None = None,
    effective_from: date = date(2000, 1, 1),
    effective_to: date | None = None,
) -> int:
    """A deduction rule: fixed [fen/year] or a share of gross revenue, per county or station."""
    if (county_id is None) == (station_id is None):
        raise ValidationError(f"deduction {kind}: give county_id or station_id")
    if (yearly_fen is None) == (rate is None):
        raise ValidationError(f"deduction {kind}: give yearly_fen (fixed) or rate (share)")
    method = "fixed" if yearly_fen is not None else "share"
    try:
        row = conn.execute(
            """INSERT INTO deduction_rules (county_id, station_id, seq, kind, method, yearly_fen,
                   rate, effective_from, effective_to)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                county_id,
                station_id,
                seq,
                kind,
                method,
                yearly_fen,
                rate,
                effective_from,
                effective_to,
            ),
        ).fetchone()
    except psycopg.Error as exc:
        raise ValidationError(
            f"deduction {kind} (seq {seq}): refused by the database (kind, rate or dates)"
        ) from exc
    assert row is not None
    return int(row[0])
