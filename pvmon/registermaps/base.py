"""Register-map machinery shared by every vendor map: points, blocks, encode and decode.

A :class:`RegisterMap` is a table of :class:`Point` s (where a value lives, how it is
typed and scaled) plus the :class:`Block` s a collector reads. The same object encodes
canonical values into a register image (the simulator) and decodes what a collector
reads back (the collector), so the two cannot drift.

Canonical values are a flat dict whose keys are :data:`CANONICAL_KEYS` (units in the
names). ``None`` means "not available": encoding writes the map's "not implemented"
sentinel, decoding turns a sentinel back into ``None`` (never 0).

Decoding is table-driven: for every block the map precomputes, once, a list of
``(key, offset, decoder)`` entries, where ``decoder(words, offset)`` is a small closure
specialised for the point's type, word order and scaling. A scale factor is always read
from the words of the same block (field note 12): nothing is cached between calls, so a
device that changes a scale factor at run time is decoded correctly.

Word order is a property of each point: ``"big"`` puts the high word first (the Modbus
convention and SunSpec's), ``"little"`` the low word first (some vendors' counters, field
note 13). Bytes inside a word are always big-endian.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, cast, get_args

from pvmon.errors import PvmonError

__all__ = [
    "CANONICAL_KEYS",
    "MAX_BLOCK_REGISTERS",
    "SUNSPEC_STATES",
    "Block",
    "DType",
    "Decoder",
    "EnumCodec",
    "Point",
    "RegisterMap",
    "RegisterMapError",
    "WordOrder",
    "plan_blocks",
]

DType = Literal[
    "uint16",
    "int16",
    "uint32",
    "int32",
    "acc32",
    "uint64",
    "acc64",
    "string",
    "sunssf",
    "enum16",
    "bitfield16",
    "bitfield32",
]
WordOrder = Literal["big", "little"]

MAX_BLOCK_REGISTERS = 100
"""Largest read request a map may ask for [registers] (the protocol allows 125; many
devices fail above ~50-100, see the field notes)."""

CANONICAL_KEYS: Mapping[str, type] = MappingProxyType(
    {
        "ac_power_w": float,
        "energy_wh": int,
        "dc_power_w": float,
        "ac_voltage_a_v": float,
        "ac_voltage_b_v": float,
        "ac_voltage_c_v": float,
        "ac_current_a_a": float,
        "ac_current_b_a": float,
        "ac_current_c_a": float,
        "frequency_hz": float,
        "temperature_c": float,
        "state": int,
        "event_code": int,
        "manufacturer": str,
        "model": str,
        "serial": str,
        "rated_ac_w": float,
        "device_time": int,
        "daily_energy_wh": int,
        "unit_id": int,
    }
)
"""Every canonical key and the Python type its decoded value has.

