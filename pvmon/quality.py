"""Quality flags of a reading: a bitmask stored in ``readings.quality``."""

from __future__ import annotations

from enum import IntFlag

__all__ = ["Quality"]


class Quality(IntFlag):
    """Why a reading is not a plain, complete measurement."""

    GOOD = 0
    SIMULATED = 1  # produced by the simulator (backfill or simulated fleet)
    ESTIMATED = 2  # filled from expected yield, not measured
    COUNTER_RESET = 4  # lifetime counter restarted (inverter replaced, counter wrapped)
    COUNTER_DIP = 8  # counter read lower than the last good value; value rejected (NULL)
    OUT_OF_RANGE = 16  # a value beyond what the device can physically do; rejected (NULL)
    SENTINEL = 32  # the device said "not implemented" for a point (NULL)
    DEVICE_CLOCK = 64  # timestamped with the device's (simulated) clock
    REPLAYED = 128  # written from the collector's spool after a database outage
