from __future__ import annotations

import copy
from pathlib import Path

import psycopg
import pytest
import yaml

from pvmon.errors import ValidationError
from pvmon.registry import generate_fleet, load_fleet_files, store_fleet

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = (
        "counties",
        "townships",
        "villages",
        "households",
        "stations",
        "inverters",
        "station_village_shares",
        "household_poverty_periods",
    )
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_fleet_imports_and_reimport_changes_nothing(conn: psycopg.Connection) -> None:
    fleet = load_fleet_files([EXAMPLES / "demo-county.yaml"])
    first = store_fleet(conn, fleet)
    counts = _counts(conn)
    assert counts["townships"] == 3 and counts["villages"] == 12
    assert (
        conn.execute(
            "SELECT count(*) FROM stations WHERE kind = 'household' AND capacity_kwp = 4.32"
        ).fetchone()[0]
        == 200
    )  # type: ignore[index]
    assert (
        conn.execute(
            "SELECT count(*) FROM stations WHERE kind = 'village' AND capacity_kwp = 187.2"
        ).fetchone()[0]
        == 6
    )  # type: ignore[index]
    assert conn.execute("SELECT count(*) FROM station_village_shares").fetchone()[0] >= 2  # type: ignore[index]
    assert (
        conn.execute(
            "SELECT count(*) FROM households WHERE served_by_station_id IS NOT NULL"
        ).fetchone()[0]
        > 0
    )  # type: ignore[index]
    assert first.changed == sum(counts.values())
    xmins = conn.execute("SELECT array_agg(xmin::text ORDER BY id) FROM stations").fetchone()
    second = store_fleet(conn, load_fleet_files([EXAMPLES / "demo-county.yaml"]))
    assert second.changed == 0
    assert _counts(conn) == counts
    assert (
        conn.execute("SELECT array_agg(xmin::text ORDER BY id) FROM stations").fetchone() == xmins
    )


def test_changed_value_is_updated_not_duplicated(conn: psycopg.Connection, tmp_path: Path) -> None:
    fleet = generate_fleet(households=3, village_stations=1, joint_villages=2)
    path = _write(tmp_path, "f.yaml", yaml.safe_dump(fleet, allow_unicode=True))
    store_fleet(conn, load_fleet_files([path]))
    fleet["stations"][0]["name"] = "renamed"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    summary = store_fleet(conn, load_fleet_files([path]))
    assert summary.updated == {"stations": 1} or summary.updated.get("stations") == 1
    assert summary.changed == 1
    code = fleet["stations"][0]["code"]
    assert conn.execute("SELECT name FROM stations WHERE code = %s", (code,)).fetchone() == (
        "renamed",
    )