``device_time`` [s since 1970] is an ``int`` except where a map carries milliseconds
(the SunSpec map's simulation clock), where it is a ``float``.

``daily_energy_wh`` (the device's own yield of the day [Wh]) and ``unit_id`` (its Modbus
unit id, SunSpec ``DA``) are encoded for the simulator but decoded by no map: daily
energy comes only from lifetime-counter differences (field note 9) and the unit id is
known from the registry.
"""

SUNSPEC_STATES: Mapping[int, str] = MappingProxyType(
    {
        1: "off",
        2: "sleeping",
        3: "starting",
        4: "mppt",
        5: "throttled",
        6: "shutting_down",
        7: "fault",
        8: "standby",
    }
)
"""The canonical operating states (SunSpec inverter model ``St``)."""

_DTYPES: frozenset[str] = frozenset(get_args(DType))
_WORDS_PER_DTYPE: Mapping[str, int] = MappingProxyType(
    {
        "uint16": 1,
        "int16": 1,
        "sunssf": 1,
        "enum16": 1,
        "bitfield16": 1,
        "uint32": 2,
        "int32": 2,
        "acc32": 2,
        "bitfield32": 2,
        "uint64": 4,
        "acc64": 4,
    }
)
_SIGNED: frozenset[str] = frozenset({"int16", "int32", "sunssf"})
_ACCUMULATORS: frozenset[str] = frozenset({"acc32", "acc64"})
_FLOORED_KEYS: frozenset[str] = frozenset({"energy_wh", "daily_energy_wh", "device_time"})
_SUNSSF_NOT_IMPLEMENTED = 0x8000
_SUNSSF_LIMIT = 10  # SunSpec scale factors lie in -10..10
_POW10: tuple[int, ...] = tuple(10**n for n in range(_SUNSSF_LIMIT + 1))

Decoder = Callable[[Sequence[int], int], object]
"""``decoder(words, offset)``: the value of one point in the words of one block."""
_RawReader = Callable[[Sequence[int], int], int]


class RegisterMapError(PvmonError):
    """A register map was asked for something it cannot do.

    Unknown map name or block, a word list of the wrong length, a constant register that
    does not hold what the map expects, a value that does not fit its point. The message
    names the map, the block or address, and the point.
    """


@dataclass(frozen=True, slots=True)
class Point:
    """Where one value lives in the holding registers and how it is encoded.

    ``name`` is a canonical key (``ac_power_w``) or an internal name (a scale-factor
    point such as ``W_SF``). ``address`` is absolute (e.g. 40084), ``count`` in words.
    ``scale`` is a fixed power of ten (``-1``: one count is 0.1 of ``units``), the name
    of a scale-factor point (SunSpec), or ``None`` (no scaling). ``word_order`` says
    which word of a multi-word value comes first. ``units`` are the canonical units of
    the decoded value.
    """

    name: str
    address: int
    count: int
    dtype: DType
    scale: int | str | None = None
    word_order: WordOrder = "big"
    units: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise RegisterMapError(f"point {self.name!r}: unknown type {self.dtype!r}")
        expected = _WORDS_PER_DTYPE.get(self.dtype)
        if expected is not None and self.count != expected:
            raise RegisterMapError(
                f"point {self.name!r} at {self.address}: {self.dtype} takes {expected} "
                f"words, not {self.count}"
            )
        if self.count < 1 or not 0 <= self.address <= 0xFFFF - self.count + 1:
            raise RegisterMapError(
                f"point {self.name!r}: address {self.address}+{self.count} is outside 0..65535"
            )
        if self.word_order not in ("big", "little"):
            raise RegisterMapError(f"point {self.name!r}: unknown word order {self.word_order!r}")
        if isinstance(self.scale, int) and not -_SUNSSF_LIMIT <= self.scale <= _SUNSSF_LIMIT:
            raise RegisterMapError(f"point {self.name!r}: scale 10^{self.scale} is out of range")

    @property
    def end(self) -> int:
        """First address after the point."""
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class Block:
    """One read request of holding registers (function 3): ``count`` words from ``start``."""

    start: int
    count: int

    @property
    def end(self) -> int:
        """First address after the block."""
        return self.start + self.count

    def covers(self, address: int, count: int = 1) -> bool:
        """Whether ``count`` words from ``address`` all lie inside the block."""
        return self.start <= address and address + count <= self.end

    def __str__(self) -> str:
        return f"{self.start}+{self.count}"


@dataclass(frozen=True, slots=True)
class EnumCodec:
    """Translates a vendor's enumeration to canonical values and back.

    ``to_canonical`` maps every vendor code the map knows to a canonical value (a code
    not in it decodes to ``None``); ``from_canonical`` picks the vendor code encode
    writes for a canonical value.
    """

    to_canonical: Mapping[int, int]
    from_canonical: Mapping[int, int]

    def __post_init__(self) -> None:
        for canonical, code in self.from_canonical.items():
            if self.to_canonical.get(code) != canonical:
                raise RegisterMapError(
                    f"enum code {code:#06x} written for {canonical} decodes to "
                    f"{self.to_canonical.get(code)}"
                )


@dataclass(slots=True)
class _BlockPlan:
    """Precomputed decoding of one block: constants to check and values to decode."""

    block: Block
    constants: list[tuple[int, int]] = field(default_factory=list)  # (offset, word)
    entries: list[tuple[str, int, Decoder]] = field(default_factory=list)


def plan_blocks(
    groups: Iterable[Iterable[tuple[int, int]]], *, max_count: int = MAX_BLOCK_REGISTERS
) -> tuple[Block, ...]:
    """The fewest read requests covering every span, each at most ``max_count`` words.

    Each group is a list of ``(start, end)`` spans (``end`` exclusive) that must each be
    read in one request (a value together with its scale factor); spans of different
    groups never share a request (e.g. static identity and live measurements). Within a
    group, blocks are grown greedily from the lowest address, which is optimal for
    intervals on a line.
    """
    blocks: list[Block] = []
    for group in groups:
        spans = sorted(group)
        start: int | None = None
        end = 0
        for span_start, span_end in spans:
            if span_end - span_start > max_count:
                raise RegisterMapError(
                    f"span {span_start}..{span_end - 1} is longer than {max_count} registers"
                )
            if start is not None and max(end, span_end) - start <= max_count:
                end = max(end, span_end)
                continue
            if start is not None:
                blocks.append(Block(start, end - start))
            start, end = span_start, span_end
        if start is not None:
            blocks.append(Block(start, end - start))
    return tuple(blocks)


class RegisterMap:
    """One device's register layout: encode canonical values, decode what was read.

    Attributes a collector uses: ``name``, ``phases``, ``blocks`` (read every poll; each
    holds the scale factors its values need), ``clock_block`` (an optional extra block
    holding ``device_time`` that not every device answers; ``None`` when the clock is in
    ``blocks`` or absent) and ``points``.
    """

    def __init__(
        self,
        name: str,
        *,
        phases: int,
        points: Sequence[Point],
        blocks: Sequence[Block],
        sentinels: Mapping[str, int],
        clock_block: Block | None = None,
        constants: Mapping[int, int] | None = None,
        constant_names: Mapping[int, str] | None = None,
        filler: Mapping[int, int] | None = None,
        enums: Mapping[str, EnumCodec] | None = None,
        encode_only_points: Sequence[Point] = (),
        scale_factor_range: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Build and check a map.

        ``sentinels`` maps a dtype to its "not implemented" raw value (unsigned, all words
        together; strings are all zero). ``constants`` are registers with fixed content,
        checked whenever a block holding them is decoded (``constant_names`` says what
        they are in messages). ``filler`` is the content of the other registers the image
        holds (unused points as "not implemented"; registers of a block that no point
        uses are 0). ``enums`` translates vendor codes per point. ``encode_only_points``
        are written by encode but never decoded (values a standard requires but pvmon
        does not use). ``scale_factor_range`` bounds the automatic choice per
        scale-factor point (default -2..10: the finest scale factor that fits wins).
        """
        self.name = name
        self.phases = phases
        self.points: tuple[Point, ...] = tuple(points)
        self.blocks: tuple[Block, ...] = tuple(blocks)
        self.clock_block = clock_block
        self._sentinels = dict(sentinels)
        self._constants = dict(constants or {})
        self._constant_names = dict(constant_names or {})
        self._enums = dict(enums or {})
        self._encode_only: tuple[Point, ...] = tuple(encode_only_points)
        self._by_name: dict[str, Point] = {}
        for point in (*self.points, *self._encode_only):
            if point.name in self._by_name:
                raise RegisterMapError(f"register map {self.label}: point {point.name!r} twice")
            self._by_name[point.name] = point
        self._check_points()
        self._sf_dependents: dict[str, tuple[Point, ...]] = {
            sf.name: tuple(p for p in self._by_name.values() if p.scale == sf.name)
            for sf in self._by_name.values()
            if sf.dtype == "sunssf"
        }
        ranges = dict(scale_factor_range or {})
        self._sf_range = {
            name: ranges.get(name, (-2, _SUNSSF_LIMIT)) for name in self._sf_dependents
        }
        self._value_points: tuple[Point, ...] = tuple(
            p for p in self._by_name.values() if p.dtype != "sunssf"
        )
        self._base_image = self._make_base_image(filler or {})
        self._plans: dict[Block, _BlockPlan] = {}
        for block in self._all_blocks():
            self._plans[block] = self._plan(block)

    # -- description ------------------------------------------------------------------

    @property
    def label(self) -> str:
        """The map's name and phase count, as used in messages."""
        return f"{self.name!r} ({self.phases}-phase)"

    @property
    def canonical_keys(self) -> tuple[str, ...]:
        """The canonical keys this map has a register for."""
        return tuple(p.name for p in self.points if p.name in CANONICAL_KEYS)

    def point(self, name: str) -> Point:
        """The point called ``name`` (canonical key or internal name)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise RegisterMapError(f"register map {self.label} has no point {name!r}") from None

    def sentinel(self, point: Point) -> int | None:
        """The raw "not implemented" value of ``point`` (``None`` for strings: all zero)."""
        if point.dtype == "sunssf":
            return _SUNSSF_NOT_IMPLEMENTED
        return self._sentinels.get(point.dtype)

    def with_points(self, *, name: str, points: Sequence[Point]) -> RegisterMap:
        """A variant of this map with other points (e.g. a counter with its low word first).

        Blocks, sentinels, constants, enums and scale-factor ranges are kept.
        """
        return type(self)(
            name,
            phases=self.phases,
            points=points,
            blocks=self.blocks,
            sentinels=self._sentinels,
            clock_block=self.clock_block,
            constants=self._constants,
            constant_names=self._constant_names,
            filler={a: w for a, w in self._base_image.items() if a not in self._constants},
            enums=self._enums,
            encode_only_points=self._encode_only,
            scale_factor_range=self._sf_range,
        )

    # -- decoding ---------------------------------------------------------------------

    def decode_block(self, block: Block, words: Sequence[int]) -> dict[str, object]:
        """Canonical values found in one block read (scale factors applied, sentinels None).

        ``words`` are the ``block.count`` 16-bit registers read from ``block.start``.
        Scale factors come from the same words (read as signed int16); a value whose
        scale factor is "not implemented" or outside -10..10 decodes to ``None``.
        """
        plan = self._plans.get(block)
        if plan is None:
            raise RegisterMapError(
                f"register map {self.label}: block {block} is not one of its blocks "
                f"({', '.join(str(b) for b in self._all_blocks())})"
            )
        if len(words) != block.count:
            raise RegisterMapError(
                f"register map {self.label}: block {block} needs {block.count} words, "
                f"got {len(words)}"
            )
        for offset, expected in plan.constants:
            if words[offset] != expected:
                raise RegisterMapError(
                    f"register map {self.label}: block {block}, register "
                    f"{block.start + offset} holds {words[offset]:#06x}, expected "
                    f"{expected:#06x} ({self._constant_name(block.start + offset)}): "
                    "not this map's layout"
                )
        return {key: decoder(words, offset) for key, offset, decoder in plan.entries}

    def decode(self, image: Mapping[int, int]) -> dict[str, object]:
        """Canonical values of a whole register image (every block, and the clock if held).

        Every address of ``blocks`` must be in ``image``; the clock block is decoded when
        all its addresses are.
        """
        values: dict[str, object] = {}
        for block in self.blocks:
            missing = [a for a in range(block.start, block.end) if a not in image]
            if missing:
                raise RegisterMapError(
                    f"register map {self.label}: block {block}: register {missing[0]} "
                    "is not in the image"
                )
            values.update(
                self.decode_block(block, [image[a] for a in range(block.start, block.end)])
            )
        clock = self.clock_block
        if clock is not None and all(a in image for a in range(clock.start, clock.end)):
            values.update(
                self.decode_block(clock, [image[a] for a in range(clock.start, clock.end)])
            )
        return values

    # -- encoding ---------------------------------------------------------------------

    def encode(
        self,
        values: Mapping[str, object],
        *,
        scale_factors: Mapping[str, int] | None = None,
    ) -> dict[int, int]:
        """The full register image (address → 16-bit word) holding ``values``.

        Includes the constants (markers, model ids and lengths) and every register of
        every block. Missing keys and ``None`` write the "not implemented" sentinel; keys
        the map has no register for (e.g. ``manufacturer`` on a vendor map) are ignored.
        Scale factors are chosen automatically (the finest that makes every value sharing
        it fit) unless given in ``scale_factors`` by point name (e.g. ``{"W_SF": -1}``).
        """
        unknown = sorted(k for k in values if k not in CANONICAL_KEYS)
        if unknown:
            raise RegisterMapError(
                f"register map {self.label}: unknown canonical keys {', '.join(unknown)}"
            )
        if scale_factors:
            strange = sorted(k for k in scale_factors if k not in self._sf_dependents)
            if strange:
                raise RegisterMapError(
                    f"register map {self.label}: no scale-factor point {', '.join(strange)}"
                )
        prepared = self._prepare_values(values)
        image = dict(self._base_image)
        exponents: dict[str, int] = {}
        for sf_name, dependents in self._sf_dependents.items():
            given = scale_factors.get(sf_name) if scale_factors else None
            if given is None:
                exponent = self._choose_scale_factor(sf_name, dependents, prepared)
            elif isinstance(given, int) and -_SUNSSF_LIMIT <= given <= _SUNSSF_LIMIT:
                exponent = given
            else:
                raise RegisterMapError(
                    f"register map {self.label}: scale factor {sf_name}={given!r} is not an "
                    f"int in -{_SUNSSF_LIMIT}..{_SUNSSF_LIMIT}"
                )
            exponents[sf_name] = exponent
            image[self._by_name[sf_name].address] = exponent & 0xFFFF
        for point in self._value_points:
            value = prepared.get(point.name)
            scale = exponents[point.scale] if isinstance(point.scale, str) else point.scale or 0
            raw = self._raw_value(point, value, scale)
            if raw is None:
                raise RegisterMapError(
                    f"register map {self.label}: {point.name}={value!r} does not fit "
                    f"{point.dtype} at address {point.address} with scale 10^{scale}"
                )
            self._write(image, point, raw)
        return image

    # -- hooks for vendor maps ----------------------------------------------------------

    def _prepare_values(self, values: Mapping[str, object]) -> dict[str, object]:
        """The value of every encodable point by point name (canonical keys as given)."""
        return {k: v for k, v in values.items() if k in self._by_name}

    def _decoder_for(self, point: Point, block: Block) -> Decoder | None:
        """The decoder of a canonical point inside ``block`` (``None``: not decoded)."""
        offset_of_sf: int | None = None
        if isinstance(point.scale, str):
            sf_point = self._by_name[point.scale]
            offset_of_sf = sf_point.address - block.start
        kind = CANONICAL_KEYS[point.name]
        if point.dtype == "string":
            return _string_decoder(point.count)
        read = _raw_reader(point)
        sentinel = self.sentinel(point)
        bits = 16 * point.count
        signed = point.dtype in _SIGNED
        enum = self._enums.get(point.name)
        if enum is not None:
            return _enum_decoder(read, sentinel, dict(enum.to_canonical))
        if offset_of_sf is not None:
            return _sunssf_decoder(read, sentinel, bits, signed, offset_of_sf, integral=kind is int)
        return _fixed_scale_decoder(
            read, sentinel, bits, signed, cast(int | None, point.scale) or 0, kind=kind
        )

    # -- internals ----------------------------------------------------------------------

    def _all_blocks(self) -> tuple[Block, ...]:
        return self.blocks if self.clock_block is None else (*self.blocks, self.clock_block)

    def _check_points(self) -> None:
        for block in self._all_blocks():
            if not 1 <= block.count <= MAX_BLOCK_REGISTERS:
                raise RegisterMapError(
                    f"register map {self.label}: block {block} is not 1..{MAX_BLOCK_REGISTERS} "
                    "registers"
                )
        for point in self.points:
            holders = [b for b in self._all_blocks() if b.covers(point.address, point.count)]
            if not holders:
                raise RegisterMapError(
                    f"register map {self.label}: point {point.name!r} at {point.address} "
                    "is in no block"
                )
            if isinstance(point.scale, str):
                sf = self._by_name.get(point.scale)
                if sf is None or sf.dtype != "sunssf":
                    raise RegisterMapError(
                        f"register map {self.label}: point {point.name!r} scales by "
                        f"{point.scale!r}, which is not a scale-factor point"
                    )
                for block in holders:
                    if not block.covers(sf.address):
                        raise RegisterMapError(
                            f"register map {self.label}: block {block} holds {point.name!r} "
                            f"but not its scale factor {sf.name} at {sf.address}"
                        )
        for point in self._encode_only:
            if isinstance(point.scale, str) and point.scale not in self._by_name:
                raise RegisterMapError(
                    f"register map {self.label}: point {point.name!r} scales by unknown "
                    f"{point.scale!r}"
                )

    def _make_base_image(self, filler: Mapping[int, int]) -> dict[int, int]:
        image: dict[int, int] = {}
        for block in self._all_blocks():
            for address in range(block.start, block.end):
                image[address] = 0
        image.update(filler)
        image.update(self._constants)
        return image

    def _plan(self, block: Block) -> _BlockPlan:
        plan = _BlockPlan(block)
        for address, word in sorted(self._constants.items()):
            if block.covers(address):
                plan.constants.append((address - block.start, word))
        for point in self.points:
            if point.name not in CANONICAL_KEYS or not block.covers(point.address, point.count):
                continue
            decoder = self._decoder_for(point, block)
            if decoder is not None:
                plan.entries.append((point.name, point.address - block.start, decoder))
        return plan

    def _constant_name(self, address: int) -> str:
        return self._constant_names.get(address, f"constant at {address}")

    def _choose_scale_factor(
        self, sf_name: str, dependents: Sequence[Point], prepared: Mapping[str, object]
    ) -> int:
        lowest, highest = self._sf_range[sf_name]
        present = [(p, prepared[p.name]) for p in dependents if prepared.get(p.name) is not None]
        start = lowest
        for point, value in present:
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            limit = (1 << (16 * point.count - (1 if point.dtype in _SIGNED else 0))) - 2
            ratio = abs(value) / limit
            if ratio > 0:  # a first guess one below the answer; the loop below decides
                estimate = math.ceil(math.log10(ratio)) - 1
                start = max(start, min(estimate, highest))
        for exponent in range(start, highest + 1):
            if all(self._raw_value(p, v, exponent) is not None for p, v in present):
                return exponent
        shown = ", ".join(f"{p.name}={v!r}" for p, v in present)
        raise RegisterMapError(
            f"register map {self.label}: no scale factor {sf_name} in {lowest}..{highest} "
            f"fits {shown}"
        )

    def _raw_value(self, point: Point, value: object, exponent: int) -> int | None:
        """The unsigned raw value of ``point`` holding ``value`` (None: does not fit)."""
        sentinel = self.sentinel(point)
        if value is None:
            return 0 if sentinel is None else sentinel
        if point.dtype == "string":
            return self._raw_string(point, value)
        enum = self._enums.get(point.name)
        if enum is not None:
            if not isinstance(value, int) or value not in enum.from_canonical:
                raise RegisterMapError(
                    f"register map {self.label}: {point.name}={value!r} has no vendor code "
                    f"(known: {sorted(enum.from_canonical)})"
                )
            number: int = enum.from_canonical[value]
        else:
            number = _scaled_integer(point, value, exponent, label=self.label)
        bits = 16 * point.count
        if point.dtype in _SIGNED:
            if not -(1 << (bits - 1)) <= number < (1 << (bits - 1)):
                return None
            raw = number & ((1 << bits) - 1)
        else:
            if not 0 <= number < (1 << bits):
                return None
            raw = number
        if raw == sentinel and point.dtype not in _ACCUMULATORS:
            return None
        return raw

    def _raw_string(self, point: Point, value: object) -> int:
        if not isinstance(value, str):
            raise RegisterMapError(
                f"register map {self.label}: {point.name}={value!r} is not a string"
            )
        data = value.encode("utf-8")
        if len(data) > 2 * point.count or b"\0" in data:
            raise RegisterMapError(
                f"register map {self.label}: {point.name}={value!r} does not fit "
                f"{2 * point.count} bytes at address {point.address}"
            )
        return int.from_bytes(data.ljust(2 * point.count, b"\0"), "big")

    @staticmethod
    def _write(image: dict[int, int], point: Point, raw: int) -> None:
        count = point.count
        if point.word_order == "big":
            for i in range(count):
                image[point.address + i] = (raw >> (16 * (count - 1 - i))) & 0xFFFF
        else:
            for i in range(count):
                image[point.address + i] = (raw >> (16 * i)) & 0xFFFF


# -- decoders (closures built once per point and block) ----------------------------------


def _raw_reader(point: Point) -> _RawReader:
    """A function reading the unsigned raw value of ``point`` at an offset."""
    if point.count == 1:
        return _read_word
    if point.count == 2:
        return _read_u32_big if point.word_order == "big" else _read_u32_little
    count = point.count
    if point.word_order == "big":

        def read_big(words: Sequence[int], offset: int) -> int:
            raw = 0
            for word in words[offset : offset + count]:
                raw = (raw << 16) | word
            return raw

        return read_big

    def read_little(words: Sequence[int], offset: int) -> int:
        raw = 0
        for word in reversed(words[offset : offset + count]):
            raw = (raw << 16) | word
        return raw

    return read_little


def _read_word(words: Sequence[int], offset: int) -> int:
    return words[offset]


def _read_u32_big(words: Sequence[int], offset: int) -> int:
    return (words[offset] << 16) | words[offset + 1]


def _read_u32_little(words: Sequence[int], offset: int) -> int:
    return (words[offset + 1] << 16) | words[offset]


def _sunssf_decoder(
    read: _RawReader,
    sentinel: int | None,
    bits: int,
    signed: bool,
    sf_offset: int,
    *,
    integral: bool,
) -> Decoder:
    """Decoder of a value scaled by a SunSpec scale factor held in the same block."""
    half = 1 << (bits - 1)
    full = 1 << bits

    def decode(words: Sequence[int], offset: int) -> object:
        raw = read(words, offset)
        if raw == sentinel:
            return None
        sf_word = words[sf_offset]
        if sf_word == _SUNSSF_NOT_IMPLEMENTED:
            return None
        sf = sf_word - 0x10000 if sf_word & 0x8000 else sf_word
        if signed and raw >= half:
            raw -= full
        if sf >= 0:
            if sf > _SUNSSF_LIMIT:
                return None
            scaled = raw * _POW10[sf]
            return scaled if integral else float(scaled)
        if sf < -_SUNSSF_LIMIT:
            return None
        return round(raw / _POW10[-sf]) if integral else raw / _POW10[-sf]

    return decode


def _fixed_scale_decoder(
    read: _RawReader,
    sentinel: int | None,
    bits: int,
    signed: bool,
    exponent: int,
    *,
    kind: type,
) -> Decoder:
    """Decoder of a value with a fixed power-of-ten scale (vendor "gain")."""
    half = 1 << (bits - 1)
    full = 1 << bits
    factor = _POW10[abs(exponent)]

    if exponent < 0:

        def decode_divided(words: Sequence[int], offset: int) -> object:
            raw = read(words, offset)
            if raw == sentinel:
                return None
            if signed and raw >= half:
                raw -= full
            return round(raw / factor) if kind is int else raw / factor

        return decode_divided

    def decode_multiplied(words: Sequence[int], offset: int) -> object:
        raw = read(words, offset)
        if raw == sentinel:
            return None
        if signed and raw >= half:
            raw -= full
        return float(raw * factor) if kind is float else raw * factor

    return decode_multiplied


def _enum_decoder(read: _RawReader, sentinel: int | None, table: dict[int, int]) -> Decoder:
    """Decoder of a vendor code translated to a canonical value (unknown code: None)."""

    def decode(words: Sequence[int], offset: int) -> object:
        raw = read(words, offset)
        if raw == sentinel:
            return None
        return table.get(raw)

    return decode


def _string_decoder(count: int) -> Decoder:
    """Decoder of an ASCII/UTF-8 string: all zero is "not implemented"; NUL ends it."""
    layout = struct.Struct(f">{count}H")

    def decode(words: Sequence[int], offset: int) -> object:
        data = layout.pack(*words[offset : offset + count])
        text = data.split(b"\0", 1)[0].rstrip(b" ").decode("utf-8", "replace")
        return text or None

    return decode


def _scaled_integer(point: Point, value: object, exponent: int, *, label: str) -> int:
    """``value`` in counts of 10^exponent.

    Counters and clocks floor (they never show energy or time that has not yet fully
    passed); everything else rounds to the nearest count.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegisterMapError(f"register map {label}: {point.name}={value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RegisterMapError(f"register map {label}: {point.name}={value!r} is not finite")
    counter = point.dtype in _ACCUMULATORS or point.name in _FLOORED_KEYS
    if isinstance(value, int):
        if exponent >= 0:
            factor = _POW10[exponent]
            return value // factor if counter else _round_half_even_div(value, factor)
        return value * _POW10[-exponent]
    scaled = value / _POW10[exponent] if exponent >= 0 else value * _POW10[-exponent]
    return math.floor(scaled) if counter else round(scaled)


def _round_half_even_div(value: int, divisor: int) -> int:
    quotient, remainder = divmod(value, divisor)
    twice = 2 * remainder
    if twice > divisor or (twice == divisor and quotient % 2):
        quotient += 1
    return quotient
