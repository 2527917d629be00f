from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.health import HealthTracker, InverterInfo

T0 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in China


def _tracker(n: int = 4) -> HealthTracker:
    return HealthTracker([InverterInfo(i, 100 + i, 1, 4000.0) for i in range(1, n + 1)])


def test_offline_opens_after_the_threshold_in_daylight_and_closes_on_answer() -> None:
    tracker = _tracker()
    tracker.success(1, at=T0, power_w=2000, energy_wh=1, state=4, event_code=0)
    for minute in (1, 5, 10):
        tracker.failure(1, at=T0 + timedelta(minutes=minute), error="timeout", daylight=True)
    assert tracker.states[1].state == "offline" and not tracker.drain_events()
    tracker.failure(1, at=T0 + timedelta(minutes=16), error="timeout", daylight=True)
    opened = tracker.drain_events()
    assert [(e.kind, e.closed) for e in opened] == [("offline", False)]
    assert "timeout" in opened[0].reason
    tracker.success(
        1, at=T0 + timedelta(minutes=20), power_w=2000, energy_wh=2, state=4, event_code=0
    )
    assert [(e.kind, e.closed) for e in tracker.drain_events()] == [("offline", True)]
    assert tracker.states[1].state == "online"


def test_silence_at_night_is_sleeping_without_alarm() -> None:
    tracker = _tracker()
    for minute in range(0, 600, 10):
        tracker.failure(2, at=T0 + timedelta(minutes=minute), error="refused", daylight=False)
    assert tracker.states[2].state == "sleeping"
    assert tracker.drain_events() == []


def test_fault_code_opens_and_closes() -> None:
    tracker = _tracker()
    tracker.success(3, at=T0, power_w=0, energy_wh=1, state=7, event_code=0x40)
    assert tracker.states[3].state == "fault"
    tracker.success(
        3, at=T0 + timedelta(minutes=1), power_w=0, energy_wh=1, state=7, event_code=0x40
    )
    tracker.success(3, at=T0 + timedelta(hours=2), power_w=1500, energy_wh=9, state=4, event_code=0)
    assert [(e.kind, e.closed) for e in tracker.drain_events()] == [
        ("fault_code", False),
        ("fault_code", True),
    ]


def test_no_output_while_neighbours_produce_needs_to_last() -> None:
    tracker = _tracker()
    daylight = {101: True, 102: True, 103: True, 104: True}
    for minute in range(0, 45, 5):
        at = T0 + timedelta(minutes=minute)
        for inverter, power in ((1, 0.0), (2, 2400.0), (3, 2500.0), (4, 2300.0)):
            tracker.success(inverter, at=at, power_w=power, energy_wh=minute, state=4, event_code=0)
        tracker.evaluate_output(at=at, daylight=daylight)
    events = tracker.drain_events()
    assert [(e.inverter_id, e.kind) for e in events] == [(1, "no_output")]
    assert events[0].at == T0 + timedelta(minutes=30)


def test_underperformer_is_found_and_clouds_do_not_trigger() -> None:
    tracker = _tracker()
    daylight = {101: True, 102: True, 103: True, 104: True}
    for minute in range(0, 50, 5):
        at = T0 + timedelta(minutes=minute)
        # a passing cloud: everyone low together; then inverter 4 at a third of its peers
        powers = (300.0, 320.0, 310.0, 290.0) if minute < 10 else (3000.0, 3100.0, 2900.0, 900.0)
        for inverter, power in zip((1, 2, 3, 4), powers, strict=True):
            tracker.success(inverter, at=at, power_w=power, energy_wh=minute, state=4, event_code=0)
        tracker.evaluate_output(at=at, daylight=daylight)
    events = tracker.drain_events()
    assert [(e.inverter_id, e.kind, e.closed) for e in events] == [(4, "underperforming", False)]


@given(
    loads=st.lists(
        st.floats(min_value=0.0, max_value=1.5, allow_nan=False), min_size=2, max_size=60
    ),
    data=st.data(),
)
def test_median_without_is_the_median_of_the_others(loads: list[float], data) -> None:  # type: ignore[no-untyped-def]
    import statistics

    from collectors.health import median_without

    ordered = sorted(loads)
    position = data.draw(st.integers(min_value=0, max_value=len(ordered) - 1))
    others = ordered[:position] + ordered[position + 1 :]
    assert median_without(ordered, position) == pytest.approx(statistics.median(others))


@pytest.mark.parametrize(
    ("ordered", "position", "expected"),
    [
        ([0.1, 0.5], 0, 0.5),
        ([0.1, 0.5], 1, 0.1),
        ([0.0, 0.4, 0.6], 0, 0.5),
        ([0.0, 0.4, 0.6], 1, 0.3),
        ([0.2, 0.2, 0.2, 0.9], 3, 0.2),
    ],
)
def test_median_without_table(ordered: list[float], position: int, expected: float) -> None:
    from collectors.health import median_without

    assert median_without(ordered, position) == pytest.approx(expected)
