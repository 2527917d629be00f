"""The SunSpec map: layout from pysunspec2, scale factors, sentinels, the simulation clock."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sunspec2 import device as sunspec_device

from pvmon.registermaps import Block, RegisterMap, RegisterMapError, get_map
from tests.pvmon.registermaps import THREE_PHASE_VALUES, assert_same_value

SINGLE_PHASE_VALUES: Mapping[str, object] = {
    "ac_power_w": 3987.6,
    "energy_wh": 21_345_678,
    "dc_power_w": 4102.3,
    "ac_voltage_a_v": 232.4,
    "ac_current_a_a": 17.16,
    "frequency_hz": 49.98,
    "temperature_c": 47.3,
    "state": 4,
    "event_code": 0,
    "manufacturer": "SunSpec Sim",
    "model": "SS-4000-1P",
    "serial": "SIM-000123",
    "rated_ac_w": 4320.0,
    "device_time": 1_700_000_000.125,
}

MAPS = {1: SINGLE_PHASE_VALUES, 3: THREE_PHASE_VALUES}
IDENTITY = Block(40000, 68)
MEASUREMENTS = Block(40070, 57)


def _words(image: Mapping[int, int], block: Block) -> list[int]:
    return [image[a] for a in range(block.start, block.end)]


def _int16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


# -- layout ---------------------------------------------------------------------------


@pytest.mark.parametrize(("phases", "inverter_model"), [(1, 101), (3, 103)])
def test_model_chain_is_laid_out_as_the_standard_says(phases: int, inverter_model: int) -> None:
    register_map = get_map("sunspec", phases=phases)
    image = register_map.encode({})
    assert (image[40000], image[40001]) == (0x5375, 0x6E53)  # 'SunS'
    assert (image[40002], image[40003]) == (1, 66)
    assert (image[40070], image[40071]) == (inverter_model, 50)
    assert (image[40122], image[40123]) == (120, 26)
    assert (image[40150], image[40151]) == (0xFFFF, 0)
    assert register_map.blocks == (IDENTITY, MEASUREMENTS)
    assert register_map.clock_block == Block(39990, 3)


@pytest.mark.parametrize(
    ("key", "address", "scale"),
    [
        ("manufacturer", 40004, None),
        ("model", 40020, None),
        ("serial", 40052, None),
        ("ac_current_a_a", 40073, "A_SF"),
        ("ac_voltage_a_v", 40080, "V_SF"),
        ("ac_power_w", 40084, "W_SF"),
        ("frequency_hz", 40086, "Hz_SF"),
        ("energy_wh", 40094, "WH_SF"),
        ("dc_power_w", 40101, "DCW_SF"),
        ("temperature_c", 40103, "Tmp_SF"),
        ("state", 40108, None),
        ("event_code", 40110, None),
        ("rated_ac_w", 40125, "WRtg_SF"),
    ],
)
def test_points_sit_where_sunspec_clients_expect_them(
    key: str, address: int, scale: str | None
) -> None:
    for phases in (1, 3):
        point = get_map("sunspec", phases=phases).point(key)
        assert (point.address, point.scale, point.word_order) == (address, scale, "big")


@pytest.mark.parametrize("phases", [1, 3])
def test_pysunspec2_reads_the_encoded_image(phases: int) -> None:
    """An independent SunSpec implementation decodes our image to the same values."""
    register_map = get_map("sunspec", phases=phases)
    values = MAPS[phases]
    image = register_map.encode(values)

    def model(model_id: int, start: int, length: int) -> sunspec_device.Model:
        data = struct.pack(f">{length + 2}H", *(image[a] for a in range(start, start + length + 2)))
        return sunspec_device.Model(
            model_id=model_id, model_addr=start, model_len=length, data=data
        )

    common = model(1, 40002, 66)
    assert (common.Mn.value, common.Md.value, common.SN.value) == (
        values["manufacturer"],
        values["model"],
        values["serial"],
    )
    inverter = model(101 if phases == 1 else 103, 40070, 50)
    assert inverter.W.cvalue == pytest.approx(values["ac_power_w"], abs=0.5)
    assert inverter.WH.cvalue == values["energy_wh"]
    assert inverter.PhVphA.cvalue == pytest.approx(values["ac_voltage_a_v"], abs=0.005)
    assert inverter.St.value == values["state"]
    assert inverter.Evt1.value == values["event_code"]
    currents = [values.get(f"ac_current_{p}_a") for p in "abc"]
    total = sum(c for c in currents if isinstance(c, float))
    assert inverter.A.cvalue == pytest.approx(total, abs=0.005)  # mandatory total current
    nameplate = model(120, 40122, 26)
    assert nameplate.WRtg.cvalue == values["rated_ac_w"]
    assert nameplate.DERTyp.value == 4  # PV


# -- round trips ----------------------------------------------------------------------


@pytest.mark.parametrize("phases", [1, 3])
@pytest.mark.parametrize(
    "key",
    sorted(set(THREE_PHASE_VALUES)),
)
def test_every_point_round_trips_block_by_block(phases: int, key: str) -> None:
    register_map = get_map("sunspec", phases=phases)
    values = MAPS[phases]
    image = register_map.encode(values)
    decoded: dict[str, object] = {}
    for block in (*register_map.blocks, register_map.clock_block):
        assert block is not None
        decoded.update(register_map.decode_block(block, _words(image, block)))
    assert key in decoded
    assert_same_value(register_map, image, key, sent=values.get(key), got=decoded[key])


@pytest.mark.parametrize("phases", [1, 3])
@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("ac_power_w", [0x8000]),
        ("energy_wh", [0x0000, 0x0000]),  # acc32: 0 is "not implemented"
        ("dc_power_w", [0x8000]),
        ("ac_voltage_a_v", [0xFFFF]),
        ("ac_voltage_c_v", [0xFFFF]),
        ("ac_current_b_a", [0xFFFF]),
        ("frequency_hz", [0xFFFF]),
        ("temperature_c", [0x8000]),
        ("state", [0xFFFF]),
        ("event_code", [0xFFFF, 0xFFFF]),
        ("manufacturer", [0] * 16),
        ("serial", [0] * 16),
        ("rated_ac_w", [0xFFFF]),
        ("device_time", [0xFFFF, 0xFFFF]),
    ],
)
def test_none_is_written_as_the_sentinel_and_read_back_as_none(
    phases: int, key: str, words: list[int]
) -> None:
    register_map = get_map("sunspec", phases=phases)
    values = {**MAPS[phases], key: None}
    image = register_map.encode(values)
    point = register_map.point(key)
    assert [image[a] for a in range(point.address, point.end)] == words
    decoded = register_map.decode(image)
    assert decoded[key] is None
    assert all(decoded[k] is not None for k, v in values.items() if v is not None)


def test_an_energy_counter_of_zero_is_not_implemented_as_the_standard_says() -> None:
    register_map = get_map("sunspec", phases=1)
    assert register_map.decode(register_map.encode({"energy_wh": 0}))["energy_wh"] is None


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=32
)


def _values(phases: int) -> st.SearchStrategy[dict[str, object]]:
    physical: dict[str, st.SearchStrategy[object]] = {
        "ac_power_w": _floats(-5_000, 60_000),
        "energy_wh": st.integers(1, 2**32 - 1),
        "dc_power_w": _floats(0, 65_000),
        "ac_voltage_a_v": _floats(0, 600),
        "ac_current_a_a": _floats(0, 150),
        "frequency_hz": _floats(45, 65),
        "temperature_c": _floats(-40, 100),
        "state": st.integers(1, 8),
        "event_code": st.integers(0, 2**32 - 2),
        "manufacturer": _TEXT,
        "model": _TEXT,
        "serial": _TEXT,
        "rated_ac_w": _floats(100, 100_000),
        "device_time": _floats(0, 2**32 - 2),
    }
    if phases == 3:
        physical.update(
            ac_voltage_b_v=_floats(0, 600),
            ac_voltage_c_v=_floats(0, 600),
            ac_current_b_a=_floats(0, 150),
            ac_current_c_a=_floats(0, 150),
        )
    return st.fixed_dictionaries({k: st.none() | s for k, s in physical.items()})


def _check_round_trip(register_map: RegisterMap, values: dict[str, object]) -> None:
    image = register_map.encode(values)
    decoded = register_map.decode(image)
    for key, sent in values.items():
        assert_same_value(register_map, image, key, sent=sent, got=decoded[key])


@settings(max_examples=300, deadline=None)
@given(values=_values(1))
def test_single_phase_values_round_trip_within_resolution(values: dict[str, object]) -> None:
    _check_round_trip(get_map("sunspec", phases=1), values)


@settings(max_examples=300, deadline=None)
@given(values=_values(3))
def test_three_phase_values_round_trip_within_resolution(values: dict[str, object]) -> None:
    _check_round_trip(get_map("sunspec", phases=3), values)


@settings(max_examples=200, deadline=None)
@given(energy=st.integers(1, 2**32 - 1))
def test_energy_round_trips_exactly_to_the_watt_hour(energy: int) -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode({"energy_wh": energy})
    assert image[40096] == 0  # WH_SF
    assert register_map.decode(image)["energy_wh"] == energy


# -- scale factors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("power", "w_sf", "raw"),
    [
        (0.0, -2, 0),
        (100.0, -2, 10000),
        (327.67, -2, 32767),
        (327.68, -1, 3277),
        (3000.0, -1, 30000),
        (4320.0, 0, 4320),
        (-3000.0, -1, -30000),
        (50_000.0, 1, 5000),
        (4_000_000_000.0, 6, 4000),  # a garbage spike still encodes (field note 11)
    ],
)
def test_the_finest_scale_factor_that_fits_is_chosen(power: float, w_sf: int, raw: int) -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode({"ac_power_w": power})
    assert (_int16(image[40085]), _int16(image[40084])) == (w_sf, raw)
    assert register_map.decode(image)["ac_power_w"] == pytest.approx(power, rel=1e-3)


def test_scale_factors_can_be_forced_for_the_simulator() -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode({"ac_power_w": 3000.0}, scale_factors={"W_SF": 0})
    assert (_int16(image[40085]), image[40084]) == (0, 3000)
    with pytest.raises(RegisterMapError, match=r"ac_power_w=4320.0 does not fit int16"):
        register_map.encode({"ac_power_w": 4320.0}, scale_factors={"W_SF": -1})


def test_energy_beyond_32_bits_coarsens_the_counter() -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode({"energy_wh": 2**32 + 15})
    assert image[40096] == 1  # WH_SF
    assert register_map.decode(image)["energy_wh"] == 4_294_967_310  # floored to 10 Wh


def test_total_current_shares_the_phase_scale_factor() -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode(
        {"ac_current_a_a": 250.0, "ac_current_b_a": 250.0, "ac_current_c_a": 250.0}
    )
    assert _int16(image[40076]) == -1  # 750 A total needs A_SF -1 although 250 A fits -2
    assert image[40072] == 7500
    assert register_map.decode(image)["ac_current_a_a"] == 250.0


# -- fixtures from raw words ----------------------------------------------------------


def _measurement_block(**registers: int) -> list[int]:
    """Raw words of the three-phase measurement block: headers right, all else zero."""
    words = [0] * MEASUREMENTS.count
    words[0:2] = [103, 50]
    words[52:54] = [120, 26]
    for name, word in registers.items():
        words[int(name.removeprefix("r")) - MEASUREMENTS.start] = word
    return words


def test_a_scale_factor_that_changes_at_run_time_is_read_with_its_value() -> None:
    register_map = get_map("sunspec", phases=3)
    first = register_map.decode_block(MEASUREMENTS, _measurement_block(r40084=12345, r40085=0xFFFE))
    second = register_map.decode_block(
        MEASUREMENTS, _measurement_block(r40084=12345, r40085=0xFFFF)
    )
    third = register_map.decode_block(MEASUREMENTS, _measurement_block(r40084=12345, r40085=0xFFFE))
    assert first["ac_power_w"] == pytest.approx(123.45)
    assert second["ac_power_w"] == pytest.approx(1234.5)
    assert third["ac_power_w"] == pytest.approx(123.45)


@pytest.mark.parametrize(
    ("registers", "key", "expected"),
    [
        ({"r40101": 0x3039, "r40102": 0xFFFE}, "dc_power_w", 123.45),  # DCW_SF -2
        ({"r40101": 0x3039, "r40102": 0xFFFF}, "dc_power_w", 1234.5),  # DCW_SF -1
        ({"r40101": 0x3039, "r40102": 0x8000}, "dc_power_w", None),  # SF not implemented
        ({"r40084": 0xFF9C, "r40085": 0x0000}, "ac_power_w", -100.0),  # int16 -100
        ({"r40084": 0x8000, "r40085": 0x0000}, "ac_power_w", None),
        ({"r40094": 0x0001, "r40095": 0xE240, "r40096": 0x0000}, "energy_wh", 123456),
        ({"r40094": 0x0001, "r40095": 0xE240, "r40096": 0x0001}, "energy_wh", 1234560),
        ({"r40094": 0x0000, "r40095": 0x0000, "r40096": 0x0000}, "energy_wh", None),
        ({"r40080": 0x0908, "r40083": 0xFFFF}, "ac_voltage_a_v", 231.2),
        ({"r40080": 0xFFFF, "r40083": 0xFFFF}, "ac_voltage_a_v", None),
        ({"r40103": 0xFFD3, "r40107": 0xFFFF}, "temperature_c", -4.5),
        ({"r40108": 0x0004}, "state", 4),
        ({"r40108": 0x0009}, "state", None),  # not a SunSpec state
        ({"r40108": 0xFFFF}, "state", None),
        ({"r40110": 0x0000, "r40111": 0x0041}, "event_code", 0x41),
        ({"r40110": 0xFFFF, "r40111": 0xFFFF}, "event_code", None),
        ({"r40125": 0x1388, "r40126": 0x0001}, "rated_ac_w", 50000.0),
    ],
)
def test_raw_measurement_words_decode(
    registers: dict[str, int], key: str, expected: object
) -> None:
    register_map = get_map("sunspec", phases=3)
    got = register_map.decode_block(MEASUREMENTS, _measurement_block(**registers))[key]
    if expected is None or isinstance(expected, int):
        assert got == expected
    else:
        assert got == pytest.approx(expected)


def test_a_block_of_another_layout_is_refused() -> None:
    register_map = get_map("sunspec", phases=3)
    words = _measurement_block()
    words[0] = 101  # a single-phase inverter where a three-phase one was registered
    with pytest.raises(RegisterMapError) as raised:
        register_map.decode_block(MEASUREMENTS, words)
    message = str(raised.value)
    assert "40070+57" in message and "register 40070" in message and "model id 103" in message
    identity = [0] * IDENTITY.count
    with pytest.raises(RegisterMapError, match="'SunS' marker"):
        register_map.decode_block(IDENTITY, identity)


# -- the simulation clock -------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_time", "words", "decoded"),
    [
        (1_717_171_717.25, [0x6659, 0xF605, 250], 1_717_171_717.25),
        (1_717_171_717, [0x6659, 0xF605, 0], 1_717_171_717.0),
        (1_717_171_717.9996, [0x6659, 0xF606, 0], 1_717_171_718.0),
        (None, [0xFFFF, 0xFFFF, 0xFFFF], None),
    ],
)
def test_the_clock_lives_outside_the_model_chain(
    device_time: float | None, words: list[int], decoded: float | None
) -> None:
    register_map = get_map("sunspec", phases=1)
    clock = register_map.clock_block
    assert clock is not None and clock not in register_map.blocks
    image = register_map.encode({"device_time": device_time})
    assert _words(image, clock) == words
    assert register_map.decode_block(clock, words) == {"device_time": decoded}


def test_clock_milliseconds_out_of_range_are_ignored() -> None:
    register_map = get_map("sunspec", phases=3)
    assert register_map.decode_block(Block(39990, 3), [0x6659, 0xF605, 0xFFFF]) == {
        "device_time": 1_717_171_717.0
    }


def test_decode_reads_the_clock_only_when_the_image_has_it() -> None:
    register_map = get_map("sunspec", phases=3)
    image = register_map.encode(THREE_PHASE_VALUES)
    assert register_map.decode(image)["device_time"] == 1_717_171_717.25
    for address in range(39990, 39993):
        del image[address]
    assert "device_time" not in register_map.decode(image)


# -- what a SunSpec client notices: mandatory points, nameplate, device address ----------

MODEL_STARTS = {1: 40002, 101: 40070, 103: 40070, 120: 40122}


def _model_definition(model_id: int) -> list[dict[str, Any]]:
    path = resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    points: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["group"]["points"]
    return points


def _sunspec_model(image: Mapping[int, int], model_id: int) -> sunspec_device.Model:
    """pysunspec2's view of one model of ``image`` (an independent decoder)."""
    start = MODEL_STARTS[model_id]
    length = image[start + 1]
    data = struct.pack(f">{length + 2}H", *(image[a] for a in range(start, start + length + 2)))
    return sunspec_device.Model(model_id=model_id, model_addr=start, model_len=length, data=data)


