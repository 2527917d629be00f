"""Availability and lost energy as pure functions (IEC 61724-3 in spirit).

Inputs are per inverter: its rating [kWp], its lifetime-counter samples, the outage reports
that name it (alarms: ``offline``, ``no_output``, ``fault_code``) and its station's
maintenance windows; outputs are, per inverter and local day, the expected production
period (the daylight hours: sun above a threshold at the site), the part of it in which
the inverter could produce, its actual energy and its losses, each with a cause:

- ``communication``: an ``offline`` report across which the counter rose by at least
  ``comm_share`` of what the inverter should have produced: the logger was silent, the
  inverter was not; no lost energy, availability unaffected;
- ``maintenance``: any outage within an operator's maintenance window;
- ``grid``: the inverter reported a grid disconnect, or every other inverter of its
  village was down at the same time;
- ``inverter_fault``: any other outage (a fault code, no output, silence with no
  production).

The lost energy of an outage is what the village's other inverters produced meanwhile
per kWp of rating, times the inverter's rating; when no other inverter of the village
was up throughout, it is the site's expected yield (``expected_wh``, supplied by the
caller). Energy is [Wh] as float inside, rounded to whole Wh in the results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "CAUSES",
    "PENALTY_CAUSES",
    "Cause",
    "InverterDay",
    "InverterInput",
    "Loss",
    "Outage",
    "Sample",
    "Totals",
    "assess",
    "counter_between_wh",
    "daylight",
    "local_days",
    "lost_revenue_fen",
    "ratio",
    "totals",
]

Cause = Literal["grid", "inverter_fault", "communication", "maintenance"]
CAUSES: tuple[Cause, ...] = ("grid", "inverter_fault", "communication", "maintenance")
#: causes an O&M contractor answers for (finance's penalty base): not the grid's, and
#: not a silent logger's (which lost nothing)
PENALTY_CAUSES: tuple[Cause, ...] = ("inverter_fault", "maintenance")
OUTAGE_KINDS = ("offline", "no_output", "fault_code")
_LOCAL = ZoneInfo("Asia/Shanghai")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Sample:
    """A lifetime-counter reading [Wh] at ``time`` (UTC)."""

    time: datetime
    energy_wh: int


@dataclass(frozen=True)
class Outage:
    """An outage report: an alarm of ``kind`` from ``start`` to ``end`` (None: still open).

    ``grid_code``: the inverter reported a grid disconnect while it lasted."""

    kind: str
    start: datetime
    end: datetime | None
    grid_code: bool = False

    def __post_init__(self) -> None:
        if self.kind not in OUTAGE_KINDS:
            raise ValueError(f"outage kind {self.kind!r}: one of {', '.join(OUTAGE_KINDS)}")
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise ValueError("outage times must be timezone-aware")
        if self.end is not None and self.end < self.start:
            raise ValueError("outage ends before it starts")


@dataclass(frozen=True)
class InverterInput:
    """One inverter: station, village, site, rating [kWp], counter samples, outages."""

    inverter_id: int
    station: str
    village: str
    latitude: float
    longitude: float
    kwp: float
    samples: tuple[Sample, ...] = ()
    outages: tuple[Outage, ...] = ()

    def __post_init__(self) -> None:
        if not self.kwp > 0:
            raise ValueError(f"inverter {self.inverter_id}: rating must be positive [kWp]")
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError(f"inverter {self.inverter_id}: latitude/longitude out of range")
        times = [s.time for s in self.samples]
        if times != sorted(times):
            raise ValueError(f"inverter {self.inverter_id}: samples must be in time order")


@dataclass(frozen=True)
class Loss:
    """A stretch of an outage within one day's production period, with its cause.

    ``basis``: ``neighbours`` (the village's other inverters), ``expected`` (the site's
    expected yield) or ``none`` (communication: nothing lost)."""

    inverter_id: int
    start: datetime
    end: datetime
    cause: Cause
    lost_wh: int
    basis: str


@dataclass(frozen=True)
class InverterDay:
    """One inverter's local day: production period and available time [s], energy [Wh]."""

    inverter_id: int
    station: str
    day: date
    period_s: int
    available_s: int
    actual_wh: int
    losses: tuple[Loss, ...] = ()

    @property
    def lost_wh(self) -> int:
        return sum(x.lost_wh for x in self.losses)


