"""Response and request models of the API, with examples.

Units are in the field names: ``_w`` [W], ``_wh`` [Wh], ``_kwh`` [kWh], ``_kwp`` [kWp],
``_fen`` integer fen, ``_yuan`` a display string in yuan (two decimals, exact).
Times are ISO 8601 in UTC; ``day`` fields are China Standard Time calendar days.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AdjustmentCreate",
    "Alarm",
    "AlarmAck",
    "EnergyPeriods",
    "Enrolment",
    "ExpectedVsActual",
    "FleetSummary",
    "Household",
    "ImportResult",
    "InverterDetail",
    "InverterPatch",
    "InverterRow",
    "KeyRow",
    "LatestReading",
    "LearnedSetting",
    "Page",
    "PayeeStatement",
    "Place",
    "Problem",
    "ProblemField",
    "RunCreate",
    "RunLine",
    "RunSummaryOut",
    "ScheduleOut",
    "ScheduleYearOut",
    "Scheme",
    "SchemeComponent",
    "SeriesOut",
    "SeriesPoint",
    "StatementLine",
    "StatementYear",
    "StationDetail",
    "StationPatch",
    "StationRow",
]

T = TypeVar("T")
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Comment = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemField(_Out):
    """One rejected input field."""

    field: str = Field(examples=["query.bucket"])
    message: str = Field(examples=["Input should be '5min', '15min', '30min', '1h', ..."])


class Problem(_Out):
    """RFC 9457 problem details: the body of every error (``application/problem+json``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": "role 'viewer' does not have 'finance' access",
                    "instance": "/v1/runs",
                }
            ]
        }
    )
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemField] | None = None


class Page(_Out, Generic[T]):
    """One page of a list: ``items`` from ``offset``, at most ``limit``, of ``total``."""

    items: list[T]
    total: int = Field(ge=0, examples=[206])
    limit: int = Field(ge=1, examples=[100])
    offset: int = Field(ge=0, examples=[0])


class EnergyPeriods(_Out):
    """Energy from the start of the local day, month and year to ``as_of``."""

    as_of: datetime | None = Field(
        default=None,
        description="when these figures were computed: at most PVMON_API_ENERGY_MAX_AGE_S "
        "seconds before the answer (a year of daily energy is costly to add up)",
    )

    today_wh: int = Field(examples=[1_234_567])
    month_wh: int = Field(examples=[45_678_901])
    year_wh: int = Field(examples=[456_789_012])
    today_kwh: float = Field(examples=[1234.567])
    month_kwh: float = Field(examples=[45678.901])
    year_kwh: float = Field(examples=[456789.012])


class FleetSummary(_Out):
    """The fleet (or the key's county) at a glance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2025-06-01T04:00:00Z",
                    "county": None,
                    "stations": 207,
                    "inverters": 218,
                    "capacity_kwp": 1987.2,
                    "stations_by_state": {"online": 200, "offline": 5, "fault": 2},
                    "inverters_by_state": {"online": 210, "offline": 6, "fault": 2},
                    "power_w": 1_250_000.0,
                    "energy": {
                        "today_wh": 1_234_567,
                        "month_wh": 45_678_901,
                        "year_wh": 456_789_012,
                        "today_kwh": 1234.567,
                        "month_kwh": 45678.901,
                        "year_kwh": 456789.012,
                    },
                    "online_ratio": 0.963,
                }
            ]
        }
    )
    as_of: datetime
    county: str | None = Field(description="county code the figures are limited to, if any")
    stations: int
    inverters: int
    capacity_kwp: float
    stations_by_state: dict[str, int]
    inverters_by_state: dict[str, int]
    power_w: float = Field(description="sum of each inverter's latest AC power in 15 min [W]")
    energy: EnergyPeriods
    online_ratio: float = Field(ge=0, le=1, description="inverters online or sleeping")


class StationRow(_Out):
    """A station in a list."""

    code: str = Field(examples=["LY-H0001"])
    name: str = Field(examples=["张家村户用电站"])
    kind: Literal["household", "village", "joint"]
    capacity_kwp: float = Field(examples=[4.32])
    county: str = Field(examples=["LY"])
    township: str = Field(examples=["LY-T01"])
    village: str = Field(examples=["LY-T01-V01"])
    latitude: float
    longitude: float
    inverters: int = Field(examples=[1])
    state: Literal["online", "sleeping", "offline", "fault", "unknown"]


class LatestReading(_Out):
    """An inverter's latest reading."""

    time: datetime
    ac_power_w: float | None
    energy_wh: int | None = Field(description="lifetime counter [Wh]")
    temperature_c: float | None
    state: int | None = Field(description="SunSpec operating state code")


