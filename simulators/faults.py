"""Faults a simulated inverter can show, each the way a real one shows it on the wire.

A fault has a kind, an optional simulated-time window and parameters. Faults are set
per device (tests) or drawn per fleet from a named profile with rates (demos), the
draw depending only on (seed, device key) so a fleet's faults are reproducible.

| kind | what a client sees |
|---|---|
| ``unreachable`` | the device's endpoint refuses connections (listener closed) |
| ``silent`` | connection accepted, requests never answered (client times out) |
| ``exception`` | every request answered with Modbus exception ``code`` (default 4) |
| ``slow`` | replies delayed by ``delay_s`` wall seconds (a profile's, by 1/speed) |
| ``sentinel`` | the points in ``points`` read "not implemented" |
| ``out_of_range`` | power and energy read as garbage (x1000 power, counter spike) |
| ``stuck`` | every value frozen at the fault's start |
| ``grid_outage`` | zero output, operating state fault (7), event code ``event_code`` |
| ``replaced`` | the lifetime counter restarts from 0 at the window's start |
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = ["FAULT_KINDS", "GRID_DISCONNECT", "PROFILES", "Fault", "draw_faults"]

#: SunSpec models 101-103, Evt1 bit 4 (bit 6 is MANUAL_SHUTDOWN)
GRID_DISCONNECT = 1 << 4

FaultKind = Literal[
    "unreachable",
    "silent",
    "exception",
    "slow",
    "sentinel",
    "out_of_range",
    "stuck",
    "grid_outage",
    "replaced",
]
FAULT_KINDS: tuple[str, ...] = (
    "unreachable",
    "silent",
    "exception",
    "slow",
    "sentinel",
    "out_of_range",
    "stuck",
    "grid_outage",
    "replaced",
)


@dataclass(frozen=True)
class Fault:
    """One fault, active from ``start`` (inclusive) to ``end`` (exclusive), simulated time."""

    kind: FaultKind
    start: datetime | None = None
    end: datetime | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")

    def active(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


# Per-device probabilities of each fault per simulated day, and how long it lasts.
PROFILES: dict[str, dict[str, tuple[float, timedelta]]] = {
    "none": {},
    "demo": {
        "unreachable": (0.002, timedelta(hours=3)),
        "silent": (0.003, timedelta(hours=2)),
        "exception": (0.002, timedelta(hours=1)),
        "slow": (0.01, timedelta(hours=4)),
        "sentinel": (0.002, timedelta(hours=6)),
        "out_of_range": (0.001, timedelta(minutes=10)),
        "stuck": (0.001, timedelta(hours=2)),
        "grid_outage": (0.003, timedelta(hours=2)),
        "replaced": (0.0002, timedelta(days=36500)),
    },
}
# the field profile: the demo's faults, plus every field behaviour (simulators.behaviour)
PROFILES["field"] = dict(PROFILES["demo"])


def draw_faults(
    device_key: str,
    *,
    profile: str,
    seed: int,
    start: datetime,
    days: int = 366,
    speed: float = 1.0,
) -> list[Fault]:
    """Faults for one device over ``days`` simulated days from ``start``, by profile rates.

    A run at ``speed`` gets the same faults; a ``slow`` fault's reply delay (wall
    seconds) is divided by ``speed``, so it is as long in simulated time at every speed.
    """
    if not speed > 0:
        raise ValueError(f"speed must be positive, not {speed}")
    if profile not in PROFILES:
        raise ValueError(f"unknown fault profile {profile!r}; known: {', '.join(PROFILES)}")
    rng = random.Random(f"{seed}:{device_key}:faults")
    faults: list[Fault] = []
    for day in range(days):
        for kind, (rate, duration) in PROFILES[profile].items():
            if rng.random() >= rate:
                continue
            begin = start + timedelta(days=day, hours=rng.uniform(6, 16))
            params: dict[str, Any] = {}
            if kind == "exception":
                params["code"] = rng.choice((2, 4, 6))
            elif kind == "slow":
                params["delay_s"] = round(rng.uniform(0.3, 2.5), 2) / speed
            elif kind == "sentinel":
                params["points"] = rng.choice(
                    (("temperature_c",), ("dc_power_w",), ("ac_voltage_a_v", "ac_current_a_a"))
                )
            elif kind == "grid_outage":
                params["event_code"] = GRID_DISCONNECT
            faults.append(Fault(kind, begin, begin + duration, params))  # type: ignore[arg-type]
    return faults