@pytest.mark.parametrize(
    ("phases", "model_id"), [(1, 1), (1, 101), (1, 120), (3, 1), (3, 103), (3, 120)]
)
def test_every_mandatory_point_is_implemented(phases: int, model_id: int) -> None:
    """Every point the model definition marks mandatory ("M") reads as a value."""
    image = get_map("sunspec", phases=phases).encode({**MAPS[phases], "unit_id": 3})
    model = _sunspec_model(image, model_id)
    mandatory = [p["name"] for p in _model_definition(model_id) if p.get("mandatory") == "M"]
    assert len(mandatory) >= 5  # ID, L and at least Mn, Md, SN
    unimplemented = [name for name in mandatory if getattr(model, name).value is None]
    assert unimplemented == []


@pytest.mark.parametrize(
    ("phases", "rated_ac_w", "expected"),
    [
        (
            1,
            4000.0,
            {"VARtg": 4000, "VArRtgQ1": 1760, "VArRtgQ4": -1760, "ARtg": 17.39},
        ),
        (
            1,
            250.0,  # a micro-inverter
            {"VARtg": 250, "VArRtgQ1": 110, "VArRtgQ4": -110, "ARtg": 1.09},
        ),
        (
            3,
            50_000.0,
            {"VARtg": 50_000, "VArRtgQ1": 22_000, "VArRtgQ4": -22_000, "ARtg": 72.46},
        ),
        (
            3,
            110_000.0,  # beyond int16 at scale 1: VArRtg_SF grows
            {"VARtg": 110_000, "VArRtgQ1": 48_400, "VArRtgQ4": -48_400, "ARtg": 159.42},
        ),
    ],
)
def test_nameplate_ratings_follow_the_rated_power(
    phases: int, rated_ac_w: float, expected: dict[str, float]
) -> None:
    image = get_map("sunspec", phases=phases).encode({**MAPS[phases], "rated_ac_w": rated_ac_w})
    nameplate = _sunspec_model(image, 120)
    assert nameplate.DERTyp.value == 4  # PV
    assert nameplate.WRtg.cvalue == pytest.approx(rated_ac_w)
    for name, value in expected.items():
        assert getattr(nameplate, name).cvalue == pytest.approx(value, abs=0.006), name
    # a PV inverter never draws active power: no reactive capability in quadrants 2 and 3
    assert (nameplate.VArRtgQ2.cvalue, nameplate.VArRtgQ3.cvalue) == (0, 0)
    power_factors = [getattr(nameplate, f"PFRtgQ{q}").cvalue for q in (1, 2, 3, 4)]
    assert power_factors == pytest.approx([0.8, 1.0, 1.0, -0.8])