class InverterRow(_Out):
    """An inverter with its health."""

    serial: str = Field(examples=["SIM-000123"])
    station: str = Field(examples=["LY-H0001"])
    vendor: str
    model: str
    rated_ac_w: int = Field(examples=[4000])
    phases: int = Field(examples=[1])
    register_map: str
    state: Literal["online", "sleeping", "offline", "fault", "unknown"]
    since: datetime | None
    last_good_at: datetime | None
    learned: list[Literal["accept_tid_zero", "min_gap_s"]] = Field(
        default_factory=list,
        description="Settings the collector learned from this inverter's endpoint "
        "(details in the inverter's endpoint_learned)",
    )


class LearnedSetting(_Out):
    """A setting the collector learned from an endpoint's replies (the fleet file's
    ``endpoint_options`` win over it)."""

    setting: Literal["accept_tid_zero", "min_gap_s"]
    value: bool | float = Field(description="true for a flag; seconds for min_gap_s [s]")
    why: str = Field(examples=["the logger answers with transaction id 0"])
    learned_at: datetime


class InverterDetail(InverterRow):
    """An inverter with its connection, latest reading and what was learned about its
    endpoint."""

    host: str
    port: int
    unit_id: int
    framing: str
    poll_interval_s: int
    consecutive_failures: int
    last_error: str | None
    latest: LatestReading | None
    endpoint_learned: list[LearnedSetting] = Field(default_factory=list)


class ExpectedVsActual(_Out):
    """Actual energy beside the expected yield (typical year spread evenly over its days)."""

    period_start: date
    period_end: date = Field(description="inclusive, today")
    expected_kwh: float
    actual_kwh: float
    ratio: float | None = Field(description="actual / expected")


class StationDetail(StationRow):
    """A station with its inverters, latest readings and today's energy."""

    tilt_deg: float
    azimuth_deg: float
    commissioned_on: date | None
    tariff_ref: str | None
    power_w: float = Field(description="sum of the inverters' latest AC power in 15 min [W]")
    latest_reading_at: datetime | None
    energy_today_wh: int
    energy_today_kwh: float
    expected_vs_actual: ExpectedVsActual
    inverter_list: list[InverterDetail]


class StationPatch(BaseModel):
    """Editable fields of a station (admin); omitted fields are unchanged."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "新名"}]})
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00]+$")
    tilt_deg: float | None = Field(default=None, ge=0, le=90)
    azimuth_deg: float | None = Field(default=None, ge=0, le=360)
    commissioned_on: date | None = None
    tariff_ref: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^\x00]+$")


class InverterPatch(BaseModel):
    """Editable fields of an inverter (admin); omitted fields are unchanged."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"poll_interval_s": 30}]}
    )
    host: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:-]+$"
    )
    port: int | None = Field(default=None, ge=1, le=65535)
    unit_id: int | None = Field(default=None, ge=0, le=247)
    poll_interval_s: int | None = Field(default=None, ge=1, le=86400)


class SeriesPoint(_Out):
    """One bucket of a time series."""

    time: datetime = Field(description="bucket start [UTC]")
    energy_wh: int | None = Field(
        description="energy from the lifetime counter in the bucket [Wh]; null when nothing "
        "is known of it (every reading of the day came before sunrise and none after)"
    )
    energy_kwh: float | None
    estimated_wh: int = Field(
        default=0,
        description="the part of energy_wh placed in this bucket from a counter's rise over a "
        "gap in the readings, split by the sun expected in each part of the gap [Wh]",
    )
    power_avg_w: float | None = Field(description="mean sampled AC power [W]")


