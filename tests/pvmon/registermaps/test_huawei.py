"""The Huawei SUN2000 map: documented addresses and gains, status codes, word order."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvmon.registermaps import Block, RegisterMap, RegisterMapError, get_map
from pvmon.registermaps.huawei import DEVICE_STATUS_TO_STATE, STATE_TO_DEVICE_STATUS
from tests.pvmon.registermaps import THREE_PHASE_VALUES, assert_same_value

IDENTITY = Block(30000, 75)
MEASUREMENTS = Block(32064, 44)
CLOCK = Block(40000, 2)


@pytest.fixture
def huawei() -> RegisterMap:
    return get_map("huawei_sun2000", phases=3)


@pytest.fixture
def huawei_counter_low_word_first(huawei: RegisterMap) -> RegisterMap:
    """The same map with the energy counter's low word first (field note 13)."""
    points = [
        dataclasses.replace(p, word_order="little") if p.name == "energy_wh" else p
        for p in huawei.points
    ]
    return huawei.with_points(name="huawei_sun2000-counter-low-first", points=points)


def _measurement_block(**registers: int) -> list[int]:
    words = [0] * MEASUREMENTS.count
    for name, word in registers.items():
        words[int(name.removeprefix("r")) - MEASUREMENTS.start] = word
    return words


# -- layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "address", "count", "dtype", "scale"),
    [
        ("model", 30000, 15, "string", None),
        ("serial", 30015, 10, "string", None),
        ("rated_ac_w", 30073, 2, "uint32", 0),
        ("dc_power_w", 32064, 2, "int32", 0),
        ("ac_voltage_a_v", 32069, 1, "uint16", -1),
        ("ac_voltage_b_v", 32070, 1, "uint16", -1),
        ("ac_voltage_c_v", 32071, 1, "uint16", -1),
        ("ac_current_a_a", 32072, 2, "int32", -3),
        ("ac_current_b_a", 32074, 2, "int32", -3),
        ("ac_current_c_a", 32076, 2, "int32", -3),
        ("ac_power_w", 32080, 2, "int32", 0),
        ("frequency_hz", 32085, 1, "uint16", -2),
        ("temperature_c", 32087, 1, "int16", -1),
        ("state", 32089, 1, "enum16", None),
        ("event_code", 32090, 1, "uint16", None),
        ("energy_wh", 32106, 2, "uint32", 1),
        ("device_time", 40000, 2, "uint32", None),
    ],
)
def test_points_follow_the_interface_definitions(
    huawei: RegisterMap, key: str, address: int, count: int, dtype: str, scale: int | None
) -> None:
    point = huawei.point(key)
    assert (point.address, point.count, point.dtype, point.scale, point.word_order) == (
        address,
        count,
        dtype,
        scale,
        "big",
    )


def test_three_requests_skip_the_holes(huawei: RegisterMap) -> None:
    assert huawei.blocks == (IDENTITY, MEASUREMENTS, CLOCK)
    assert huawei.clock_block is None  # the clock is an ordinary block here
    assert get_map("huawei_sun2000", phases=1).blocks == huawei.blocks


def test_there_is_no_manufacturer_register(huawei: RegisterMap) -> None:
    image = huawei.encode({"manufacturer": "Huawei", "serial": "HV1"})
    decoded = huawei.decode(image)
    assert "manufacturer" not in decoded and decoded["serial"] == "HV1"
    with pytest.raises(RegisterMapError, match="no point 'manufacturer'"):
        huawei.point("manufacturer")


def test_scale_factors_cannot_be_given(huawei: RegisterMap) -> None:
    with pytest.raises(RegisterMapError, match="no scale-factor point W_SF"):
        huawei.encode({}, scale_factors={"W_SF": 0})


