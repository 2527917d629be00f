"""Field behaviours: what real loggers and inverters do that a clean Modbus server does not.

Each behaviour of ``../shared/FIELD-NOTES.md`` that a device or logger can show is an
option here, per logger (:class:`LoggerBehaviour`) or per inverter
(:class:`DeviceBehaviour`), and the ``field`` profile draws them for a fleet with
realistic rates (:func:`draw_field_behaviours`), reproducibly from a seed. None of them
changes what the inverter really produces: the simulator's ground truth stays exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["DeviceBehaviour", "LoggerBehaviour", "draw_field_behaviours"]


@dataclass(frozen=True)
class LoggerBehaviour:
    """How a data logger (one host:port) behaves on the wire. Times are wall seconds."""

    single_client: bool = False  # a second connection drops the first (note 1)
    deaf_after_connect_s: float = 0.0  # requests right after connect are ignored (note 2)
    idle_drop_s: float | None = None  # NAT drops an idle connection (numbers)
    cellular_latency: bool = False  # 0.3-2.5 s per reply with a tail (notes 4, 17)
    latency_scale: float = 1.0  # accelerated runs shrink the cellular latency
    tid_zero: bool = False  # always answers with transaction id 0 (note 4)
    garble_rate: float = 0.0  # RTU: share of replies with stray bytes or a bad CRC (note 6)
    night_offline: bool = False  # the logger itself is off from dusk to dawn (note 7)
    min_gap_s: float = 0.0  # polled faster than this, it stops answering (note 16)
    lockout_s: float = 0.0  # ... for this long
    seed: int = 0


@dataclass(frozen=True)
class DeviceBehaviour:
    """How one inverter's registers misbehave."""

    dawn_zero_minutes: float = 0.0  # lifetime counter reads 0 after waking up (note 8)
    missing_blocks: tuple[tuple[int, int], ...] = ()  # (start, count) answering exception 2
    firmware_update_at: datetime | None = None  # after it, ``missing_after_update`` apply
    missing_after_update: tuple[tuple[int, int], ...] = ()
    clock_drift_s_per_day: float = 0.0  # device clock runs fast or slow (note 10)
    clock_jump_at: datetime | None = None  # ... or jumps (an hour, note 10)
    clock_jump_s: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def missing(self, at: datetime) -> tuple[tuple[int, int], ...]:
        if self.firmware_update_at is not None and at >= self.firmware_update_at:
            return self.missing_after_update
        return self.missing_blocks

    def device_clock(self, at: datetime, *, since: datetime) -> datetime:
        """The time the device's clock shows at true time ``at``."""
        drift = self.clock_drift_s_per_day * (at - since).total_seconds() / 86400.0
        jump = (
            self.clock_jump_s
            if self.clock_jump_at is not None and at >= self.clock_jump_at
            else 0.0
        )
        return at + timedelta(seconds=drift + jump)


def draw_field_behaviours(
    endpoint_keys: list[str],
    device_keys: list[str],
    *,
    seed: int,
    start: datetime,
    speed: float = 1.0,
) -> tuple[dict[str, LoggerBehaviour], dict[str, DeviceBehaviour]]:
    """The ``field`` profile for a run at ``speed``: behaviours per logger and per inverter.

    What the draw gives is the same at every speed (same seed, same behaviours); only
    its wall-clock parts (cellular latency, deaf period after a connect, NAT idle
    timeout, the gap a touchy logger needs and its lockout) are divided by ``speed``, so
    that they last as long in simulated time as they do in the field. An accelerated
    run (``speed`` other than 1) keeps device clocks exact: the collector then
    timestamps readings with the device's clock, the only simulated time it has, so a
    drift or jump would move readings, an artefact of the acceleration and not what a
    field collector (timestamping with its own clock, field note 10) sees. At ``speed``
    1 clocks drift and jump as in the field. ``pvmon simulate --speed N --faults field``
    and the field end-to-end test both draw with this.
    """
    if not speed > 0:
        raise ValueError(f"speed must be positive, not {speed}")
    wall_scale = 1.0 / speed
    clocks = speed == 1.0
    loggers: dict[str, LoggerBehaviour] = {}
    for key in endpoint_keys:
        rng = random.Random(f"{seed}:{key}:logger")
        idle = rng.choice((None, 120.0, 300.0))
        loggers[key] = LoggerBehaviour(
            single_client=True,  # most dongles and DTUs
            deaf_after_connect_s=rng.choice((0.0, 0.0, 1.0, 2.0)) * wall_scale,
            idle_drop_s=None if idle is None else idle * wall_scale,
            cellular_latency=rng.random() < 0.7,
            latency_scale=wall_scale,
            tid_zero=rng.random() < 0.05,
            garble_rate=0.01 if rng.random() < 0.3 else 0.0,
            night_offline=rng.random() < 0.6,
            min_gap_s=rng.choice((0.0, 0.0, 0.05)) * wall_scale,
            lockout_s=60.0 * wall_scale,
            seed=rng.randrange(1 << 30),
        )
    devices: dict[str, DeviceBehaviour] = {}
    for key in device_keys:
        rng = random.Random(f"{seed}:{key}:device")
        update = start + timedelta(days=rng.uniform(1, 10)) if rng.random() < 0.05 else None
        jump = start + timedelta(days=rng.uniform(1, 10)) if rng.random() < 0.05 else None
        drift = rng.uniform(-9, 9)
        devices[key] = DeviceBehaviour(
            dawn_zero_minutes=rng.choice((0.0, 0.0, 10.0, 20.0)),
            firmware_update_at=update,
            # the update drops a block (SimulatedInverter resolves which: the identity one)
            extra={"firmware_drops_identity": True} if update else {},
            clock_drift_s_per_day=drift if clocks else 0.0,
            clock_jump_at=jump if clocks else None,
            clock_jump_s=3600.0,
        )
    return loggers, devices