class SeriesOut(_Out):
    """Power and energy of a station or an inverter."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "station",
                    "code": "LY-H0001",
                    "bucket": "1d",
                    "start": "2025-05-31T16:00:00Z",
                    "end": "2025-06-02T16:00:00Z",
                    "source": "energy_daily",
                    "points": [
                        {
                            "time": "2025-05-31T16:00:00Z",
                            "energy_wh": 18_500,
                            "energy_kwh": 18.5,
                            "estimated_wh": 0,
                            "power_avg_w": 1540.2,
                        }
                    ],
                }
            ]
        }
    )
    subject: Literal["station", "inverter"]
    code: str
    bucket: str
    start: datetime
    end: datetime
    source: str = Field(description="relation the figures come from")
    points: list[SeriesPoint]


class Alarm(_Out):
    """An alarm: opened, maybe acknowledged, maybe closed."""

    id: int = Field(examples=[42])
    station: str
    inverter: str | None
    kind: Literal["offline", "no_output", "fault_code", "underperforming", "misconfigured"]
    opened_at: datetime
    closed_at: datetime | None
    reason: str
    close_reason: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_comment: str | None


class AlarmAck(BaseModel):
    """Acknowledge an alarm with a comment."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "crew sent, fuse replaced"}]}
    )
    comment: Comment


class Place(_Out):
    """A county, township or village."""

    level: Literal["county", "township", "village"]
    code: str = Field(examples=["LY-T01-V01"])
    name: str
    parent: str | None = Field(description="code of the enclosing place")


class ImportResult(_Out):
    """Rows inserted and updated per table by a registry import."""

    inserted: dict[str, int]
    updated: dict[str, int]
    changed: int


class KeyRow(_Out):
    """An API key without its secret."""

    name: str
    role: str
    county: str | None
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="last accepted request, to the minute (recorded at most once a minute)"
    )


class SchemeComponent(_Out):
    """One payee of a scheme."""

    component: str = Field(examples=["household"])
    payee_role: str = Field(examples=["enrollee"])
    basis: str = Field(examples=["fixed"])
    yearly_fen: int = Field(examples=[110_000])
    yearly_yuan: str = Field(examples=["1100.00"])
    share: float | None


class Scheme(_Out):
    """A dividend scheme version."""

    code: str = Field(examples=["household_own"])
    version: int
    effective_from: date
    effective_to: date | None
    years: int = Field(examples=[20])
    transfer_after_years: int | None
    policy: str
    description: str
    components: list[SchemeComponent]


class Household(_Out):
    """A registered household; personal data masked unless the role permits."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "file_no": "LY-HH00001",
                    "name": "张*丰",
                    "village": "LY-T01-V01",
                    "township": "LY-T01",
                    "county": "LY",
                    "id_number": "2113**********1234",
                    "bank_name": "农村信用社",
                    "bank_account": "***************8901",
                    "members": 3,
                    "served_by_station": None,
                    "own_station": "LY-H0001",
                    "masked": True,
                }
            ]
        }
    )
    file_no: str
    name: str
    village: str
    township: str
    county: str
    id_number: str
    bank_name: str | None
    bank_account: str | None
    members: int
    served_by_station: str | None
    own_station: str | None
    masked: bool


class Enrolment(_Out):
    """A household (or a village collective) holding a station slot under a scheme."""

    id: int
    station: str
    slot_no: int
    household: str | None = Field(description="file number; None for a collective")
    collective_village: str | None
    scheme: str
    scheme_version: int
    starts_on: date
    ends_on: date | None = Field(description="exclusive")
    end_reason: str | None
    first_dividend_on: date


class RunCreate(BaseModel):
    """A draft run for a period and scope."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"period": "2025", "scope_kind": "county", "scope_codes": ["LY"]}]
        },
    )
    period: str = Field(pattern=r"^[0-9]{4}(-(H[12]|Q[1-4]))?$", examples=["2025", "2025-H1"])
    scope_kind: Literal["all", "county", "township", "village", "stations"] = "all"
    scope_codes: list[Code] = Field(default_factory=list, max_length=1000)
    note: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$")


