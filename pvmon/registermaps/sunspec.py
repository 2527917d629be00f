"""The SunSpec register map, built from the model definitions pysunspec2 ships.

Layout (holding registers, base address 40000)::

    40000-40001  'SunS' marker (0x5375 0x6E53)
    40002        common model 1 (ID 1, L 66): Mn, Md, Opt, Vr, SN, DA, pad
    40070        inverter model 101 (single phase) or 103 (three phase) (L 50)
    40122        nameplate model 120 (L 26)
    40150-40151  end model (0xFFFF, length 0)

Point tables (addresses, types, scale-factor names, units, "not implemented" values) come
from pysunspec2's JSON model definitions (``sunspec2/models/json/model_*.json``) and
``sunspec2.mb.unimpl_value``; nothing is typed in by hand except which SunSpec point
feeds which canonical key:

=================  ===========================  =========================
SunSpec point      canonical key                scale factor
=================  ===========================  =========================
W                  ac_power_w [W]               W_SF
WH (acc32)         energy_wh [Wh]               WH_SF
DCW                dc_power_w [W]               DCW_SF
PhVphA/B/C         ac_voltage_a/b/c_v [V]       V_SF
AphA/B/C           ac_current_a/b/c_a [A]       A_SF
Hz                 frequency_hz [Hz]            Hz_SF
TmpCab             temperature_c [°C]           Tmp_SF
St                 state (SunSpec St 1..8)      -
Evt1               event_code (bitfield32)      -
Mn / Md / SN       manufacturer / model / serial (model 1)
WRtg               rated_ac_w [W]               WRtg_SF (model 120)
=================  ===========================  =========================

Written for SunSpec clients but never decoded (encode-only points):

- ``DA`` (model 1): the canonical ``unit_id``, the device's Modbus unit id (0..255);
- ``A`` (model 101/103): the total current, the sum of the phase currents;
- the other mandatory points of the nameplate model 120, derived from ``rated_ac_w``
  [W] and the phase count (a PV inverter feeding in at up to its rating, 230 V per
  phase)::

      DERTyp                 4 (PV)
      VARtg [VA]             rated W
      VArRtgQ1 / Q4 [var]    +0.44 / -0.44 x rated W (cos phi 0.9 at rated power;
                             quadrant 1 injects, 4 absorbs: negative, as SMA does,
                             sunspec/models #204)
      VArRtgQ2 / Q3 [var]    0 (a PV inverter never draws active power)
      ARtg [A]               rated W / (230 V x phases)
      PFRtgQ1 / Q4           0.8 / -0.8 (sign of the reactive power)
      PFRtgQ2 / Q3           1 (no reactive capability in those quadrants)

  each with its scale factor (``VARtg_SF``, ``VArRtg_SF``, ``ARtg_SF``, ``PFRtg_SF``).

"Not implemented" is 0x8000 for int16 and sunssf, 0xFFFF for uint16/enum16,
0xFFFFFFFF for bitfield32, all zero for strings and **0 for acc32**: an energy counter
that reads 0 decodes to ``None``, as the standard says. A value whose scale factor is
0x8000 or outside -10..10 decodes to ``None``.

Two read requests cover every point (each with the scale factors its values need, field
note 12): identity ``40000+68`` (marker, model 1 header, Mn..SN) and measurements
``40070+57`` (model 101/103 header and body, model 120 header, WRtg, WRtg_SF). The
marker, model ids and lengths inside a block are checked on every decode, so a device
with another layout raises :class:`~pvmon.registermaps.base.RegisterMapError` instead of
yielding garbage.

Encoding chooses each scale factor automatically: the finest one in -2..10 (WH_SF 0..10)
at which every value sharing it fits, so scale factors change at run time as values
grow, like real devices do; ``encode(..., scale_factors={"W_SF": -1})`` forces one.
``Evt2`` is written as 0; every other unused point (the optional storage ratings of
model 120, ``Opt``, ``Vr``) as "not implemented".

Simulation clock (pvmon extension, outside the SunSpec model chain so SunSpec clients
never see it): holding registers

    39990-39991  device time, uint32 seconds since 1970-01-01 UTC, high word first
    39992        milliseconds of that second, uint16 0..999

exposed as ``clock_block`` (``Block(39990, 3)``), not in ``blocks``: a real SunSpec
device answers exception 2 there, so a collector probes it once. It decodes to
``device_time`` as float seconds including the milliseconds; 0xFFFFFFFF seconds means
"not available" (milliseconds 0xFFFF are ignored).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, cast

from sunspec2 import mb

from pvmon.registermaps.base import (
    Block,
    Decoder,
    DType,
    EnumCodec,
    Point,
    RegisterMap,
    RegisterMapError,
    plan_blocks,
)

__all__ = [
    "CLOCK_ADDRESS",
    "END_MODEL_ID",
    "MODEL_IDS",
    "SUNSPEC_BASE_ADDRESS",
    "SunSpecRegisterMap",
    "build_sunspec_map",
]

SUNSPEC_BASE_ADDRESS = 40000
CLOCK_ADDRESS = 39990
END_MODEL_ID = 0xFFFF
MODEL_IDS: Mapping[int, int] = MappingProxyType({1: 101, 3: 103})
"""Inverter model per phase count."""

_SUNS_MARKER = (0x5375, 0x6E53)  # 'Su' 'nS'
_NAMEPLATE_MODEL = 120
_DER_TYPE_PV = 4

# Which SunSpec point feeds which canonical key, per model.
_COMMON_KEYS: Mapping[str, str] = {"Mn": "manufacturer", "Md": "model", "SN": "serial"}
_INVERTER_KEYS: Mapping[str, str] = {
    "W": "ac_power_w",
    "WH": "energy_wh",
    "DCW": "dc_power_w",
    "PhVphA": "ac_voltage_a_v",
    "PhVphB": "ac_voltage_b_v",
    "PhVphC": "ac_voltage_c_v",
    "AphA": "ac_current_a_a",
    "AphB": "ac_current_b_a",
    "AphC": "ac_current_c_a",
    "Hz": "frequency_hz",
    "TmpCab": "temperature_c",
    "St": "state",
    "Evt1": "event_code",
}
_NAMEPLATE_KEYS: Mapping[str, str] = {"WRtg": "rated_ac_w"}
# model 120: mandatory ratings, derived from rated_ac_w and the phase count
_NAMEPLATE_DERIVED = (
    "VARtg",
    "VArRtgQ1",
    "VArRtgQ2",
    "VArRtgQ3",
    "VArRtgQ4",
    "ARtg",
    "PFRtgQ1",
    "PFRtgQ2",
    "PFRtgQ3",
    "PFRtgQ4",
)
_ENCODE_ONLY = frozenset(
    {
        "DA",  # model 1: the Modbus unit id
        "A",  # model 101/103: mandatory total current, derived from the phases
        *_NAMEPLATE_DERIVED,
    }
)
_NOMINAL_PHASE_VOLTAGE_V = 230.0
_VAR_RATING_PER_W = 0.44  # sin(acos(0.9)) = 0.436: cos phi 0.9 at rated power
_MIN_POWER_FACTOR = 0.8
_MAX_UNIT_ID = 255  # a Modbus unit id is one byte
_UNITS = {"C": "°C"}
_SF_RANGE = {"WH_SF": (0, 10)}  # energy stays in whole Wh while it fits
_FIXED_VALUES = {"DERTyp": _DER_TYPE_PV, "Evt2": 0}


@cache
def _model_definition(model_id: int) -> dict[str, Any]:
    """pysunspec2's JSON definition of one model."""
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def _model_points(model_id: int) -> list[dict[str, Any]]:
    group = _model_definition(model_id)["group"]
    if group.get("groups"):
        raise RegisterMapError(f"SunSpec model {model_id} has repeating groups; not supported")
    return cast(list[dict[str, Any]], group["points"])


