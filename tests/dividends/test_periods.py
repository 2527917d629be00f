from __future__ import annotations

from datetime import date

import pytest

from dividends.periods import overlap_days, parse_period, year_periods
from pvmon.errors import ValidationError


@pytest.mark.parametrize(
    ("text", "start", "end", "days"),
    [
        ("2025", date(2025, 1, 1), date(2026, 1, 1), 365),
        ("2024", date(2024, 1, 1), date(2025, 1, 1), 366),
        ("2025-H1", date(2025, 1, 1), date(2025, 7, 1), 181),
        ("2025-h2", date(2025, 7, 1), date(2026, 1, 1), 184),
        ("2025-Q1", date(2025, 1, 1), date(2025, 4, 1), 90),
        ("2025-Q3", date(2025, 7, 1), date(2025, 10, 1), 92),
        ("2025-Q4", date(2025, 10, 1), date(2026, 1, 1), 92),
    ],
)
def test_parse_valid(text, start, end, days) -> None:
    p = parse_period(text)
    assert (p.start, p.end, p.days) == (start, end, days)


@pytest.mark.parametrize("text", ["", "25", "2025-Q5", "2025-H3", "2025-Q0", "2025-M1", "3000"])
def test_parse_invalid(text) -> None:
    with pytest.raises(ValidationError, match="period"):
        parse_period(text)


def test_year_periods_cover_the_year() -> None:
    qs = year_periods(parse_period("2024-Q2"))
    assert sum(q.days for q in qs) == 366 and qs[0].start == date(2024, 1, 1)
    assert year_periods(parse_period("2024")) == [parse_period("2024")]


def test_overlap_days() -> None:
    p = parse_period("2025")
    assert overlap_days(date(2025, 7, 1), None, p) == 184
    assert overlap_days(date(2024, 1, 1), date(2025, 7, 1), p) == 181
    assert overlap_days(date(2026, 1, 1), None, p) == 0