# -- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("phases", [1, 3])
@pytest.mark.parametrize("key", sorted(set(THREE_PHASE_VALUES) - {"manufacturer"}))
def test_every_point_round_trips_block_by_block(phases: int, key: str) -> None:
    register_map = get_map("huawei_sun2000", phases=phases)
    image = register_map.encode(THREE_PHASE_VALUES)
    decoded: dict[str, object] = {}
    for block in register_map.blocks:
        words = [image[a] for a in range(block.start, block.end)]
        decoded.update(register_map.decode_block(block, words))
    sent = THREE_PHASE_VALUES[key]
    assert_same_value(register_map, image, key, sent=sent, got=decoded[key])


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("ac_power_w", [0x7FFF, 0xFFFF]),
        ("dc_power_w", [0x7FFF, 0xFFFF]),
        ("energy_wh", [0xFFFF, 0xFFFF]),
        ("ac_voltage_b_v", [0xFFFF]),
        ("ac_current_c_a", [0x7FFF, 0xFFFF]),
        ("frequency_hz", [0xFFFF]),
        ("temperature_c", [0x7FFF]),
        ("state", [0xFFFF]),
        ("event_code", [0xFFFF]),
        ("model", [0] * 15),
        ("serial", [0] * 10),
        ("rated_ac_w", [0xFFFF, 0xFFFF]),
        ("device_time", [0xFFFF, 0xFFFF]),
    ],
)
def test_none_is_written_as_the_invalid_value_and_read_back_as_none(
    huawei: RegisterMap, key: str, words: list[int]
) -> None:
    image = huawei.encode({**THREE_PHASE_VALUES, key: None})
    point = huawei.point(key)
    assert [image[a] for a in range(point.address, point.end)] == words
    decoded = huawei.decode(image)
    assert decoded[key] is None
    assert all(v is not None for k, v in decoded.items() if k != key)


def test_an_energy_counter_of_zero_is_zero(huawei: RegisterMap) -> None:
    assert huawei.decode(huawei.encode({"energy_wh": 0}))["energy_wh"] == 0


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


_CHARACTERS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


@settings(max_examples=300, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {
            k: st.none() | s
            for k, s in {
                "ac_power_w": _floats(-50_000, 2_000_000),
                "energy_wh": st.integers(0, (2**32 - 2) * 10),
                "dc_power_w": _floats(-50_000, 2_000_000),
                "ac_voltage_a_v": _floats(0, 1000),
                "ac_voltage_b_v": _floats(0, 1000),
                "ac_voltage_c_v": _floats(0, 1000),
                "ac_current_a_a": _floats(-500, 500),
                "ac_current_b_a": _floats(-500, 500),
                "ac_current_c_a": _floats(-500, 500),
                "frequency_hz": _floats(45, 65),
                "temperature_c": _floats(-40, 100),
                "state": st.integers(1, 8),
                "event_code": st.integers(0, 0xFFFE),
                "model": st.text(_CHARACTERS, min_size=1, max_size=30),
                "serial": st.text(_CHARACTERS, min_size=1, max_size=20),
                "rated_ac_w": _floats(0, 1_000_000),
                "device_time": st.integers(0, 2**32 - 2) | _floats(0, 2**32 - 2),
            }.items()
        }
    )
)
def test_values_round_trip_within_resolution(values: dict[str, object]) -> None:
    register_map = get_map("huawei_sun2000", phases=3)
    image = register_map.encode(values)
    decoded = register_map.decode(image)
    for key, sent in values.items():
        assert_same_value(register_map, image, key, sent=sent, got=decoded[key])


@settings(max_examples=200, deadline=None)
@given(energy=st.integers(0, (2**32 - 2) * 10))
def test_energy_round_trips_to_ten_watt_hours(energy: int) -> None:
    register_map = get_map("huawei_sun2000", phases=1)
    assert register_map.decode(register_map.encode({"energy_wh": energy}))["energy_wh"] == (
        energy // 10 * 10
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"energy_wh": (2**32 - 1) * 10}, "energy_wh=.* does not fit uint32"),  # the sentinel
        ({"energy_wh": -10}, "does not fit uint32"),
        ({"ac_power_w": 2.0**31}, "does not fit int32"),
        ({"event_code": 0xFFFF}, "does not fit uint16"),
        ({"serial": "X" * 21}, "does not fit 20 bytes"),
        ({"state": 0}, "no vendor code"),
    ],
)
def test_values_beyond_the_registers_are_rejected(
    huawei: RegisterMap, values: dict[str, object], message: str
) -> None:
    with pytest.raises(RegisterMapError, match=message):
        huawei.encode(values)