def _words(value: int, size: int) -> list[int]:
    """``value`` as ``size`` registers, high word first."""
    value &= (1 << (16 * size)) - 1
    return [(value >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def _unimplemented_words(sunspec_type: str, size: int) -> list[int]:
    """The registers of a point of ``sunspec_type`` that is "not implemented"."""
    if sunspec_type in ("string", "pad"):
        return [0] * size
    return _words(int(mb.unimpl_value[sunspec_type]), size)


@dataclass
class _Layout:
    """What laying out the model chain produces, model by model."""

    constants: dict[int, int] = field(default_factory=dict)
    constant_names: dict[int, str] = field(default_factory=dict)
    filler: dict[int, int] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    encode_only: list[Point] = field(default_factory=list)

    def add_constant(self, address: int, word: int, what: str) -> None:
        self.constants[address] = word
        self.constant_names[address] = what

    def add_model(
        self,
        model_id: int,
        *,
        start: int,
        canonical: Mapping[str, str],
        spans: list[tuple[int, int]],
    ) -> int:
        """Lay out model ``model_id`` from ``start``; returns the address after it.

        ``canonical`` says which of its points feed which canonical key.

        Appends to ``spans`` what a read must cover: the model header and every canonical
        point together with its scale factor.
        """
        model_points = _model_points(model_id)
        length = sum(int(p["size"]) for p in model_points) - 2
        self.add_constant(start, model_id, f"model id {model_id}")
        self.add_constant(start + 1, length, f"model {model_id} length {length}")
        spans.append((start, start + 2))
        addresses: dict[str, int] = {}
        address = start
        for p in model_points:
            addresses[p["name"]] = address
            address += int(p["size"])
        scale_factors: set[str] = set()
        encode_only_scale_factors: set[str] = set()
        for p in model_points[2:]:
            name, size, at = p["name"], int(p["size"]), addresses[p["name"]]
            fixed = _FIXED_VALUES.get(name)
            words = _unimplemented_words(p["type"], size) if fixed is None else _words(fixed, size)
            self.filler.update(zip(range(at, at + size), words, strict=True))
            sf_name = p.get("sf")
            key = canonical.get(name)
            if key is not None:
                units = p.get("units", "")
                dtype = cast(DType, p["type"])
                self.points.append(
                    Point(key, at, size, dtype, scale=sf_name, units=_UNITS.get(units, units))
                )
                span = (at, at + size)
                if sf_name:
                    scale_factors.add(sf_name)
                    sf_at = addresses[sf_name]
                    span = (min(at, sf_at), max(at + size, sf_at + 1))
                spans.append(span)
            elif name in _ENCODE_ONLY:
                dtype = cast(DType, p["type"])
                self.encode_only.append(Point(name, at, size, dtype, scale=sf_name))
                if sf_name:
                    encode_only_scale_factors.add(sf_name)
        for sf_name in sorted(scale_factors):
            self.points.append(Point(sf_name, addresses[sf_name], 1, "sunssf"))
        for sf_name in sorted(encode_only_scale_factors - scale_factors):
            self.encode_only.append(Point(sf_name, addresses[sf_name], 1, "sunssf"))
        return address


def _nameplate_ratings(rated_ac_w: object, *, phases: int) -> dict[str, float | None]:
    """The derived mandatory points of model 120 for an inverter rated ``rated_ac_w`` [W].

    ``None`` (or no number) gives ``None`` for each: written as "not implemented".
    """
    if (
        isinstance(rated_ac_w, bool)
        or not isinstance(rated_ac_w, int | float)
        or not math.isfinite(rated_ac_w)
    ):
        return dict.fromkeys(_NAMEPLATE_DERIVED)
    rated = float(rated_ac_w)
    var_rating = _VAR_RATING_PER_W * rated
    return {
        "VARtg": rated,
        "VArRtgQ1": var_rating,
        "VArRtgQ2": 0.0,
        "VArRtgQ3": 0.0,
        "VArRtgQ4": -var_rating,
        "ARtg": rated / (_NOMINAL_PHASE_VOLTAGE_V * phases),
        "PFRtgQ1": _MIN_POWER_FACTOR,
        "PFRtgQ2": 1.0,
        "PFRtgQ3": 1.0,
        "PFRtgQ4": -_MIN_POWER_FACTOR,
    }


class SunSpecRegisterMap(RegisterMap):
    """SunSpec map: adds the derived points (unit id, total current, nameplate ratings)
    and the millisecond clock."""

    def _prepare_values(self, values: Mapping[str, object]) -> dict[str, object]:
        prepared = super()._prepare_values(values)
        unit_id = values.get("unit_id")
        if unit_id is not None and (
            isinstance(unit_id, bool)
            or not isinstance(unit_id, int)
            or not 0 <= unit_id <= _MAX_UNIT_ID
        ):
            raise RegisterMapError(
                f"register map {self.label}: unit_id={unit_id!r} is not a Modbus unit id "
                f"(an int in 0..{_MAX_UNIT_ID})"
            )
        prepared["DA"] = unit_id
        prepared.update(_nameplate_ratings(values.get("rated_ac_w"), phases=self.phases))
        currents = [
            values.get(key) for key in ("ac_current_a_a", "ac_current_b_a", "ac_current_c_a")
        ]
        present = [c for c in currents if c is not None]
        prepared["A"] = sum(cast(list[float], present)) if present else None
        device_time = values.get("device_time")
        if device_time is None:
            prepared["device_time_ms"] = None
        else:
            if isinstance(device_time, bool) or not isinstance(device_time, int | float):
                raise RegisterMapError(
                    f"register map {self.label}: device_time={device_time!r} is not a number"
                )
            if not math.isfinite(device_time):
                raise RegisterMapError(
                    f"register map {self.label}: device_time={device_time!r} is not finite"
                )
            seconds, millis = divmod(round(device_time * 1000), 1000)
            prepared["device_time"] = seconds
            prepared["device_time_ms"] = millis
        return prepared

    def _decoder_for(self, point: Point, block: Block) -> Decoder | None:
        if point.name != "device_time":
            return super()._decoder_for(point, block)
        ms_offset = self.point("device_time_ms").address - block.start
        if not 0 <= ms_offset < block.count:
            raise RegisterMapError(
                f"register map {self.label}: block {block} holds device_time but not its "
                "milliseconds"
            )

        def decode(words: Sequence[int], offset: int) -> object:
            seconds = (words[offset] << 16) | words[offset + 1]
            if seconds == 0xFFFFFFFF:
                return None
            millis = words[ms_offset]
            return float(seconds) if millis > 999 else seconds + millis / 1000

        return decode


def build_sunspec_map(*, phases: int) -> SunSpecRegisterMap:
    """The SunSpec map for a 1-phase (model 101) or 3-phase (model 103) inverter."""
    if phases not in MODEL_IDS:
        raise RegisterMapError(
            f"register map 'sunspec': {phases} phases not supported (1 -> model 101, "
            "3 -> model 103)"
        )
    layout = _Layout()
    layout.add_constant(SUNSPEC_BASE_ADDRESS, _SUNS_MARKER[0], "'SunS' marker")
    layout.add_constant(SUNSPEC_BASE_ADDRESS + 1, _SUNS_MARKER[1], "'SunS' marker")
    identity: list[tuple[int, int]] = [(SUNSPEC_BASE_ADDRESS, SUNSPEC_BASE_ADDRESS + 2)]
    measurements: list[tuple[int, int]] = []
    address = layout.add_model(
        1, start=SUNSPEC_BASE_ADDRESS + 2, canonical=_COMMON_KEYS, spans=identity
    )
    address = layout.add_model(
        MODEL_IDS[phases], start=address, canonical=_INVERTER_KEYS, spans=measurements
    )
    address = layout.add_model(
        _NAMEPLATE_MODEL, start=address, canonical=_NAMEPLATE_KEYS, spans=measurements
    )
    layout.add_constant(address, END_MODEL_ID, "end model id")
    layout.add_constant(address + 1, 0, "end model length")
    layout.points.append(Point("device_time", CLOCK_ADDRESS, 2, "uint32", units="s"))
    layout.points.append(Point("device_time_ms", CLOCK_ADDRESS + 2, 1, "uint16", units="ms"))
    return SunSpecRegisterMap(
        "sunspec",
        phases=phases,
        points=sorted(layout.points, key=lambda p: p.address),
        blocks=plan_blocks([identity, measurements]),
        clock_block=Block(CLOCK_ADDRESS, 3),
        sentinels=_sentinels(),
        constants=layout.constants,
        constant_names=layout.constant_names,
        filler=layout.filler,
        enums={"state": _STATE_CODEC},
        encode_only_points=layout.encode_only,
        scale_factor_range=_SF_RANGE,
    )


def _sentinels() -> dict[str, int]:
    """Raw "not implemented" values per type, from ``sunspec2.mb.unimpl_value``."""
    sentinels: dict[str, int] = {}
    for dtype, size in (
        ("uint16", 1),
        ("int16", 1),
        ("enum16", 1),
        ("bitfield16", 1),
        ("uint32", 2),
        ("int32", 2),
        ("acc32", 2),
        ("bitfield32", 2),
        ("uint64", 4),
        ("acc64", 4),
    ):
        sentinels[dtype] = int(mb.unimpl_value[dtype]) & ((1 << (16 * size)) - 1)
    return sentinels


_STATE_CODEC = EnumCodec(
    to_canonical={code: code for code in range(1, 9)},
    from_canonical={code: code for code in range(1, 9)},
)