@dataclass(frozen=True)
class Totals:
    """Sums over inverter-days: time [s], energy [Wh] and lost energy by cause [Wh]."""

    period_s: int = 0
    available_s: int = 0
    actual_wh: int = 0
    lost_wh_by_cause: Mapping[str, int] = field(default_factory=dict)

    @property
    def lost_wh(self) -> int:
        return sum(self.lost_wh_by_cause.values())

    @property
    def time_availability(self) -> Decimal | None:
        """Available share of the production period (0..1), None without a period."""
        return ratio(self.available_s, self.period_s)

    @property
    def energy_availability(self) -> Decimal | None:
        """Actual / (actual + lost) energy (0..1), None when both are zero."""
        return ratio(self.actual_wh, self.actual_wh + self.lost_wh)


def ratio(part: int, whole: int) -> Decimal | None:
    """``part / whole`` to 4 decimals (half up), None when ``whole`` is not positive."""
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def totals(days: Iterable[InverterDay]) -> Totals:
    """The sums of ``days`` (an inverter, a station, a contractor, a month)."""
    period = available = actual = 0
    lost: dict[str, int] = dict.fromkeys(CAUSES, 0)
    for d in days:
        period += d.period_s
        available += d.available_s
        actual += d.actual_wh
        for loss in d.losses:
            lost[loss.cause] += loss.lost_wh
    return Totals(period, available, actual, lost)