class AdjustmentCreate(BaseModel):
    """Why an approved run is corrected (kept on the adjustment run)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "LY0000001 left poverty on 2025-07-01"}]},
    )
    note: Comment


class RunSummaryOut(_Out):
    """A run with its totals."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "status": "draft",
                    "kind": "regular",
                    "period_label": "2025",
                    "scope_kind": "county",
                    "scope_codes": ["LY"],
                    "created_by": "clerk",
                    "created_at": "2026-01-05T02:00:00Z",
                    "approved_by": None,
                    "approved_at": None,
                    "corrects_run_id": None,
                    "exported_at": None,
                    "paid_at": None,
                    "note": "",
                    "lines": 740,
                    "units": 210,
                    "revenue_fen": 150_000_000,
                    "revenue_yuan": "1500000.00",
                    "deductions_fen": 3_000_000,
                    "deductions_yuan": "30000.00",
                    "obligations_fen": 70_000_000,
                    "obligations_yuan": "700000.00",
                    "paid_fen": 70_000_000,
                    "paid_yuan": "700000.00",
                    "arrears_paid_fen": 0,
                    "arrears_paid_yuan": "0.00",
                    "estimated_units": 0,
                    "shortfall_fen": 0,
                    "shortfall_yuan": "0.00",
                    "residual_fen": 77_000_000,
                    "residual_yuan": "770000.00",
                }
            ]
        }
    )
    id: int
    status: Literal["draft", "approved", "exported", "paid", "discarded"]
    kind: Literal["regular", "adjustment"]
    period_label: str
    scope_kind: str
    scope_codes: list[str]
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    corrects_run_id: int | None = Field(description="the run an adjustment run corrects")
    exported_at: datetime | None = Field(description="first bank file issued")
    paid_at: datetime | None = Field(description="marked paid by the bank")
    note: str
    lines: int
    units: int
    revenue_fen: int
    revenue_yuan: str
    deductions_fen: int
    deductions_yuan: str
    obligations_fen: int
    obligations_yuan: str
    paid_fen: int = Field(description="paid for the period's own obligations")
    paid_yuan: str
    arrears_paid_fen: int = Field(description="arrears of earlier periods paid in this run")
    arrears_paid_yuan: str
    estimated_units: int = Field(description="units whose energy has estimated days")
    shortfall_fen: int
    shortfall_yuan: str
    residual_fen: int
    residual_yuan: str


class RunEventOut(_Out):
    """One state change of a run: what, who (the key's name) and when."""

    event: Literal["created", "recomputed", "approved", "exported", "paid", "adjusted", "discarded"]
    actor: str
    at: datetime
    detail: str


class RunDiscard(BaseModel):
    """Why a draft is discarded."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$")


class RunLine(_Out):
    """One ledger line of a run with its basis."""

    id: int
    line_kind: str
    station: str
    payee_kind: Literal["household", "collective"]
    payee: str = Field(description="household file number or village code")
    scheme: str
    component: str
    policy: str
    period_start: date
    period_end: date
    days_enrolled: int
    energy_wh: int
    obligation_fen: int
    obligation_yuan: str
    factor: float
    amount_fen: int
    amount_yuan: str


class StatementLine(_Out):
    """What one line of an approved run paid the household, and why."""

    run_id: int
    run_kind: str
    period_label: str
    line_kind: str
    station: str
    scheme: str
    component: str
    policy: str
    days_enrolled: int
    energy_wh: int = Field(description="the allocation unit's energy [Wh]")
    estimated_days: int
    revenue_fen: int
    deductions_fen: int
    obligation_fen: int
    factor: float = Field(description="share of the obligation the revenue covered")
    paid_fen: int
    arrears_paid_fen: int
    amount_fen: int
    amount_yuan: str


class StatementYear(_Out):
    """A household's dividend year: the scheme amount and what was paid."""

    year: int
    expected_fen: int
    expected_yuan: str
    paid_fen: int
    paid_yuan: str
    lines: list[StatementLine]


class PayeeStatement(_Out):
    """What a household got each year and why."""

    household: Household
    years: list[StatementYear]


class ScheduleYearOut(_Out):
    """One year of a station's schedule."""

    year: int
    scheme_year: int
    expected_energy_kwh: float
    expected_revenue_fen: int
    expected_revenue_yuan: str
    expected_deductions_fen: int
    obligations_fen: int
    obligations_yuan: str
    coverage: float | None
    at_risk: bool
    actual_energy_kwh: float | None
    actual_revenue_fen: int | None
    actual_paid_fen: int | None


class ScheduleOut(_Out):
    """A station's 20-year dividend schedule (25 with the transfer horizon)."""

    station: str
    kind: str
    capacity_kwp: float
    specific_yield_kwh_per_kwp: float
    tariff_yuan_per_kwh: float
    deduction_rate: float
    first_year: int
    years_at_risk: list[int]
    years: list[ScheduleYearOut]
