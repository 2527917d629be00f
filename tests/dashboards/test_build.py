"""Dashboards as code: the committed JSON is what the builders produce, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.build import DASHBOARDS, JSON_DIR, build_all, write_all
from dashboards.sql import DATASOURCE_TYPE, DATASOURCE_UID

_UIDS = {
    "fleet.json": "pvmon-fleet",
    "station.json": "pvmon-station",
    "inverter.json": "pvmon-inverter",
    "dividends.json": "pvmon-dividends",
}


def test_committed_json_is_regenerated_byte_for_byte() -> None:
    built = build_all()
    assert sorted(built) == sorted(p.name for p in JSON_DIR.glob("*.json"))
    for name, text in built.items():
        assert (JSON_DIR / name).read_bytes() == text.encode("utf-8"), (
            f"{name} is stale: run `pvmon dashboards build` and commit"
        )


def test_building_twice_gives_the_same_bytes() -> None:
    assert build_all() == build_all()


def test_write_all_reports_only_changed_files(tmp_path: Path) -> None:
    assert len(write_all(tmp_path)) == len(DASHBOARDS)
    assert write_all(tmp_path) == []
    (tmp_path / "fleet.json").write_text("{}", encoding="utf-8")
    assert write_all(tmp_path) == [tmp_path / "fleet.json"]


@pytest.mark.parametrize(("name", "uid"), sorted(_UIDS.items()))
def test_fixed_uid_stable_panel_ids_and_one_datasource(name: str, uid: str) -> None:
    model = json.loads(build_all()[name])
    assert model["uid"] == uid
    ids = [panel["id"] for panel in model["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    for panel in model["panels"]:
        assert panel["datasource"] == {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert target["rawSql"].strip()
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE_UID


@pytest.mark.parametrize(
    ("name", "variables"),
    [
        ("fleet.json", ["county", "township", "village", "station"]),
        ("station.json", ["county", "township", "village", "station"]),
        ("inverter.json", ["county", "township", "village", "station", "inverter"]),
        ("dividends.json", ["county", "township", "village", "run_status"]),
    ],
)
def test_template_variables(name: str, variables: list[str]) -> None:
    model = json.loads(build_all()[name])
    assert [v["name"] for v in model["templating"]["list"]] == variables


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("fleet.json", {"stat", "geomap", "table", "timeseries"}),
        ("station.json", {"timeseries", "table"}),
        ("inverter.json", {"stat", "state-timeline", "timeseries", "table"}),
        ("dividends.json", {"stat", "timeseries", "table"}),
    ],
)
def test_panel_kinds(name: str, required: set[str]) -> None:
    model = json.loads(build_all()[name])
    assert required <= {panel["type"] for panel in model["panels"]}
