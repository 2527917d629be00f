"""Fleet registry records as they appear in fleet files (YAML or CSV), validated.

References between records use codes (village code, station code, household file
number), never database ids, so a fleet file can be written by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pvmon.privacy import id_number_problem

__all__ = [
    "REGISTER_MAPS",
    "CountyRecord",
    "EndpointOptionsRecord",
    "FleetFile",
    "HouseholdRecord",
    "InverterRecord",
    "LooseInverter",
    "PovertyPeriod",
    "ShareRecord",
    "StationRecord",
    "TownshipRecord",
    "VillageRecord",
    "duplicate_codes",
]

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
#: a name as people write it: no control characters (newlines, tabs, NUL), which no
#: person's, village's or bank's name has and which break bank files and notices
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class VillageRecord(_Record):
    code: Code
    name: Name


class TownshipRecord(_Record):
    code: Code
    name: Name
    villages: list[VillageRecord] = Field(default_factory=list)


class CountyRecord(_Record):
    code: Code
    name: Name
    province: str | None = None
    townships: list[TownshipRecord] = Field(default_factory=list)


class PovertyPeriod(_Record):
    entered_on: date
    left_on: date | None = None
    status: Literal["registered", "out_of_poverty", "monitored"] = "registered"

    @model_validator(mode="after")
    def _ordered(self) -> PovertyPeriod:
        if self.left_on is not None and self.left_on < self.entered_on:
            raise ValueError("left_on is before entered_on")
        return self


class HouseholdRecord(_Record):
    file_no: Code
    name: Annotated[Name, Field(max_length=50)]
    village: Code
    id_number: str
    bank_name: Name | None = None
    bank_account: str | None = Field(default=None, pattern=r"^[0-9]{12,30}$")
    members: int = Field(default=1, ge=1, le=30)
    served_by_station: Code | None = None
    poverty: list[PovertyPeriod] = Field(default_factory=list)

    @field_validator("id_number")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        value = value.upper()
        problem = id_number_problem(value)
        if problem:
            raise ValueError(f"not a valid ID number: {problem}")
        return value


#: the register maps pvmon speaks (``pvmon.registermaps`` builds them)
REGISTER_MAPS: tuple[str, ...] = ("sunspec", "huawei_sun2000", "huawei_sun2000_lw")


class EndpointOptionsRecord(_Record):
    """Per-endpoint behaviour (``collectors.poller.EndpointOptions``); only the keys given
    are stored, the rest keep the collector's defaults. Times in seconds [s]."""

    timeout_s: float | None = Field(default=None, gt=0, le=60)
    connect_delay_s: float | None = Field(default=None, ge=0, le=60)
    max_connect_delay_s: float | None = Field(default=None, ge=0, le=60)
    min_gap_s: float | None = Field(default=None, ge=0, le=60)
    max_min_gap_s: float | None = Field(default=None, ge=0, le=60)
    accept_tid_zero: bool | None = None
    backoff_base_s: float | None = Field(default=None, gt=0, le=3600)
    backoff_max_s: float | None = Field(default=None, gt=0, le=86_400)
    max_timeout_s: float | None = Field(default=None, gt=0, le=120)
    rtu_guard_s: float | None = Field(default=None, ge=0, le=60)
    reprobe_s: float | None = Field(default=None, ge=60, le=7 * 86_400)
    night_interval_s: float | None = Field(default=None, ge=1, le=86_400)

    def stored(self) -> dict[str, Any]:
        """The options given, as stored in ``inverters.endpoint_options``."""
        return self.model_dump(exclude_none=True)


