"""Plausibility checks that turn decoded register values into a stored reading.

Pure functions over a small per-inverter :class:`CounterState`. What a device cannot
physically report is rejected: stored as NULL with a quality flag, and the raw value
and the reason kept in ``raw`` (field notes 8 and 11):

- power above the rating (x1.2, plus a little), below -5 % of it, or DC above x1.5;
- a lifetime counter lower than the last good value (the dawn "0" of many loggers) is a
  *dip*: rejected, the last good value kept. Only a counter that restarts and then rises
  strictly over ``confirm_polls`` polls is accepted as a reset (inverter replaced); the
  reading that confirms it carries ``COUNTER_RESET``;
- a counter step above rating x elapsed time x 2 (x65536 or x1000 garbage);
- grid voltage, frequency and temperature outside what an inverter can show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pvmon.quality import Quality

__all__ = ["CounterState", "Validated", "validate"]

_SENTINEL = int(Quality.SENTINEL)
_OUT_OF_RANGE = int(Quality.OUT_OF_RANGE)
_COUNTER_DIP = int(Quality.COUNTER_DIP)
_COUNTER_RESET = int(Quality.COUNTER_RESET)

_RANGES: dict[str, tuple[float, float]] = {
    "ac_voltage_a_v": (0.0, 500.0),
    "ac_voltage_b_v": (0.0, 500.0),
    "ac_voltage_c_v": (0.0, 500.0),
    "frequency_hz": (40.0, 70.0),
    "temperature_c": (-40.0, 120.0),
}


@dataclass
class CounterState:
    """What the collector remembers of one inverter's lifetime counter."""

    last_good_wh: int | None = None
    last_good_at: datetime | None = None
    candidates: list[tuple[int, datetime]] = field(default_factory=list)


@dataclass
class Validated:
    values: dict[str, Any]
    quality: int
    raw: dict[str, Any] | None


def _reject(values: dict[str, Any], raw: dict[str, Any], key: str, reason: str) -> None:
    raw[key] = {"raw": values[key], "reason": reason}
    values[key] = None


def validate(
    decoded: dict[str, Any],
    *,
    state: CounterState,
    rated_ac_w: float,
    at: datetime,
    expected_points: frozenset[str] = frozenset(),
    confirm_polls: int = 3,
) -> Validated:
    """Check ``decoded`` canonical values taken at ``at``; updates ``state`` in place.

    ``expected_points`` are the canonical keys the map defines: one that came back None
    was a "not implemented" sentinel and is flagged ``SENTINEL``.
    """
    values = dict(decoded)
    raw: dict[str, Any] = {}
    quality = 0  # plain int flags: this runs for every reading the collector takes
    if None in map(values.get, expected_points):
        quality = _SENTINEL

    power = values.get("ac_power_w")
    if power is not None and not -0.05 * rated_ac_w <= power <= 1.2 * rated_ac_w + 50:
        _reject(values, raw, "ac_power_w", f"outside -5%..120% of the {rated_ac_w:.0f} W rating")
        quality |= _OUT_OF_RANGE
    dc = values.get("dc_power_w")
    if dc is not None and not -0.05 * rated_ac_w <= dc <= 1.5 * rated_ac_w + 50:
        _reject(values, raw, "dc_power_w", f"outside -5%..150% of the {rated_ac_w:.0f} W rating")
        quality |= _OUT_OF_RANGE
    for key, (low, high) in _RANGES.items():
        value = values.get(key)
        if value is not None and not low <= value <= high:
            _reject(values, raw, key, f"outside {low:g}..{high:g}")
            quality |= _OUT_OF_RANGE

    energy = values.get("energy_wh")
    if energy is not None:
        quality |= _check_counter(
            values,
            raw,
            state=state,
            energy=int(energy),
            rated_ac_w=rated_ac_w,
            at=at,
            confirm_polls=confirm_polls,
        )
    return Validated(values, quality, raw or None)


def _check_counter(
    values: dict[str, Any],
    raw: dict[str, Any],
    *,
    state: CounterState,
    energy: int,
    rated_ac_w: float,
    at: datetime,
    confirm_polls: int,
) -> int:
    last, last_at = state.last_good_wh, state.last_good_at
    if last is None or last_at is None:
        if energy == 0:  # a logger's start-up zero is no counter to start from
            _reject(values, raw, "energy_wh", "counter reads 0 with nothing to compare")
            return _COUNTER_DIP
        state.last_good_wh, state.last_good_at = energy, at
        return 0
    if energy < last:
        candidates = state.candidates
        rising = not candidates or (energy > candidates[-1][0] and at > candidates[-1][1])
        if energy > 0 and rising:
            candidates.append((energy, at))
        else:
            candidates.clear()
            if energy > 0:
                candidates.append((energy, at))
        if len(candidates) >= confirm_polls:
            state.candidates = []
            state.last_good_wh, state.last_good_at = energy, at
            return _COUNTER_RESET
        _reject(values, raw, "energy_wh", f"counter dip below the last good value {last}")
        return _COUNTER_DIP
    if state.candidates:
        state.candidates = []
    elapsed_h = max((at - last_at).total_seconds(), 60.0) / 3600.0
    limit = rated_ac_w * elapsed_h * 2 + 10
    if energy - last > limit:
        _reject(
            values,
            raw,
            "energy_wh",
            f"counter rose {energy - last} Wh in {elapsed_h * 60:.0f} min, above "
            f"rating x time x 2 = {limit:.0f} Wh",
        )
        return _OUT_OF_RANGE
    state.last_good_wh, state.last_good_at = energy, at
    return 0