@pytest.mark.parametrize("phases", [1, 3])
def test_without_a_rating_the_nameplate_reads_not_implemented(phases: int) -> None:
    image = get_map("sunspec", phases=phases).encode({**MAPS[phases], "rated_ac_w": None})
    nameplate = _sunspec_model(image, 120)
    assert nameplate.DERTyp.value == 4
    derived = [
        "WRtg",
        "VARtg",
        "ARtg",
        *(f"{k}Q{q}" for k in ("VArRtg", "PFRtg") for q in range(1, 5)),
    ]
    assert {name: getattr(nameplate, name).value for name in derived} == dict.fromkeys(derived)


@pytest.mark.parametrize(
    ("unit_id", "word"),
    [(1, 1), (7, 7), (247, 247), (0, 0), (255, 255), (None, 0xFFFF)],
)
def test_the_device_address_is_the_unit_id(unit_id: int | None, word: int) -> None:
    register_map = get_map("sunspec", phases=1)
    image = register_map.encode({**SINGLE_PHASE_VALUES, "unit_id": unit_id})
    assert image[40068] == word
    assert _sunspec_model(image, 1).DA.value == (None if unit_id is None else word)
    assert "unit_id" not in register_map.decode(image)  # the registry knows it


@pytest.mark.parametrize("unit_id", [-1, 256, 0xFFFF, True, 1.0, "1"])
def test_a_unit_id_that_is_not_one_is_refused(unit_id: object) -> None:
    with pytest.raises(RegisterMapError, match=r"unit_id=.* is not a Modbus unit id"):
        get_map("sunspec", phases=1).encode({"unit_id": unit_id})


@pytest.mark.parametrize("phases", [1, 3])
def test_the_manufacturer_is_what_the_device_says(phases: int) -> None:
    image = get_map("sunspec", phases=phases).encode({**MAPS[phases], "manufacturer": "Acme"})
    assert _sunspec_model(image, 1).Mn.value == "Acme"