# -- device status ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "state"), sorted(DEVICE_STATUS_TO_STATE.items()))
def test_every_documented_status_maps_to_a_sunspec_state(
    huawei: RegisterMap, status: int, state: int
) -> None:
    assert 1 <= state <= 8
    assert huawei.decode_block(MEASUREMENTS, _measurement_block(r32089=status))["state"] == state


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (1, 0x0301),
        (2, 0xA000),
        (3, 0x0100),
        (4, 0x0200),
        (5, 0x0201),
        (6, 0x0307),
        (7, 0x0300),
        (8, 0x0000),
    ],
)
def test_every_sunspec_state_is_written_as_a_status(
    huawei: RegisterMap, state: int, status: int
) -> None:
    assert STATE_TO_DEVICE_STATUS[state] == status
    image = huawei.encode({"state": state})
    assert image[32089] == status
    assert huawei.decode(image)["state"] == state


@pytest.mark.parametrize("status", [0x0004, 0x0203, 0x1234, 0xFFFE])
def test_an_unknown_status_is_not_guessed(huawei: RegisterMap, status: int) -> None:
    assert huawei.decode_block(MEASUREMENTS, _measurement_block(r32089=status))["state"] is None


# -- fixtures from raw words ----------------------------------------------------------


def test_a_raw_measurement_block_decodes(huawei: RegisterMap) -> None:
    words = _measurement_block(
        r32064=0x0000,
        r32065=0x1F40,  # input power 8000 W (8.000 kW, gain 1000)
        r32069=0x0908,  # 231.2 V
        r32070=0xFFFF,  # phase B not measured
        r32071=0x08FC,  # 230.0 V
        r32072=0x0000,
        r32073=0x4A38,  # 19.000 A
        r32074=0xFFFF,
        r32075=0xFC18,  # -1.000 A
        r32076=0x7FFF,
        r32077=0xFFFF,  # invalid
        r32080=0xFFFF,
        r32081=0xFFCE,  # -50 W at night
        r32085=0x1389,  # 50.01 Hz
        r32087=0xFFEC,  # -2.0 °C
        r32089=0xA000,  # standby: no irradiation
        r32090=0x07D1,  # fault code 2001
        r32106=0x0001,
        r32107=0x86A0,  # 100000 × 0.01 kWh
    )
    assert huawei.decode_block(MEASUREMENTS, words) == {
        "dc_power_w": 8000.0,
        "ac_voltage_a_v": pytest.approx(231.2),
        "ac_voltage_b_v": None,
        "ac_voltage_c_v": pytest.approx(230.0),
        "ac_current_a_a": pytest.approx(19.0),
        "ac_current_b_a": pytest.approx(-1.0),
        "ac_current_c_a": None,
        "ac_power_w": -50.0,
        "frequency_hz": pytest.approx(50.01),
        "temperature_c": pytest.approx(-2.0),
        "state": 2,
        "event_code": 2001,
        "energy_wh": 1_000_000,
    }


def test_a_raw_identity_block_decodes(huawei: RegisterMap) -> None:
    words = [0] * IDENTITY.count
    model = b"SUN2000-50KTL-M3"
    serial = b"HV2250123456"
    words[0:8] = [int.from_bytes(model[i : i + 2], "big") for i in range(0, 16, 2)]
    words[15:21] = [int.from_bytes(serial[i : i + 2], "big") for i in range(0, 12, 2)]
    words[73:75] = [0x0000, 0xC350]  # 50000 W
    assert huawei.decode_block(IDENTITY, words) == {
        "model": "SUN2000-50KTL-M3",
        "serial": "HV2250123456",
        "rated_ac_w": 50000.0,
    }


def test_a_raw_clock_block_decodes(huawei: RegisterMap) -> None:
    assert huawei.decode_block(CLOCK, [0x6659, 0xF605]) == {"device_time": 1_717_171_717}
    assert huawei.encode({"device_time": 1_717_171_717.9})[40001] == 0xF605  # floored


