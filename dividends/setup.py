"""A county's dividend settings from one file: prices, schemes, enrolment, deductions.

``pvmon dividends setup FILE`` reads a YAML (or JSON) file like this::

    first_dividend_on: 2017-01-01          # the slots' first dividend day
    benchmark:                             # coal benchmark [yuan/kWh] by province
      - {province: 辽宁省, from: 2015-01-01, yuan_per_kwh: "0.3749"}
    tariffs:                               # station tariffs [yuan/kWh] by tariff_ref
      - {tariff_ref: LN-2017-household, from: 2015-01-01, yuan_per_kwh: "0.98"}
    schemes:                               # beside the standard household_own/village_slot
      - code: village_slot_cf
        policy: pro_rata_carry_forward     # guaranteed | pro_rata | pro_rata_carry_forward
        years: 20
        components:
          - {component: household, yearly_yuan: "900"}
          - {component: collective, payee_role: village_collective, yearly_yuan: "100"}
    enrol:                                 # which scheme the registry's stations get
      household_scheme: household_own
      village_scheme: village_slot_cf
    deductions:                            # before dividends, in seq order
      - {county: LY, seq: 1, kind: om_fee, rate: "0.029"}
      - {county: LY, seq: 2, kind: land_rent, yearly_yuan: "1200"}

Every problem of the file is reported at once (``FILE: key.path: why``) and nothing is
written unless the whole file is valid and every code it names exists; then it is
written in one transaction. Applying the same file again changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from dividends.schemes import (
    STANDARD_SCHEMES,
    Component,
    SchemeSpec,
    add_deduction,
    define_scheme,
    enrol_registry,
    set_benchmark_price,
    set_tariff,
)
from pvmon.errors import DatabaseError, ValidationError
from pvmon.safeyaml import load_yaml, read_text

__all__ = ["CountySetup", "apply_setup", "load_setup_file"]

#: the largest settings file read by default [bytes] (``PVMON_SETUP_FILE_MAX_BYTES``)
MAX_SETUP_BYTES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Price(_Strict):
    from_: date = Field(alias="from")
    yuan_per_kwh: Decimal = Field(ge=0, le=10, decimal_places=6)


class Benchmark(_Price):
    province: str = Field(min_length=1, max_length=64)


class Tariff(_Price):
    tariff_ref: str = Field(min_length=1, max_length=64)


class ComponentSpec(_Strict):
    component: str = Field(min_length=1, max_length=64)
    payee_role: Literal["enrollee", "village_collective"] = "enrollee"
    yearly_yuan: Decimal = Field(ge=0, le=1_000_000, decimal_places=2)


class SchemeEntry(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    policy: Literal["guaranteed", "pro_rata", "pro_rata_carry_forward"] = "guaranteed"
    years: int = Field(default=20, ge=1, le=50)
    transfer_after_years: int | None = Field(default=None, ge=1, le=50)
    description: str = Field(default="", max_length=500)
    components: list[ComponentSpec] = Field(min_length=1, max_length=10)


class Enrol(_Strict):
    household_scheme: str = "household_own"
    village_scheme: str = "village_slot"


class Deduction(_Strict):
    county: str | None = None
    station: str | None = None
    seq: int = Field(ge=1, le=100)
    kind: Literal["land_rent", "om_fee", "reserve", "insurance", "tax", "other"]
    rate: Decimal | None = Field(default=None, ge=0, le=1, decimal_places=6)
    yearly_yuan: Decimal | None = Field(default=None, ge=0, le=100_000_000, decimal_places=2)
    from_: date = Field(default=date(2000, 1, 1), alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _one_each(self) -> Deduction:
        if (self.county is None) == (self.station is None):
            raise ValueError("give county or station (one of them)")
        if (self.rate is None) == (self.yearly_yuan is None):
            raise ValueError("give rate (a share of revenue) or yearly_yuan (fixed)")
        if self.to is not None and self.to <= self.from_:
            raise ValueError("to must be after from")
        return self


class CountySetup(_Strict):
    """The validated settings file."""

    first_dividend_on: date
    benchmark: list[Benchmark] = Field(default_factory=list, max_length=1000)
    tariffs: list[Tariff] = Field(default_factory=list, max_length=1000)
    schemes: list[SchemeEntry] = Field(default_factory=list, max_length=100)
    enrol: Enrol = Enrol()
    deductions: list[Deduction] = Field(default_factory=list, max_length=10_000)


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p).rstrip("_") for p in loc) or "(file)"


def load_setup_file(path: Path | str, *, max_bytes: int = MAX_SETUP_BYTES) -> CountySetup:
    """Read and validate a settings file of at most ``max_bytes`` [bytes];
    :class:`ValidationError` lists every problem."""
    path = Path(path)
    raw: Any = load_yaml(read_text(path, max_bytes=max_bytes), where=path.name)
    if not isinstance(raw, dict):
        raise ValidationError(f"{path.name}: expected a mapping of settings at the top")
    try:
        setup = CountySetup.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [f"{path.name}: {_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ValidationError(problems[0], problems) from exc
    known = {s.code for s in STANDARD_SCHEMES} | {s.code for s in setup.schemes}
    problems = [
        f"{path.name}: enrol.{key}: unknown scheme {code!r}"
        for key, code in setup.enrol.model_dump().items()
        if code not in known
    ]
    if problems:
        raise ValidationError(problems[0], problems)
    return setup


def _fen(yuan: Decimal) -> int:
    return int(yuan * 100)


def _ids(conn: psycopg.Connection, table: str, codes: set[str]) -> dict[str, int]:
    rows = conn.execute(f"SELECT code, id FROM {table} WHERE code = ANY(%s)", (sorted(codes),))
    return {str(code): int(i) for code, i in rows.fetchall()}


def _deductions(conn: psycopg.Connection, setup: CountySetup, name: str) -> int:
    counties = _ids(conn, "counties", {d.county for d in setup.deductions if d.county})
    stations = _ids(conn, "stations", {d.station for d in setup.deductions if d.station})
    problems = [
        f"{name}: deductions.{i}.{'county' if d.county else 'station'}: unknown code "
        f"{d.county or d.station!r}"
        for i, d in enumerate(setup.deductions)
        if (d.county and d.county not in counties) or (d.station and d.station not in stations)
    ]
    if problems:
        raise ValidationError(problems[0], problems)
    added = 0
    for d in setup.deductions:
        county_id = counties.get(d.county) if d.county else None
        station_id = stations.get(d.station) if d.station else None
        exists = conn.execute(
            """SELECT 1 FROM deduction_rules WHERE county_id IS NOT DISTINCT FROM %s
                  AND station_id IS NOT DISTINCT FROM %s AND seq = %s AND kind = %s
                  AND effective_from = %s""",
            (county_id, station_id, d.seq, d.kind, d.from_),
        ).fetchone()
        if exists:
            continue
        add_deduction(
            conn,
            seq=d.seq,
            kind=d.kind,
            county_id=county_id,
            station_id=station_id,
            yearly_fen=_fen(d.yearly_yuan) if d.yearly_yuan is not None else None,
            rate=d.rate,
            effective_from=d.from_,
            effective_to=d.to,
        )
        added += 1
    return added


def apply_setup(conn: psycopg.Connection, setup: CountySetup, *, name: str) -> dict[str, int]:
    """Write the settings in one transaction (all or nothing); returns counts of what
    was added. ``name`` (the file's name) prefixes error messages."""
    specs = [
        *STANDARD_SCHEMES,
        *(
            SchemeSpec(
                code=s.code,
                policy=s.policy,
                years=s.years,
                transfer_after_years=s.transfer_after_years,
                description=s.description,
                components=tuple(
                    Component(c.component, payee_role=c.payee_role, yearly_fen=_fen(c.yearly_yuan))
                    for c in s.components
                ),
            )
            for s in setup.schemes
        ),
    ]
    try:
        with conn.transaction():
            for spec in specs:
                define_scheme(conn, spec)
            counts = enrol_registry(
                conn,
                first_dividend_on=setup.first_dividend_on,
                household_scheme=setup.enrol.household_scheme,
                village_scheme=setup.enrol.village_scheme,
            )
            for b in setup.benchmark:
                set_benchmark_price(
                    conn, province=b.province, effective_from=b.from_, yuan_per_kwh=b.yuan_per_kwh
                )
            for t in setup.tariffs:
                set_tariff(
                    conn,
                    tariff_ref=t.tariff_ref,
                    effective_from=t.from_,
                    yuan_per_kwh=t.yuan_per_kwh,
                )
            counts["deductions"] = _deductions(conn, setup, name)
    except psycopg.Error as exc:
        raise DatabaseError(f"{name}: writing the settings failed") from exc
    return counts