def _wrong_check(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


BAD_CASES = [
    # (what is broken, mutation, expected fragment of the message)
    (
        "bad ID number",
        lambda f: f["households"][1].update(
            id_number=_wrong_check(f["households"][1]["id_number"])
        ),
        "households[1] (file_no=LY0000002): field id_number",
    ),
    (
        "negative capacity",
        lambda f: f["stations"][0].update(capacity_kwp="-4.32"),
        "stations[0] (code=H000001): field capacity_kwp",
    ),
    (
        "port out of range",
        lambda f: f["stations"][0]["inverters"][0].update(port=70000),
        "stations[0] (code=H000001): field inverters.0.port",
    ),
    (
        "unknown framing",
        lambda f: f["stations"][0]["inverters"][0].update(framing="udp"),
        "field inverters.0.framing",
    ),
    (
        "household station without owner",
        lambda f: f["stations"][0].pop("owner_household"),
        "a household station needs owner_household",
    ),
    (
        "unknown field",
        lambda f: f["households"][0].update(nickname="x"),
        "households[0] (file_no=LY0000001): field nickname",
    ),
    (
        "unknown register map",
        lambda f: f["stations"][0]["inverters"][0].update(register_map="nope"),
        "field inverters.0.register_map: Value error, unknown register map 'nope': one of "
        "sunspec, huawei_sun2000, huawei_sun2000_lw",
    ),
    (
        "endpoint option not a number",
        lambda f: f["stations"][0]["inverters"][0].update(endpoint_options={"timeout_s": "abc"}),
        "field inverters.0.endpoint_options.timeout_s",
    ),
    (
        "negative endpoint option",
        lambda f: f["stations"][0]["inverters"][0].update(endpoint_options={"min_gap_s": -1}),
        "field inverters.0.endpoint_options.min_gap_s",
    ),
    (
        "unknown endpoint option",
        lambda f: f["stations"][0]["inverters"][0].update(endpoint_options={"retries": 3}),
        "field inverters.0.endpoint_options.retries",
    ),
    (
        "a station code twice",
        lambda f: f["stations"][2].update(code=f["stations"][0]["code"]),
        "stations[2]: station 'H000001' is given twice (also stations[0])",
    ),
    (
        "a household twice",
        lambda f: f["households"].append(copy.deepcopy(f["households"][0])),
        "household 'LY0000001' is given twice (also households[0])",
    ),
    (
        "an ID number twice (not echoed)",
        lambda f: f["households"][2].update(id_number=f["households"][0]["id_number"]),
        "households[2]: id_number is given twice (also households[0])",
    ),
    (
        "an inverter serial twice",
        lambda f: f["stations"][1]["inverters"][0].update(
            serial=f["stations"][0]["inverters"][0]["serial"]
        ),
        "stations[1].inverters[0]: inverter",
    ),
    (
        "a name with a newline",
        lambda f: f["households"][0].update(name="王\n小明"),
        "households[0] (file_no=LY0000001): field name",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_records_are_named_and_nothing_is_written(
    conn: psycopg.Connection,
    tmp_path: Path,
    case: str,
    mutate,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    fleet = generate_fleet(households=3, village_stations=1, joint_villages=2)
    mutate(fleet)
    path = _write(tmp_path, "bad.yaml", yaml.safe_dump(fleet, allow_unicode=True))
    with pytest.raises(ValidationError) as info:
        load_fleet_files([path])
    assert str(path) in str(info.value)
    assert expected in str(info.value)
    assert sum(_counts(conn).values()) == 0


def test_unknown_reference_is_named_and_nothing_is_written(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    fleet = generate_fleet(households=3, village_stations=1, joint_villages=2)
    fleet["stations"][1]["village"] = "NOWHERE"
    path = _write(tmp_path, "f.yaml", yaml.safe_dump(fleet, allow_unicode=True))
    with pytest.raises(
        ValidationError, match="station H000002: field village: unknown village 'NOWHERE'"
    ):
        store_fleet(conn, load_fleet_files([path]))
    assert sum(_counts(conn).values()) == 0


def test_duplicate_endpoint_is_rejected_whole(conn: psycopg.Connection, tmp_path: Path) -> None:
    fleet = generate_fleet(households=3, village_stations=1, joint_villages=2)
    first, second = fleet["stations"][0]["inverters"][0], fleet["stations"][1]["inverters"][0]
    second.update(port=first["port"], unit_id=first["unit_id"])
    path = _write(tmp_path, "f.yaml", yaml.safe_dump(fleet, allow_unicode=True))
    with pytest.raises(ValidationError, match="host, port, unit_id"):
        store_fleet(conn, load_fleet_files([path]))
    assert sum(_counts(conn).values()) == 0


PLACES = """county_code,county_name,province,township_code,township_name,village_code,village_name
C1,示范县,安徽省,T1,城关镇,V1,一村
C1,示范县,安徽省,T1,城关镇,V2,二村
"""
HOUSEHOLDS = """file_no,name,village,id_number,bank_account,entered_poverty_on
F1,张三,V1,11010519491231002X,6217000012345678901,2015-03-01
F2,李四,V2,440524188001010014,,2015-03-01
"""
STATIONS = """code,name,kind,capacity_kwp,village,latitude,longitude,owner_household,shares
S1,张三户用,household,4.32,V1,33.1,116.2,F1,
S2,联村站,joint,187.2,V1,33.1,116.2,,V1:93.6;V2:93.6
"""
INVERTERS = """station,serial,vendor,model,rated_ac_w,phases,host,port,unit_id,register_map,framing
S1,INV1,SunSpec,SS-4000,4000,1,127.0.0.1,1502,1,sunspec,tcp
S2,INV2,Huawei,SUN2000-50KTL,50000,3,127.0.0.1,1503,1,huawei_sun2000,rtu-over-tcp
"""


def test_csv_files_import(conn: psycopg.Connection, tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, n, t)
        for n, t in (
            ("places.csv", PLACES),
            ("households.csv", HOUSEHOLDS),
            ("stations.csv", STATIONS),
            ("inverters.csv", INVERTERS),
        )
    ]
    store_fleet(conn, load_fleet_files(paths))
    counts = _counts(conn)
    assert counts["villages"] == 2 and counts["inverters"] == 2
    assert counts["station_village_shares"] == 2
    assert store_fleet(conn, load_fleet_files(paths)).changed == 0


def test_csv_bad_row_is_named_by_row_number(tmp_path: Path) -> None:
    bad = HOUSEHOLDS.replace("440524188001010014", "440524188001010015")
    path = _write(tmp_path, "households.csv", bad)
    with pytest.raises(ValidationError) as info:
        load_fleet_files([path])
    assert f"{path}: row 3 (file_no=F2): field id_number" in str(info.value)


def test_csv_with_unknown_header_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "what.csv", "a,b\n1,2\n")
    with pytest.raises(ValidationError, match="cannot tell what the CSV holds"):
        load_fleet_files([path])


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    fleet = generate_fleet(households=3, village_stations=1, joint_villages=2)
    fleet["stations"][0]["latitude"] = 95
    fleet["stations"][1]["longitude"] = 200
    path = _write(tmp_path, "f.yaml", yaml.safe_dump(fleet, allow_unicode=True))
    with pytest.raises(ValidationError) as info:
        load_fleet_files([path])
    assert len(info.value.problems) == 2


def test_generator_scales_to_a_county() -> None:
    fleet = generate_fleet(households=17062)
    household_stations = [s for s in fleet["stations"] if s["kind"] == "household"]
    assert len(household_stations) == 17062
    endpoints = {
        (i["host"], i["port"], i["unit_id"]) for s in fleet["stations"] for i in s["inverters"]
    }
    assert len(endpoints) == sum(len(s["inverters"]) for s in fleet["stations"])
    ids = [h["id_number"] for h in fleet["households"]]
    assert len(set(ids)) == len(ids)  # the database refuses a duplicate ID number
    assert generate_fleet(households=50, seed=1) == generate_fleet(households=50, seed=1)
