from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.validate import CounterState, validate
from pvmon.quality import Quality

T0 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
RATED = 4000.0


def _run(counters: list[int | None], *, step_min: int = 1) -> list[tuple[int | None, int]]:
    state = CounterState()
    out = []
    for index, energy in enumerate(counters):
        result = validate(
            {"energy_wh": energy},
            state=state,
            rated_ac_w=RATED,
            at=T0 + timedelta(minutes=index * step_min),
        )
        out.append((result.values["energy_wh"], result.quality))
    return out


@pytest.mark.parametrize(
    ("name", "counters", "stored", "flags"),
    [
        ("steady rise", [1000, 1010, 1030], [1000, 1010, 1030], [0, 0, 0]),
        (
            "dawn zero rejected",
            [5000, 0, 0, 5003],
            [5000, None, None, 5003],
            [0, Quality.COUNTER_DIP, Quality.COUNTER_DIP, 0],
        ),
        (
            "dip to small value rejected",
            [5000, 37, 37, 37, 5004],
            [5000, None, None, None, 5004],
            [0, 8, 8, 8, 0],
        ),
        (
            "replacement confirmed after rising polls",
            [900_000, 10, 20, 35, 50],
            [900_000, None, None, 35, 50],
            [0, 8, 8, Quality.COUNTER_RESET, 0],
        ),
        (
            "x65536 spike rejected",
            [1000, 1000 * 65536, 1020],
            [1000, None, 1020],
            [0, Quality.OUT_OF_RANGE, 0],
        ),
        ("sentinel passes as None", [1000, None, 1010], [1000, None, 1010], [0, 0, 0]),
        (
            "collector starts during the dawn zero",
            [0, 0, 5000, 5003],
            [None, None, 5000, 5003],
            [Quality.COUNTER_DIP, Quality.COUNTER_DIP, 0, 0],
        ),
    ],
)
def test_counter_rules(name: str, counters, stored, flags) -> None:  # type: ignore[no-untyped-def]
    result = _run(counters)
    assert [r[0] for r in result] == stored, name
    assert [r[1] for r in result] == [int(f) for f in flags], name


def test_step_limit_scales_with_elapsed_time() -> None:
    # 8 h of full power after a night offline is fine; the same rise in 1 minute is not
    assert _run([1000, 1000 + 32_000], step_min=480)[1] == (33_000, 0)
    assert _run([1000, 1000 + 32_000], step_min=1)[1][1] == Quality.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("ac_power_w", 3999.0, True),
        ("ac_power_w", 4_000_000.0, False),
        ("ac_power_w", -1000.0, False),
        ("dc_power_w", 5900.0, True),
        ("dc_power_w", 7000.0, False),
        ("frequency_hz", 50.02, True),
        ("frequency_hz", 655.35, False),
        ("temperature_c", 45.0, True),
        ("temperature_c", 3276.7, False),
        ("ac_voltage_a_v", 6553.5, False),
    ],
)
def test_physical_ranges(key: str, value: float, ok: bool) -> None:
    result = validate({key: value}, state=CounterState(), rated_ac_w=RATED, at=T0)
    if ok:
        assert result.values[key] == value and result.quality == 0 and result.raw is None
    else:
        assert result.values[key] is None
        assert result.quality & Quality.OUT_OF_RANGE
        assert result.raw is not None and result.raw[key]["raw"] == value


def test_missing_expected_point_is_flagged_sentinel() -> None:
    result = validate(
        {"ac_power_w": 10.0, "temperature_c": None},
        state=CounterState(),
        rated_ac_w=RATED,
        at=T0,
        expected_points=frozenset({"temperature_c"}),
    )
    assert result.quality & Quality.SENTINEL