def lost_revenue_fen(lost_wh_by_cause: Mapping[str, int], price: Decimal | None) -> dict[str, int]:
    """What each cause's lost energy would have earned at ``price`` [yuan/kWh] [fen].

    Rounded half away from zero per cause (the revenue lines' rule), so the parts sum to
    the total reported. Without a price, nothing can be priced: every cause 0 is wrong,
    so the caller gets an empty dict."""
    if price is None:
        return {}
    if price < 0:
        raise ValueError("a price cannot be negative")
    return {
        cause: int((Decimal(wh) * price / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for cause, wh in lost_wh_by_cause.items()
    }


def daylight(
    *, latitude: float, longitude: float, day: date, altitude_deg: float = 4.0
) -> tuple[datetime, datetime] | None:
    """The expected production period of a local (China Standard Time) day: while the
    sun stands above ``altitude_deg`` at the site (UTC times; None in polar night).

    The same solar geometry as the database's ``pvmon_sun_between`` (declination and the
    equation of time, Cooper and Spencer); within a few minutes of pvlib's."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("latitude/longitude out of range")
    n = (day - _EPOCH).days
    # the solar day holding the local day's noon (China Standard Time is UTC+8: 120 E)
    n = math.floor(((n * 86400 + 4 * 3600) + longitude * 240) / 86400)
    phase = 2 * math.pi * (n - 10957 - 80) / 365.2422
    noon = (
        n * 86400.0
        - longitude * 240
        + 43200
        - 60 * (9.87 * math.sin(2 * phase) - 7.53 * math.cos(phase) - 1.5 * math.sin(phase))
    )
    dec = math.radians(23.44) * math.sin(2 * math.pi * (n - 10957 - 79.5) / 365.2422)
    phi = math.radians(latitude)
    cos_ws = (math.sin(math.radians(altitude_deg)) - math.sin(phi) * math.sin(dec)) / (
        math.cos(phi) * math.cos(dec) or 1e-12
    )
    if cos_ws >= 1:
        return None
    ws = math.acos(max(-1.0, cos_ws))
    half = ws / math.pi * 43200
    return (
        datetime.fromtimestamp(round(noon - half), UTC),
        datetime.fromtimestamp(round(noon + half), UTC),
    )


def counter_between_wh(samples: Sequence[Sample], a: datetime, b: datetime) -> float | None:
    """Energy between ``a`` and ``b`` from counter samples [Wh], linear between samples.

    Before the first sample and after the last the counter is taken as flat (a device that
    is not reporting at the edges of a day is asleep); None without samples. A counter
    that went down (replaced) counts no rise."""
    if not samples or b <= a:
        return None if not samples else 0.0
    return max(0.0, _counter_at(samples, b) - _counter_at(samples, a))


def _counter_at(samples: Sequence[Sample], t: datetime) -> float:
    if t <= samples[0].time:
        return float(samples[0].energy_wh)
    if t >= samples[-1].time:
        return float(samples[-1].energy_wh)
    lo, hi = 0, len(samples) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if samples[mid].time <= t:
            lo = mid
        else:
            hi = mid
    s0, s1 = samples[lo], samples[hi]
    span = (s1.time - s0.time).total_seconds()
    part = (t - s0.time).total_seconds() / span if span > 0 else 1.0
    return s0.energy_wh + (s1.energy_wh - s0.energy_wh) * part


def _rise_across(samples: Sequence[Sample], a: datetime, b: datetime) -> float | None:
    """The counter's rise from the last sample at or before ``a`` to the first at or after
    ``b`` [Wh]; None when the samples do not bracket the stretch."""
    before = [s for s in samples if s.time <= a]
    after = [s for s in samples if s.time >= b]
    if not before or not after:
        return None
    return max(0.0, float(after[0].energy_wh - before[-1].energy_wh))


ExpectedWh = Callable[[InverterInput, datetime, datetime], float]


def assess(
    *,
    inverters: Sequence[InverterInput],
    days: Sequence[date],
    actual_wh: Mapping[tuple[int, date], int],
    maintenance: Mapping[str, Sequence[tuple[datetime, datetime]]],
    expected_wh: ExpectedWh,
    until: datetime,
    comm_share: Decimal = Decimal("0.5"),
    altitude_deg: float = 4.0,
) -> list[InverterDay]:
    """Availability and losses of every inverter on every day of ``days``.

    ``actual_wh`` [Wh] per (inverter id, day) (missing: 0); ``maintenance`` per station
    code; ``expected_wh(inverter, a, b)`` [Wh] the site's expected production between
    ``a`` and ``b``; nothing after ``until`` (now) counts. ``comm_share`` (0..1): the
    share of its expected production that the counter must have risen across an
    ``offline`` report for it to be a silent logger only.
    """
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    if not Decimal(0) <= comm_share <= Decimal(1):
        raise ValueError("comm_share must be between 0 and 1")
    ids = [inv.inverter_id for inv in inverters]
    if len(set(ids)) != len(ids):
        raise ValueError("an inverter appears twice")
    for code, windows in maintenance.items():
        for a, b in windows:
            if b <= a:
                raise ValueError(f"station {code!r}: a maintenance window ends before it starts")
    village: dict[str, list[InverterInput]] = {}
    for inv in inverters:
        village.setdefault(inv.village, []).append(inv)
    # pass 1: each inverter's real outages (a silent logger's excepted)
    down = {
        inv.inverter_id: _down_spans(
            inv,
            others=[o for o in village[inv.village] if o.inverter_id != inv.inverter_id],
            until=until,
            expected_wh=expected_wh,
            comm_share=comm_share,
        )
        for inv in inverters
    }
    out: list[InverterDay] = []
    for inv in inverters:
        others = [o for o in village[inv.village] if o.inverter_id != inv.inverter_id]
        for day in days:
            window = daylight(
                latitude=inv.latitude, longitude=inv.longitude, day=day, altitude_deg=altitude_deg
            )
            if window is None or window[0] >= until:
                out.append(InverterDay(inv.inverter_id, inv.station, day, 0, 0,
                                       actual_wh.get((inv.inverter_id, day), 0)))  # fmt: skip
                continue
            p0, p1 = window[0], min(window[1], until)
            losses = _losses(
                inv,
                others=others,
                down=down,
                p0=p0,
                p1=p1,
                windows=maintenance.get(inv.station, ()),
                expected_wh=expected_wh,
            )
            lost_s = sum(
                (x.end - x.start).total_seconds() for x in losses if x.cause != "communication"
            )
            period = (p1 - p0).total_seconds()
            out.append(
                InverterDay(
                    inv.inverter_id,
                    inv.station,
                    day,
                    round(period),
                    round(period - lost_s),
                    actual_wh.get((inv.inverter_id, day), 0),
                    tuple(losses),
                )
            )
    return out


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime
    comm: bool  # a silent logger only
    grid_code: bool


def _down_spans(
    inv: InverterInput,
    *,
    others: Sequence[InverterInput],
    until: datetime,
    expected_wh: ExpectedWh,
    comm_share: Decimal,
) -> list[_Span]:
    """The inverter's outage reports as spans; an ``offline`` one across which the counter
    rose by ``comm_share`` of what it should have produced is a silent logger only."""
    spans = []
    for o in inv.outages:
        end = min(o.end or until, until)
        if end <= o.start:
            continue
        comm = False
        if o.kind == "offline" and o.end is not None:
            rise = _rise_across(inv.samples, o.start, end)
            if rise is not None:
                expected = _should_have_wh(inv, others, o.start, end, expected_wh)
                comm = rise >= float(comm_share) * expected and (rise > 0 or expected <= 0)
        spans.append(_Span(o.start, end, comm, o.grid_code))
    return spans


def _should_have_wh(
    inv: InverterInput,
    others: Sequence[InverterInput],
    a: datetime,
    b: datetime,
    expected_wh: ExpectedWh,
) -> float:
    """What the inverter should have produced in [a, b] [Wh]: the village's other
    inverters' production per kWp (whatever their state: a cloudy day is cloudy for all),
    else the site's expected yield."""
    measured = [(o, _rise_across(o.samples, a, b)) for o in others]
    usable = [(o, wh) for o, wh in measured if wh is not None]
    if usable:
        return sum(wh for _, wh in usable) / sum(o.kwp for o, _ in usable) * inv.kwp
    return max(0.0, expected_wh(inv, a, b))


def _is_down(spans: Sequence[_Span], a: datetime, b: datetime) -> bool:
    """Down (not a silent logger) at some time in [a, b)."""
    return any(s.start < b and s.end > a and not s.comm for s in spans)


def _losses(
    inv: InverterInput,
    *,
    others: Sequence[InverterInput],
    down: Mapping[int, Sequence[_Span]],
    p0: datetime,
    p1: datetime,
    windows: Sequence[tuple[datetime, datetime]],
    expected_wh: ExpectedWh,
) -> list[Loss]:
    mine = down[inv.inverter_id]
    cuts = {p0, p1}
    for s in mine:
        cuts.update(t for t in (s.start, s.end) if p0 < t < p1)
    for a, b in windows:
        cuts.update(t for t in (a, b) if p0 < t < p1)
    for o in others:
        for s in down[o.inverter_id]:
            cuts.update(t for t in (s.start, s.end) if p0 < t < p1)
    points = sorted(cuts)
    pieces: list[_Piece] = []
    for a, b in pairwise(points):
        active = [s for s in mine if s.start < b and s.end > a]
        if not active:
            continue
        if all(s.comm for s in active):
            pieces.append(_Piece(a, b, "communication", "none", 0.0))
            continue
        real = [s for s in active if not s.comm]
        up = [o for o in others if not _is_down(down[o.inverter_id], a, b)]
        if any(wa < b and wb > a for wa, wb in windows):
            cause: Cause = "maintenance"
        elif any(s.grid_code for s in real) or (
            others and all(_is_down(down[o.inverter_id], a, b) for o in others)
        ):
            cause = "grid"
        else:
            cause = "inverter_fault"
        measured = [(o, counter_between_wh(o.samples, a, b)) for o in up]
        usable = [(o, wh) for o, wh in measured if wh is not None]
        if usable:
            per_kwp = sum(wh for _, wh in usable) / sum(o.kwp for o, _ in usable)
            pieces.append(_Piece(a, b, cause, "neighbours", per_kwp * inv.kwp))
        else:
            pieces.append(_Piece(a, b, cause, "expected", max(0.0, expected_wh(inv, a, b))))
    return _merge(inv.inverter_id, pieces)


@dataclass(frozen=True)
class _Piece:
    start: datetime
    end: datetime
    cause: Cause
    basis: str
    wh: float


def _merge(inverter_id: int, pieces: Sequence[_Piece]) -> list[Loss]:
    """Adjacent pieces of one cause and basis as one loss, lost energy rounded once [Wh]."""
    merged: list[_Piece] = []
    for p in pieces:
        last = merged[-1] if merged else None
        if last and last.end == p.start and last.cause == p.cause and last.basis == p.basis:
            merged[-1] = _Piece(last.start, p.end, p.cause, p.basis, last.wh + p.wh)
        else:
            merged.append(p)
    return [Loss(inverter_id, m.start, m.end, m.cause, round(m.wh), m.basis) for m in merged]


def local_days(first: date, last: date) -> list[date]:
    """The local days from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]