class InverterRecord(_Record):
    serial: Code
    vendor: str = Field(min_length=1)
    model: str = Field(min_length=1)
    rated_ac_w: int = Field(gt=0, le=1_000_000)
    phases: int
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    unit_id: int = Field(ge=0, le=247)
    framing: Literal["tcp", "rtu-over-tcp"] = "tcp"
    register_map: str = Field(min_length=1)
    poll_interval_s: int = Field(default=60, ge=1, le=86400)
    endpoint_options: EndpointOptionsRecord = Field(default_factory=EndpointOptionsRecord)

    @field_validator("register_map")
    @classmethod
    def _known_map(cls, value: str) -> str:
        if value not in REGISTER_MAPS:
            raise ValueError(f"unknown register map {value!r}: one of {', '.join(REGISTER_MAPS)}")
        return value

    @field_validator("phases")
    @classmethod
    def _one_or_three(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        return value


class ShareRecord(_Record):
    village: Code
    weight: Decimal = Field(gt=0)


class StationRecord(_Record):
    code: Code
    name: Name
    kind: Literal["household", "village", "joint"]
    capacity_kwp: Decimal = Field(gt=0, le=100_000, decimal_places=3)
    village: Code
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    tilt_deg: float = Field(default=30, ge=0, le=90)
    azimuth_deg: float = Field(default=180, ge=0, le=360)
    commissioned_on: date | None = None
    grid_connected_on: date | None = None
    tariff_ref: str | None = None
    #: the O&M contractor who keeps the station running (availability is reported per
    #: contractor); optional
    om_contractor: Name | None = None
    owner_household: Code | None = None
    shares: list[ShareRecord] = Field(default_factory=list)
    inverters: list[InverterRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _kind_rules(self) -> StationRecord:
        if self.kind == "household" and not self.owner_household:
            raise ValueError("a household station needs owner_household")
        if self.kind != "household" and self.owner_household:
            raise ValueError(f"a {self.kind} station has no owner_household")
        if self.kind == "joint" and len(self.shares) < 2:
            raise ValueError("a joint station needs shares for at least two villages")
        if self.kind != "joint" and self.shares:
            raise ValueError("only joint stations have shares")
        return self


class LooseInverter(_Record):
    """An inverter given apart from its station (a CSV row); ``where`` names the row."""

    where: str
    station: Code
    inverter: InverterRecord


class FleetFile(_Record):
    """Everything a fleet file may hold; every part is optional."""

    counties: list[CountyRecord] = Field(default_factory=list)
    households: list[HouseholdRecord] = Field(default_factory=list)
    stations: list[StationRecord] = Field(default_factory=list)
    loose_inverters: list[LooseInverter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _each_code_once(self) -> FleetFile:
        """A code given twice in one import is an error naming both places (the database
        would otherwise refuse the whole import in its own words)."""
        problems = duplicate_codes(self)
        if problems:
            raise ValueError("; ".join(problems[:20]) + _more(len(problems) - 20))
        return self


def duplicate_codes(fleet: FleetFile) -> list[str]:
    """Each code (serial, file number, ID number) given twice in ``fleet``, naming both
    places; an ID number is named, never echoed."""
    places: dict[tuple[str, str], str] = {}
    problems: list[str] = []

    def once(kind: str, code: str, where: str, *, shown: bool = True) -> None:
        first = places.setdefault((kind, code), where)
        if first != where:
            what = f"{kind} {code!r}" if shown else kind
            problems.append(f"{where}: {what} is given twice (also {first})")

    for c, county in enumerate(fleet.counties):
        once("county", county.code, f"counties[{c}]")
        for t, township in enumerate(county.townships):
            once("township", township.code, f"counties[{c}].townships[{t}]")
            for v, village in enumerate(township.villages):
                once("village", village.code, f"counties[{c}].townships[{t}].villages[{v}]")
    for h, household in enumerate(fleet.households):
        once("household", household.file_no, f"households[{h}]")
        once("id_number", household.id_number, f"households[{h}]", shown=False)
    for s, station in enumerate(fleet.stations):
        once("station", station.code, f"stations[{s}]")
        if station.owner_household:
            once("owner_household", station.owner_household, f"stations[{s}]")
    inverters = [
        *(
            (f"stations[{s}].inverters[{i}]", inverter)
            for s, station in enumerate(fleet.stations)
            for i, inverter in enumerate(station.inverters)
        ),
        *((loose.where, loose.inverter) for loose in fleet.loose_inverters),
    ]
    for where, inverter in inverters:
        once("inverter", inverter.serial, where)
    return problems


def _more(count: int) -> str:
    return f" (and {count} more)" if count > 0 else ""
