"""Payout periods: ``2025`` (year), ``2025-H1``/``2025-H2`` (half), ``2025-Q1``..``Q4``.

A period is a half-open date range ``[start, end)`` inside one calendar year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pvmon.errors import ValidationError

__all__ = ["Period", "days_in_year", "overlap_days", "parse_period", "year_periods"]

_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?P<kind>[HQ])(?P<n>\d))?$")


@dataclass(frozen=True, order=True)
class Period:
    """A payout period; ``end`` is exclusive."""

    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        """Length [days]."""
        return (self.end - self.start).days

    @property
    def year(self) -> int:
        return self.start.year


def days_in_year(year: int) -> int:
    """365 or 366 [days]."""
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def parse_period(text: str) -> Period:
    """``2025`` → the year; ``2025-H1`` → Jan..Jun; ``2025-Q3`` → Jul..Sep."""
    match = _PATTERN.match(text.strip().upper())
    if not match:
        raise ValidationError(f"period {text!r}: expected YYYY, YYYY-H1..H2 or YYYY-Q1..Q4")
    year = int(match["year"])
    if not 1990 <= year <= 2100:
        raise ValidationError(f"period {text!r}: year {year} out of range 1990..2100")
    kind, n = match["kind"], match["n"]
    if kind is None:
        return Period(date(year, 1, 1), date(year + 1, 1, 1), f"{year}")
    count = 2 if kind == "H" else 4
    idx = int(n)
    if not 1 <= idx <= count:
        raise ValidationError(f"period {text!r}: {kind}{idx} does not exist (1..{count})")
    months = 12 // count
    start = date(year, 1 + (idx - 1) * months, 1)
    end_month = 1 + idx * months
    end = date(year + 1, 1, 1) if end_month > 12 else date(year, end_month, 1)
    return Period(start, end, f"{year}-{kind}{idx}")


def year_periods(period: Period) -> list[Period]:
    """All periods of the same length as ``period`` in its year, in order."""
    label = period.label
    if "-" not in label:
        return [period]
    kind = label.split("-")[1][0]
    count = 2 if kind == "H" else 4
    return [parse_period(f"{period.year}-{kind}{i}") for i in range(1, count + 1)]


def overlap_days(start: date, end: date | None, period: Period) -> int:
    """Days of ``[start, end)`` (``end`` None: open) inside ``period`` [days]."""
    lo = max(start, period.start)
    hi = period.end if end is None else min(end, period.end)
    return max(0, (hi - lo).days)
