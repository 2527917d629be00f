"""The Huawei SUN2000 register map.

Source: Huawei, "Solar Inverter Modbus Interface Definitions" (SUN2000 MODBUS Interface
Definitions; issues of 2019-10-31 to 2023-02-16, V3.0), as transcribed and used in
production by the open-source libraries

- wlcrs/huawei-solar-lib, ``src/huawei_solar/registers.py`` (addresses, types, gains,
  units, and the "invalid value" per type) and ``register_values.py``
  (``DEVICE_STATUS_DEFINITIONS``, the codes of register 32089);
- olivergregorius/sun2000_modbus, ``sun2000_modbus/registers.py`` (same addresses and
  gains);
- evcc-io/evcc PR #29354 (30073 rated power reads 8000 on an 8 kW inverter, i.e. W) and
  the evcc ``huawei-dongle`` template (32080 int32, 32106 uint32 × 0.01 kWh).

Huawei states power in kW with gain 1000, which is the same number as W with gain 1; the
map stores the canonical unit, so ``scale`` is the power of ten from the raw count to the
canonical unit (Huawei's unit and gain in brackets)::

    address    type  regs  Huawei signal                    canonical key            scale
    30000      STR   15    model name                       model                    -
    30015      STR   10    SN                               serial                   -
    30073      U32   2     rated power Pn [kW, gain 1000]   rated_ac_w [W]           0
    32064      I32   2     input power [kW, gain 1000]      dc_power_w [W]           0
    32069-71   U16   1     phase A/B/C voltage [V, 10]      ac_voltage_a/b/c_v [V]   -1
    32072/4/6  I32   2     phase A/B/C current [A, 1000]    ac_current_a/b/c_a [A]   -3
    32080      I32   2     active power [kW, gain 1000]     ac_power_w [W]           0
    32085      U16   1     grid frequency [Hz, 100]         frequency_hz [Hz]        -2
    32087      I16   1     internal temperature [°C, 10]    temperature_c [°C]       -1
    32089      U16   1     device status                    state (see below)        -
    32090      U16   1     fault code                       event_code               -
    32106      U32   2     accumulated energy [kWh, 100]    energy_wh [Wh]           1
    32114      U32   2     daily energy yield [kWh, 100]    daily_energy_wh [Wh]     1
    40000      U32   2     system time [s since 1970]       device_time [s]          -

32114 is encode-only: the simulator serves the yield of the local day, the collector
never reads it (daily energy comes only from lifetime-counter differences, field note 9).

All multi-word values are big-endian (high word first), as the document specifies; word
order is nevertheless a per-point property (:class:`~pvmon.registermaps.base.Point`), see
the low-word-first fixture in the tests. There is no manufacturer register: ``decode``
never yields ``manufacturer`` (take it from the registry) and ``encode`` ignores it.

"Not implemented" values, as huawei-solar-lib treats them: U16 0xFFFF, I16 0x7FFF,
U32 0xFFFFFFFF, I32 0x7FFFFFFF, strings all zero. The energy resolution is 10 Wh; encode
floors the counter to it (a counter never shows energy not yet produced).

System time 40000 is the raw register: huawei-solar-lib shifts it by the time-zone
register 43006 when turning it into a datetime; pvmon records it as read (the collector
compares it with its own clock, field note 10).

Device status 32089 → canonical state (SunSpec St)::

    0x0000-0x0003  Standby: initializing, detecting ...        8 standby
    0x0100         Starting                                    3 starting
    0x0200         On-grid                                     4 mppt
    0x0201/0x0202  Grid connection: power limited, derating    5 throttled
    0x0300         Shutdown: fault                             7 fault
    0x0301-0x0306  Shutdown: command, OVGR, communication      1 off
                   lost, power limit, manual startup
                   required, DC switches off
    0x0307         Shutdown: rapid cutoff                      6 shutting_down
    0x0308         Shutdown: input underpowered                2 sleeping
    0x0401-0x0405  Grid scheduling (cosphi-P, Q-U, ...)        5 throttled
    0x0500/0x0501  Spot-check ready / spot-checking            8 standby
    0x0600         Inspecting                                  8 standby
    0x0700         AFCI self check                             3 starting
    0x0800         I-V scanning                                4 mppt
    0x0900         DC input detection                          3 starting
    0x0A00         Running: off-grid charging                  4 mppt
    0xA000         Standby: no irradiation                     2 sleeping
    any other      (not documented)                            None

Encoding writes, per state: 1 → 0x0301, 2 → 0xA000, 3 → 0x0100, 4 → 0x0200,
5 → 0x0201, 6 → 0x0307, 7 → 0x0300, 8 → 0x0000.

Three read requests: identity ``30000+75``, measurements ``32064+44`` and clock
``40000+2``. Registers between the requests are never read; the documented registers
inside a request that pvmon does not use (30025-30072: PN, versions, model id, string
counts; 32066-32068 line voltages, 32078 peak power, 32082-32084, 32086, 32088,
32091-32105 startup/shutdown times and others) are read and ignored, and the simulator
serves them as 0. The simulator also answers 32108-32115 (32108-32113 undocumented, read
as 0), so a client reading 32106-32115 in one request, as the SUN2000 answers it, gets
both yields instead of exception 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pvmon.registermaps.base import (
    Block,
    EnumCodec,
    Point,
    RegisterMap,
    RegisterMapError,
    plan_blocks,
)

__all__ = ["DEVICE_STATUS_TO_STATE", "STATE_TO_DEVICE_STATUS", "build_huawei_sun2000_map"]

DEVICE_STATUS_TO_STATE: Mapping[int, int] = MappingProxyType(
    {
        0x0000: 8,  # Standby: initializing
        0x0001: 8,  # Standby: detecting insulation resistance
        0x0002: 8,  # Standby: detecting irradiation
        0x0003: 8,  # Standby: grid detecting
        0x0100: 3,  # Starting
        0x0200: 4,  # On-grid
        0x0201: 5,  # Grid connection: power limited
        0x0202: 5,  # Grid connection: self-derating
        0x0300: 7,  # Shutdown: fault
        0x0301: 1,  # Shutdown: command
        0x0302: 1,  # Shutdown: OVGR
        0x0303: 1,  # Shutdown: communication disconnected
        0x0304: 1,  # Shutdown: power limited
        0x0305: 1,  # Shutdown: manual startup required
        0x0306: 1,  # Shutdown: DC switches disconnected
        0x0307: 6,  # Shutdown: rapid cutoff
        0x0308: 2,  # Shutdown: input underpowered
        0x0401: 5,  # Grid scheduling: cosphi-P curve
        0x0402: 5,  # Grid scheduling: Q-U curve
        0x0403: 5,  # Grid scheduling: PF-U curve
        0x0404: 5,  # Grid scheduling: dry contact
        0x0405: 5,  # Grid scheduling: Q-P curve
        0x0500: 8,  # Spot-check ready
        0x0501: 8,  # Spot-checking
        0x0600: 8,  # Inspecting
        0x0700: 3,  # AFCI self check
        0x0800: 4,  # I-V scanning
        0x0900: 3,  # DC input detection
        0x0A00: 4,  # Running: off-grid charging
        0xA000: 2,  # Standby: no irradiation
    }
)
"""Huawei device status (32089) → canonical state."""

STATE_TO_DEVICE_STATUS: Mapping[int, int] = MappingProxyType(
    {
        1: 0x0301,
        2: 0xA000,
        3: 0x0100,
        4: 0x0200,
        5: 0x0201,
        6: 0x0307,
        7: 0x0300,
        8: 0x0000,
    }
)
"""Canonical state → the Huawei device status encode writes."""

_SENTINELS = {
    "uint16": 0xFFFF,
    "enum16": 0xFFFF,
    "int16": 0x7FFF,
    "uint32": 0xFFFFFFFF,
    "int32": 0x7FFFFFFF,
}

_POINTS: tuple[Point, ...] = (
    Point("model", 30000, 15, "string"),
    Point("serial", 30015, 10, "string"),
    Point("rated_ac_w", 30073, 2, "uint32", scale=0, units="W"),
    Point("dc_power_w", 32064, 2, "int32", scale=0, units="W"),
    Point("ac_voltage_a_v", 32069, 1, "uint16", scale=-1, units="V"),
    Point("ac_voltage_b_v", 32070, 1, "uint16", scale=-1, units="V"),
    Point("ac_voltage_c_v", 32071, 1, "uint16", scale=-1, units="V"),
    Point("ac_current_a_a", 32072, 2, "int32", scale=-3, units="A"),
    Point("ac_current_b_a", 32074, 2, "int32", scale=-3, units="A"),
    Point("ac_current_c_a", 32076, 2, "int32", scale=-3, units="A"),
    Point("ac_power_w", 32080, 2, "int32", scale=0, units="W"),
    Point("frequency_hz", 32085, 1, "uint16", scale=-2, units="Hz"),
    Point("temperature_c", 32087, 1, "int16", scale=-1, units="°C"),
    Point("state", 32089, 1, "enum16"),
    Point("event_code", 32090, 1, "uint16"),
    Point("energy_wh", 32106, 2, "uint32", scale=1, units="Wh"),
    Point("device_time", 40000, 2, "uint32", units="s"),
)

_DAILY_YIELD = Point("daily_energy_wh", 32114, 2, "uint32", scale=1, units="Wh")
_UNDOCUMENTED_ZERO = range(32108, 32114)  # between the two yields: served as 0

_IDENTITY = ("model", "serial", "rated_ac_w")
_CLOCK = ("device_time",)


def build_huawei_sun2000_map(*, phases: int) -> RegisterMap:
    """The Huawei SUN2000 map (same layout for 1- and 3-phase models)."""
    if phases not in (1, 3):
        raise RegisterMapError(f"register map 'huawei_sun2000': {phases} phases not supported")
    groups: dict[str, list[tuple[int, int]]] = {"identity": [], "measurements": [], "clock": []}
    for point in _POINTS:
        group = (
            "identity"
            if point.name in _IDENTITY
            else "clock"
            if point.name in _CLOCK
            else "measurements"
        )
        groups[group].append((point.address, point.end))
    blocks: tuple[Block, ...] = plan_blocks(groups.values())
    return RegisterMap(
        "huawei_sun2000",
        phases=phases,
        points=_POINTS,
        blocks=blocks,
        sentinels=_SENTINELS,
        filler=dict.fromkeys(_UNDOCUMENTED_ZERO, 0),
        enums={"state": EnumCodec(DEVICE_STATUS_TO_STATE, STATE_TO_DEVICE_STATUS)},
        encode_only_points=(_DAILY_YIELD,),
    )
