"""Tests of the register maps, with the helpers the map tests share.

The helpers say what "the same value" means for each point: within half a count of the
point's resolution (the scale factor read from the same image for SunSpec, the fixed
gain for vendor maps), exactly for strings, enums and codes, floored to the resolution
for energy counters and whole-second clocks (encode floors them), and to the nearest
millisecond for the SunSpec simulation clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pvmon.registermaps import CANONICAL_KEYS, Point, RegisterMap

__all__ = ["THREE_PHASE_VALUES", "assert_same_value", "resolution"]

THREE_PHASE_VALUES: Mapping[str, object] = {
    "ac_power_w": 41_250.4,
    "energy_wh": 1_234_567_890,
    "dc_power_w": 42_310.9,
    "ac_voltage_a_v": 231.2,
    "ac_voltage_b_v": 230.7,
    "ac_voltage_c_v": 229.9,
    "ac_current_a_a": 59.87,
    "ac_current_b_a": 60.02,
    "ac_current_c_a": 59.65,
    "frequency_hz": 50.01,
    "temperature_c": -4.5,
    "state": 5,
    "event_code": 0x40,
    "manufacturer": "pvmon-sim",
    "model": "SUN2000-50KTL-M3",
    "serial": "HV2250123456",
    "rated_ac_w": 50_000.0,
    "device_time": 1_717_171_717.25,
}
"""A 50 kW three-phase inverter on a cold afternoon, power-limited by the grid."""


def resolution(register_map: RegisterMap, image: Mapping[int, int], point: Point) -> float:
    """One count of ``point`` in canonical units, as ``image`` encodes it."""
    if isinstance(point.scale, str):
        word = image[register_map.point(point.scale).address]
        return 10.0 ** (word - 0x10000 if word & 0x8000 else word)
    return 10.0 ** (point.scale or 0)


def assert_same_value(
    register_map: RegisterMap,
    image: Mapping[int, int],
    key: str,
    *,
    sent: object,
    got: object,
) -> None:
    """``got`` (decoded) is ``sent`` (encoded) up to what the point can represent."""
    if sent is None:
        assert got is None, f"{key}: sent None, got {got!r}"
        return
    assert got is not None, f"{key}: sent {sent!r}, got None"
    point = register_map.point(key)
    if CANONICAL_KEYS[key] is str or key in ("state", "event_code"):
        assert got == sent, key
        return
    assert isinstance(sent, int | float) and isinstance(got, int | float), key
    if key == "device_time" and isinstance(got, float):  # milliseconds, rounded
        assert abs(got - sent) <= 0.0005 + 1e-6, (key, sent, got)
        return
    step = resolution(register_map, image, point)
    if key in ("energy_wh", "device_time"):  # counters and clocks floor
        # floor, allowing for binary fractions either side of a step (1.9999995 -> 1)
        candidates = {math.floor(round(sent / step, 6)) * step, math.floor(sent / step) * step}
        assert any(math.isclose(got, c, rel_tol=1e-12, abs_tol=1e-6) for c in candidates), (
            key,
            sent,
            got,
        )
        return
    assert abs(got - sent) <= step / 2 * (1 + 1e-9) + 1e-9 * abs(sent), (key, sent, got, step)