def test_a_counter_with_its_low_word_first(
    huawei: RegisterMap, huawei_counter_low_word_first: RegisterMap
) -> None:
    low_first = _measurement_block(r32106=0x86A0, r32107=0x0001)
    decoded = huawei_counter_low_word_first.decode_block(MEASUREMENTS, low_first)
    assert decoded["energy_wh"] == 1_000_000
    # Read with the documented (high-first) order, the same words are a garbage spike.
    assert huawei.decode_block(MEASUREMENTS, low_first)["energy_wh"] == 0x86A00001 * 10
    image = huawei_counter_low_word_first.encode({"energy_wh": 1_000_000})
    assert (image[32106], image[32107]) == (0x86A0, 0x0001)
    assert huawei_counter_low_word_first.decode(image)["energy_wh"] == 1_000_000


@settings(max_examples=200, deadline=None)
@given(energy=st.integers(0, (2**32 - 2) * 10))
def test_a_low_word_first_counter_round_trips(energy: int) -> None:
    register_map = get_map("huawei_sun2000", phases=3)
    points = [
        dataclasses.replace(p, word_order="little") if p.name == "energy_wh" else p
        for p in register_map.points
    ]
    variant = register_map.with_points(name="low-first", points=points)
    assert variant.decode(variant.encode({"energy_wh": energy}))["energy_wh"] == energy // 10 * 10


def test_decode_block_names_map_and_block_on_a_short_read(huawei: RegisterMap) -> None:
    with pytest.raises(RegisterMapError, match=r"'huawei_sun2000' \(3-phase\): block 32064\+44"):
        huawei.decode_block(MEASUREMENTS, [0] * 43)


# -- the yields block a client reads in one request (32106-32115) ---------------------------


def _u32(image: dict[int, int], address: int) -> int:
    return (image[address] << 16) | image[address + 1]


@pytest.mark.parametrize("name", ["huawei_sun2000", "huawei_sun2000_lw"])
@pytest.mark.parametrize("phases", [1, 3])
def test_registers_32106_to_32115_are_all_in_the_image(name: str, phases: int) -> None:
    image = get_map(name, phases=phases).encode({**THREE_PHASE_VALUES, "daily_energy_wh": 23_456})
    assert all(a in image for a in range(32106, 32116))
    assert [image[a] for a in range(32108, 32114)] == [0] * 6  # undocumented: read as 0
    assert _u32(image, 32114) == 2345  # 23.45 kWh, gain 100, high word first


@pytest.mark.parametrize(
    ("daily_energy_wh", "raw"),
    [
        (0, 0),
        (9, 0),  # floored to the 10 Wh resolution: no energy shown before it is produced
        (10, 1),
        (23_456, 2345),
        (412_345, 41_234),  # a 50 kW inverter's long June day
        ((2**32 - 2) * 10, 2**32 - 2),
        (None, 0xFFFFFFFF),  # not available: the U32 invalid value
    ],
)
def test_the_daily_yield_is_written_at_32114_in_hundredths_of_a_kwh(
    huawei: RegisterMap, daily_energy_wh: int | None, raw: int
) -> None:
    image = huawei.encode({"energy_wh": 1_234_560, "daily_energy_wh": daily_energy_wh})
    assert _u32(image, 32114) == raw
    assert _u32(image, 32106) == 123_456  # the lifetime counter is not disturbed


@pytest.mark.parametrize(
    ("daily_energy_wh", "message"),
    [
        (-10, "does not fit uint32"),
        ((2**32 - 1) * 10, "does not fit uint32"),  # the invalid value itself
        (2**32 * 10, "does not fit uint32"),
        ("12", "is not a number"),
    ],
)
def test_a_daily_yield_beyond_the_register_is_refused(
    huawei: RegisterMap, daily_energy_wh: object, message: str
) -> None:
    with pytest.raises(RegisterMapError, match=rf"daily_energy_wh=.* {message}"):
        huawei.encode({"daily_energy_wh": daily_energy_wh})


def test_the_daily_yield_is_never_decoded(huawei: RegisterMap) -> None:
    """Daily energy comes only from lifetime-counter differences (field note 9)."""
    image = huawei.encode({**THREE_PHASE_VALUES, "daily_energy_wh": 23_456})
    assert "daily_energy_wh" not in huawei.decode(image)
    assert "daily_energy_wh" not in huawei.canonical_keys
    assert huawei.blocks == (IDENTITY, MEASUREMENTS, CLOCK)  # the collector reads no more
