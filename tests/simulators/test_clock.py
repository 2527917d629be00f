"""The simulated clock: free-running (wall time x speed) and stepped by a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from simulators.clock import SimClock

START = datetime(2025, 6, 1, 4, tzinfo=UTC)


def test_a_stepped_clock_moves_only_when_advanced() -> None:
    clock = SimClock(start=START, speed=3600.0, stepped=True)
    calls: list[datetime] = []
    clock.on_advance(lambda: calls.append(clock.now()))
    assert clock.now() == START and clock.wall() == 0.0 and not clock.realtime
    clock.advance(1800)
    clock.advance(0)
    assert clock.now() == START + timedelta(minutes=30)
    assert clock.wall() == pytest.approx(0.5)  # 1,800 simulated seconds at 3,600x
    assert calls == [START + timedelta(minutes=30)] * 2


def test_a_free_running_clock_follows_wall_time() -> None:
    clock = SimClock(start=START, speed=60.0)
    first = clock.now()
    assert first >= START and clock.now() >= first
    assert not clock.stepped and not clock.realtime and SimClock().realtime


@pytest.mark.parametrize(
    ("kwargs", "advance", "message"),
    [
        ({"speed": 0.0}, None, "speed must be positive"),
        ({"speed": -1.0}, None, "speed must be positive"),
        ({"start": datetime(2025, 6, 1)}, None, "timezone-aware"),
        ({"speed": 60.0}, 60.0, "only a stepped clock"),
        ({"stepped": True}, -1.0, "cannot advance a clock by -1.0 s"),
        ({"stepped": True}, float("nan"), "cannot advance a clock by nan s"),
    ],
)
def test_bad_clocks_and_steps_are_refused(
    kwargs: dict[str, object], advance: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        clock = SimClock(**{"start": START, **kwargs})  # type: ignore[arg-type]
        if advance is not None:
            clock.advance(advance)
