"""Modbus register maps shared by the simulator (encode) and the collector (decode).

A register map is defined once and used in both directions, so the simulated inverters
and the collectors cannot drift apart. Both directions speak a dict of canonical values
(:data:`CANONICAL_KEYS`, units in the names; ``None`` = not available)::

    m = get_map("sunspec", phases=3)
    image = m.encode({"ac_power_w": 41250.0, "energy_wh": 123456789, ...})   # simulator
    for block in m.blocks:                                                    # collector
        words = read_holding_registers(block.start, block.count)
        values.update(m.decode_block(block, words))

Maps: ``"sunspec"`` (models 1, 101/103, 120, see :mod:`pvmon.registermaps.sunspec`) and
``"huawei_sun2000"`` (see :mod:`pvmon.registermaps.huawei`). Everything here is pure: no
sockets, no I/O except reading pysunspec2's bundled model definitions once.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from pvmon.registermaps.base import (
    CANONICAL_KEYS,
    MAX_BLOCK_REGISTERS,
    SUNSPEC_STATES,
    Block,
    DType,
    EnumCodec,
    Point,
    RegisterMap,
    RegisterMapError,
    WordOrder,
)
from pvmon.registermaps.huawei import build_huawei_sun2000_map
from pvmon.registermaps.sunspec import build_sunspec_map
from pvmon.registry.models import REGISTER_MAPS

__all__ = [
    "CANONICAL_KEYS",
    "MAP_NAMES",
    "MAX_BLOCK_REGISTERS",
    "SUNSPEC_STATES",
    "Block",
    "DType",
    "EnumCodec",
    "Point",
    "RegisterMap",
    "RegisterMapError",
    "WordOrder",
    "get_map",
]

MAP_NAMES: tuple[str, ...] = REGISTER_MAPS  # what the registry accepts is what is built
"""Names accepted by :func:`get_map` (the inverters' ``register_map`` in the registry)."""


def get_map(name: str, *, phases: int) -> RegisterMap:
    """The register map called ``name`` for an inverter with ``phases`` phases (cached).

    Raises :class:`RegisterMapError` for an unknown name or phase count.
    """
    if name not in MAP_NAMES:
        raise RegisterMapError(f"unknown register map {name!r} (known: {', '.join(MAP_NAMES)})")
    return _build(name, phases)


@cache
def _build(name: str, phases: int) -> RegisterMap:
    if name == "sunspec":
        return build_sunspec_map(phases=phases)
    huawei = build_huawei_sun2000_map(phases=phases)
    if name == "huawei_sun2000_lw":
        # the SUN2000 layout with the lifetime counter's low word first, as some
        # re-branded loggers and other vendors put counters (field note 13)
        points = [
            replace(p, word_order="little") if p.name == "energy_wh" else p for p in huawei.points
        ]
        return huawei.with_points(name=name, points=points)
    return huawei
