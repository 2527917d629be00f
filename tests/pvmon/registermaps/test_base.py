"""The register-map machinery: points, block planning, word order, scale factors, errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvmon.errors import PvmonError
from pvmon.registermaps import (
    CANONICAL_KEYS,
    MAP_NAMES,
    MAX_BLOCK_REGISTERS,
    Block,
    EnumCodec,
    Point,
    RegisterMap,
    RegisterMapError,
    get_map,
)
from pvmon.registermaps.base import plan_blocks

ALL_MAPS = [("sunspec", 1), ("sunspec", 3), ("huawei_sun2000", 1), ("huawei_sun2000", 3)]

_SENTINELS = {
    "uint16": 0xFFFF,
    "int16": 0x8000,
    "uint32": 0xFFFFFFFF,
    "int32": 0x80000000,
    "acc32": 0,
    "uint64": 0xFFFFFFFFFFFFFFFF,
    "acc64": 0,
    "enum16": 0xFFFF,
    "bitfield16": 0xFFFF,
    "bitfield32": 0xFFFFFFFF,
}


def _toy_map(*points: Point, blocks: tuple[Block, ...] | None = None, **kwargs: Any) -> RegisterMap:
    """A small map over 100..119 for exercising the machinery."""
    return RegisterMap(
        "toy",
        phases=1,
        points=points,
        blocks=blocks if blocks is not None else (Block(100, 20),),
        sentinels=_SENTINELS,
        **kwargs,
    )


# -- points and blocks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dtype": "float32", "count": 2}, "unknown type"),
        ({"dtype": "uint32", "count": 1}, "takes 2 words"),
        ({"dtype": "acc64", "count": 2}, "takes 4 words"),
        ({"dtype": "string", "count": 0}, "outside 0..65535"),
        ({"dtype": "uint16", "count": 1, "address": 65536}, "outside 0..65535"),
        ({"dtype": "uint32", "count": 2, "address": 65535}, "outside 0..65535"),
        ({"dtype": "uint16", "count": 1, "word_order": "middle"}, "unknown word order"),
        ({"dtype": "uint16", "count": 1, "scale": 11}, "out of range"),
    ],
)
def test_malformed_points_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"name": "ac_power_w", "address": 100, **kwargs}
    with pytest.raises(RegisterMapError, match=message):
        Point(**arguments)


def test_register_map_error_is_a_pvmon_error() -> None:
    assert issubclass(RegisterMapError, PvmonError)


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([[(100, 102)]], [(100, 2)]),
        ([[(100, 102), (150, 152)]], [(100, 52)]),
        ([[(150, 152), (100, 102)]], [(100, 52)]),  # order of spans does not matter
        ([[(100, 102), (199, 200)]], [(100, 100)]),  # exactly 100 registers
        ([[(100, 102), (199, 201)]], [(100, 2), (199, 2)]),  # 101 would be too many
        ([[(100, 160), (150, 210), (205, 230)]], [(100, 60), (150, 80)]),
        ([[(100, 102)], [(102, 104)]], [(100, 2), (102, 2)]),  # groups never share
        ([[]], []),
    ],
)
def test_plan_blocks_covers_spans_with_fewest_requests(
    groups: list[list[tuple[int, int]]], expected: list[tuple[int, int]]
) -> None:
    assert plan_blocks(groups) == tuple(Block(start, count) for start, count in expected)


def test_plan_blocks_rejects_a_span_longer_than_a_request() -> None:
    with pytest.raises(RegisterMapError, match="longer than 100"):
        plan_blocks([[(100, 201)]])


@pytest.mark.parametrize(
    ("points", "blocks", "message"),
    [
        ([Point("ac_power_w", 100, 1, "int16")], (Block(100, 101),), "not 1..100"),
        ([Point("ac_power_w", 130, 1, "int16")], (Block(100, 20),), "in no block"),
        (
            [Point("ac_power_w", 119, 2, "int32")],
            (Block(100, 20),),
            "in no block",  # half inside is not inside
        ),
        (
            [Point("ac_power_w", 100, 1, "int16", scale="W_SF"), Point("W_SF", 125, 1, "sunssf")],
            (Block(100, 20), Block(120, 10)),
            "not its scale factor W_SF",
        ),
        (
            [Point("ac_power_w", 100, 1, "int16", scale="W_SF")],
            (Block(100, 20),),
            "not a scale-factor point",
        ),
        (
            [Point("ac_power_w", 100, 1, "int16"), Point("ac_power_w", 101, 1, "int16")],
            (Block(100, 20),),
            "twice",
        ),
    ],
)
def test_malformed_maps_are_rejected(
    points: list[Point], blocks: tuple[Block, ...], message: str
) -> None:
    with pytest.raises(RegisterMapError, match=message):
        _toy_map(*points, blocks=blocks)


def test_enum_codec_must_round_trip() -> None:
    with pytest.raises(RegisterMapError, match="decodes to"):
        EnumCodec(to_canonical={0x0200: 4}, from_canonical={4: 0x0201})


@pytest.mark.parametrize(("name", "phases"), ALL_MAPS)
def test_every_block_is_one_small_request_holding_values_with_their_scale_factors(
    name: str, phases: int
) -> None:
    register_map = get_map(name, phases=phases)
    readable = (*register_map.blocks, *filter(None, [register_map.clock_block]))
    assert register_map.blocks
    for block in readable:
        assert 1 <= block.count <= MAX_BLOCK_REGISTERS
    for point in register_map.points:
        holders = [b for b in readable if b.covers(point.address, point.count)]
        assert len(holders) == 1, point
        if isinstance(point.scale, str):
            assert holders[0].covers(register_map.point(point.scale).address), point
    assert set(register_map.canonical_keys) <= set(CANONICAL_KEYS)


@pytest.mark.parametrize(("name", "phases"), ALL_MAPS)
def test_every_block_of_an_encoded_image_can_be_read(name: str, phases: int) -> None:
    register_map = get_map(name, phases=phases)
    image = register_map.encode({})
    for block in (*register_map.blocks, *filter(None, [register_map.clock_block])):
        assert all(address in image for address in range(block.start, block.end)), block
        assert all(0 <= image[a] <= 0xFFFF for a in range(block.start, block.end)), block


# -- the registry -------------------------------------------------------------------


def test_maps_are_built_once() -> None:
    assert get_map("sunspec", phases=3) is get_map("sunspec", phases=3)
    assert get_map("sunspec", phases=1) is not get_map("sunspec", phases=3)
    assert set(MAP_NAMES) == {"sunspec", "huawei_sun2000", "huawei_sun2000_lw"}


@pytest.mark.parametrize(
    ("name", "phases", "message"),
    [
        ("fronius", 3, "unknown register map 'fronius'"),
        ("", 1, "unknown register map ''"),
        ("SunSpec", 1, "unknown register map 'SunSpec'"),
        ("sunspec", 2, "2 phases not supported"),
        ("huawei_sun2000", 0, "0 phases not supported"),
    ],
)
def test_unknown_maps_raise(name: str, phases: int, message: str) -> None:
    with pytest.raises(RegisterMapError, match=message):
        get_map(name, phases=phases)


# -- decoding -----------------------------------------------------------------------


def test_decode_block_rejects_a_word_list_of_the_wrong_length() -> None:
    register_map = get_map("sunspec", phases=3)
    block = register_map.blocks[1]
    words = [0] * (block.count - 1)
    with pytest.raises(RegisterMapError) as raised:
        register_map.decode_block(block, words)
    message = str(raised.value)
    assert "'sunspec'" in message and "40070+57" in message and "got 56" in message


def test_decode_block_rejects_a_block_that_is_not_the_maps() -> None:
    register_map = get_map("huawei_sun2000", phases=3)
    with pytest.raises(RegisterMapError, match=r"'huawei_sun2000'.*32064\+10 is not one"):
        register_map.decode_block(Block(32064, 10), [0] * 10)


def test_decode_names_the_register_missing_from_an_image() -> None:
    register_map = get_map("huawei_sun2000", phases=1)
    image = register_map.encode({})
    del image[32090]
    with pytest.raises(RegisterMapError, match="register 32090 is not in the image"):
        register_map.decode(image)


@pytest.mark.parametrize(
    ("point", "words", "expected"),
    [
        (Point("energy_wh", 100, 2, "uint32"), [0x1234, 0x5678], 0x12345678),
        (Point("energy_wh", 100, 2, "uint32", word_order="little"), [0x5678, 0x1234], 0x12345678),
        (Point("ac_power_w", 100, 2, "int32"), [0xFFFF, 0xFFFE], -2.0),
        (Point("ac_power_w", 100, 2, "int32", word_order="little"), [0xFFFE, 0xFFFF], -2.0),
        (
            Point("energy_wh", 100, 4, "acc64"),
            [0x0001, 0x0002, 0x0003, 0x0004],
            0x0001000200030004,
        ),
        (
            Point("energy_wh", 100, 4, "acc64", word_order="little"),
            [0x0004, 0x0003, 0x0002, 0x0001],
            0x0001000200030004,
        ),
        (Point("energy_wh", 100, 4, "acc64"), [0, 0, 0, 0], None),
        (Point("energy_wh", 100, 4, "uint64"), [0xFFFF] * 4, None),
        (Point("ac_power_w", 100, 1, "int16", scale=-1), [0xFFF6], -1.0),
        (Point("ac_power_w", 100, 1, "int16", scale=2), [0x0003], 300.0),
        (Point("ac_power_w", 100, 1, "int16", scale=2), [0x8000], None),
        (Point("event_code", 100, 1, "bitfield16"), [0x8001], 0x8001),
        (Point("event_code", 100, 1, "bitfield16"), [0xFFFF], None),
        (Point("model", 100, 3, "string"), [0x4142, 0x4300, 0x0000], "ABC"),
        (Point("model", 100, 3, "string"), [0x4142, 0x0043, 0x4400], "AB"),  # NUL ends it
        (Point("model", 100, 3, "string"), [0x4142, 0x2020, 0x2020], "AB"),  # space padding
        (Point("model", 100, 3, "string"), [0, 0, 0], None),
        (Point("model", 100, 3, "string"), [0x2020, 0x2020, 0x2020], None),
    ],
)
def test_raw_words_decode(point: Point, words: list[int], expected: object) -> None:
    register_map = _toy_map(point, blocks=(Block(100, point.count),))
    values = register_map.decode_block(Block(100, point.count), words)
    assert values == {point.name: expected}
    assert type(values[point.name]) is type(expected)


@pytest.mark.parametrize(
    ("sf_word", "expected"),
    [
        (0x0000, 12345.0),
        (0x0002, 1234500.0),
        (0xFFFF, 1234.5),
        (0xFFFE, 123.45),  # read as int16 -2, never 65534
        (0xFFF6, 1.2345e-06),  # -10, the smallest the standard allows
        (0x000A, 123450000000000.0),
        (0x000B, None),  # 11: beyond the standard, garbage
        (0xFFF5, None),  # -11
        (0x8000, None),  # "not implemented"
    ],
)
def test_scale_factor_comes_from_the_same_block_as_int16(sf_word: int, expected: object) -> None:
    register_map = _toy_map(
        Point("ac_power_w", 100, 1, "int16", scale="W_SF"), Point("W_SF", 101, 1, "sunssf")
    )
    words = [12345, sf_word] + [0] * 18
    got = register_map.decode_block(Block(100, 20), words)["ac_power_w"]
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-12)


# -- encoding -----------------------------------------------------------------------


@pytest.mark.parametrize("word_order", ["big", "little"])
@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=1, max_value=2**64 - 1))
def test_64_bit_counters_round_trip_in_either_word_order(word_order: str, value: int) -> None:
    point = Point("energy_wh", 100, 4, "acc64", word_order=word_order)  # type: ignore[arg-type]
    register_map = _toy_map(point)
    image = register_map.encode({"energy_wh": value})
    assert register_map.decode(image) == {"energy_wh": value}
    words = [image[a] for a in range(100, 104)]
    high_first = [(value >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]
    assert words == (high_first if word_order == "big" else high_first[::-1])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ac_power": 1.0}, "unknown canonical keys ac_power"),
        ({"ac_power_w": 40000.0}, "does not fit int16"),
        ({"ac_power_w": float("nan")}, "not finite"),
        ({"ac_power_w": float("inf")}, "not finite"),
        ({"ac_power_w": "12"}, "not a number"),
        ({"ac_power_w": True}, "not a number"),
        ({"ac_voltage_a_v": -1.0}, "does not fit uint16"),
        ({"ac_voltage_a_v": 6553.5}, "does not fit uint16"),  # would be the sentinel
        ({"model": "ABCDEFG"}, "does not fit 6 bytes"),
        ({"model": "A\0B"}, "does not fit 6 bytes"),
        ({"model": 42}, "not a string"),
        ({"state": 9}, "no vendor code"),
        ({"state": 4.0}, "no vendor code"),
    ],
)
def test_values_that_do_not_fit_are_rejected(values: dict[str, object], message: str) -> None:
    register_map = _toy_map(
        Point("ac_power_w", 100, 1, "int16"),
        Point("ac_voltage_a_v", 101, 1, "uint16", scale=-1),
        Point("model", 102, 3, "string"),
        Point("state", 105, 1, "enum16"),
        enums={"state": EnumCodec({4: 4}, {4: 4})},
    )
    with pytest.raises(RegisterMapError, match=message) as raised:
        register_map.encode(values)
    assert "'toy'" in str(raised.value)


@pytest.mark.parametrize(
    ("scale_factors", "message"),
    [
        ({"XX_SF": 0}, "no scale-factor point XX_SF"),
        ({"W_SF": 11}, "not an int in -10..10"),
        ({"W_SF": -11}, "not an int in -10..10"),
        ({"W_SF": 0.5}, "not an int in -10..10"),
        ({"W_SF": -2}, "does not fit int16 .* scale 10\\^-2"),
    ],
)
def test_given_scale_factors_are_checked(scale_factors: dict[str, Any], message: str) -> None:
    register_map = _toy_map(
        Point("ac_power_w", 100, 1, "int16", scale="W_SF"), Point("W_SF", 101, 1, "sunssf")
    )
    with pytest.raises(RegisterMapError, match=message):
        register_map.encode({"ac_power_w": 4320.0}, scale_factors=scale_factors)


def test_unused_canonical_keys_are_ignored_and_missing_ones_are_not_implemented() -> None:
    register_map = _toy_map(Point("ac_power_w", 100, 1, "int16"))
    image = register_map.encode({"serial": "X1", "energy_wh": 5})
    assert image[100] == 0x8000
    assert register_map.decode(image) == {"ac_power_w": None}


def test_with_points_keeps_the_rest_of_the_map() -> None:
    original = _toy_map(Point("energy_wh", 100, 2, "uint32"))
    variant = original.with_points(
        name="toy-low-first", points=[Point("energy_wh", 100, 2, "uint32", word_order="little")]
    )
    assert variant.name == "toy-low-first" and variant.blocks == original.blocks
    image = variant.encode({"energy_wh": 0x00010002})
    assert (image[100], image[101]) == (0x0002, 0x0001)
    assert original.decode(image) == {"energy_wh": 0x00020001}
    assert variant.decode(image) == {"energy_wh": 0x00010002}
