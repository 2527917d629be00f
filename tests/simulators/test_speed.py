"""The field profile at any speed: the same draw, its wall-clock parts divided by the
speed, device clocks exact when accelerated; ``simulate --help`` names every profile."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from pvmon.cli import app
from simulators.behaviour import draw_field_behaviours
from simulators.faults import PROFILES, draw_faults

START = datetime(2025, 6, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
LOGGERS = [f"logger{i}" for i in range(60)]
DEVICES = [f"INV{i}" for i in range(400)]
_WALL = ("deaf_after_connect_s", "idle_drop_s", "latency_scale", "min_gap_s", "lockout_s")


def test_an_accelerated_field_draw_is_the_field_draw_in_simulated_time() -> None:
    field_loggers, field_devices = draw_field_behaviours(LOGGERS, DEVICES, seed=5, start=START)
    fast_loggers, fast_devices = draw_field_behaviours(
        LOGGERS, DEVICES, seed=5, start=START, speed=600.0
    )
    for key, field in field_loggers.items():
        fast = fast_loggers[key]
        for name in _WALL:
            slow_value, fast_value = getattr(field, name), getattr(fast, name)
            assert (fast_value is None) == (slow_value is None), (key, name)
            if slow_value is not None:
                assert fast_value == pytest.approx(slow_value / 600.0), (key, name)
        wall_free: dict[str, Any] = dict.fromkeys(_WALL)
        assert dataclasses.replace(fast, **wall_free) == dataclasses.replace(field, **wall_free)
    # the field's clocks drift and jump; accelerated, they are exact (the collector
    # timestamps with them, so a drift would be an artefact of the acceleration)
    assert any(d.clock_drift_s_per_day for d in field_devices.values())
    assert any(d.clock_jump_at for d in field_devices.values())
    for key, device in fast_devices.items():
        assert device.device_clock(START.replace(day=9), since=START) == START.replace(day=9)
        exact = dataclasses.replace(
            field_devices[key], clock_drift_s_per_day=0.0, clock_jump_at=None
        )
        assert device == exact, key


def test_a_slow_fault_is_as_slow_in_simulated_time_at_any_speed() -> None:
    def slow(speed: float) -> list[float]:
        return [
            fault.params["delay_s"]
            for key in DEVICES
            for fault in draw_faults(key, profile="field", seed=5, start=START, speed=speed)
            if fault.kind == "slow"
        ]

    field, fast = slow(1.0), slow(600.0)
    assert field and all(0.3 <= d <= 2.5 for d in field)
    assert fast == pytest.approx([d / 600.0 for d in field])


def test_simulate_help_names_every_fault_profile() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert set(PROFILES) == {"none", "demo", "field"}
    assert f"Fault profile: {', '.join(PROFILES)}" in result.output
