"""Reading fleet files (YAML, or CSV files of places/households/stations/inverters).

Every problem is reported with the file, the record (row number or list index and
code) and the field; all problems of a file are collected before anything is raised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from pvmon.errors import ValidationError
from pvmon.registry.models import (
    CountyRecord,
    FleetFile,
    HouseholdRecord,
    InverterRecord,
    LooseInverter,
    StationRecord,
    duplicate_codes,
)
from pvmon.safeyaml import DEFAULT_MAX_BYTES, load_yaml, read_text

__all__ = ["CSV_KINDS", "load_fleet_files"]

M = TypeVar("M", bound=BaseModel)

CSV_KINDS: dict[str, tuple[str, ...]] = {
    "places": (
        "county_code",
        "county_name",
        "township_code",
        "township_name",
        "village_code",
        "village_name",
    ),
    "households": ("file_no", "name", "village", "id_number"),
    "stations": ("code", "name", "kind", "capacity_kwp", "village", "latitude", "longitude"),
    "inverters": (
        "station",
        "serial",
        "vendor",
        "model",
        "rated_ac_w",
        "phases",
        "host",
        "port",
        "unit_id",
        "register_map",
    ),
}


def _describe(errors: PydanticValidationError) -> list[str]:
    out = []
    for error in errors.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(record)"
        given = error.get("input")
        shown = "" if isinstance(given, dict | list) else f" (given: {given!r})"
        out.append(f"field {field}: {error['msg']}{shown}")
    return out


def _validate(model: type[M], data: Any, where: str, problems: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems.extend(f"{where}: {p}" for p in _describe(exc))
        return None


def _label(data: Any, key: str) -> str:
    if isinstance(data, dict) and data.get(key):
        return f" ({key}={data[key]})"
    return ""


def _load_yaml(path: Path, problems: list[str], max_bytes: int) -> FleetFile:
    document = load_yaml(read_text(path, max_bytes=max_bytes), where=str(path))
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ValidationError(f"{path}: top level must be a mapping")
    unknown = set(document) - {"counties", "households", "stations"}
    if unknown:
        problems.append(f"{path}: unknown top-level keys {sorted(unknown)}")
    parts: dict[str, list[Any]] = {}
    for key, model, label in (
        ("counties", CountyRecord, "code"),
        ("households", HouseholdRecord, "file_no"),
        ("stations", StationRecord, "code"),
    ):
        items = document.get(key) or []
        if not isinstance(items, list):
            problems.append(f"{path}: {key} must be a list")
            continue
        parts[key] = [
            record
            for index, item in enumerate(items)
            if (
                record := _validate(
                    model, item, f"{path}: {key}[{index}]{_label(item, label)}", problems
                )
            )
            is not None
        ]
    fleet = FleetFile.model_construct(  # the records were checked one by one above
        counties=parts.get("counties", []),
        households=parts.get("households", []),
        stations=parts.get("stations", []),
        loose_inverters=[],
    )
    problems.extend(f"{path}: {problem}" for problem in duplicate_codes(fleet))
    return fleet


def _blank_to_none(row: dict[str, str]) -> dict[str, Any]:
    return {k: (v if v not in ("", None) else None) for k, v in row.items()}


def _csv_rows(path: Path, max_bytes: int) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    text = read_text(path, max_bytes=max_bytes)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = tuple(reader.fieldnames or ())
        rows = [(number, _blank_to_none(row)) for number, row in enumerate(reader, start=2)]
    except csv.Error as exc:
        raise ValidationError(f"{path}: cannot read CSV: {exc}") from exc
    kinds = [kind for kind, needed in CSV_KINDS.items() if set(needed) <= set(header)]
    if len(kinds) != 1:
        raise ValidationError(
            f"{path}: cannot tell what the CSV holds from its header {list(header)}; "
            + "; ".join(f"{k} needs {', '.join(v)}" for k, v in CSV_KINDS.items())
        )
    return kinds[0], rows


def _places(
    rows: Iterable[tuple[int, dict[str, Any]]], path: Path, problems: list[str]
) -> list[CountyRecord]:
    counties: dict[str, dict[str, Any]] = {}
    for number, row in rows:
        county = counties.setdefault(
            row["county_code"] or "",
            {
                "code": row["county_code"],
                "name": row["county_name"],
                "province": row.get("province"),
                "townships": {},
            },
        )
        township = county["townships"].setdefault(
            row["township_code"] or "",
            {"code": row["township_code"], "name": row["township_name"], "villages": []},
        )
        township["villages"].append(
            {"code": row["village_code"], "name": row["village_name"], "_row": number}
        )
    out = []
    for county in counties.values():
        county["townships"] = list(county["townships"].values())
        rows_of = [v.pop("_row") for t in county["townships"] for v in t["villages"]]
        where = f"{path}: rows {min(rows_of)}-{max(rows_of)} (county_code={county['code']})"
        if (record := _validate(CountyRecord, county, where, problems)) is not None:
            out.append(record)
    return out


def _split_shares(text: str | None) -> list[dict[str, str]]:
    if not text:
        return []
    shares = []
    for part in text.split(";"):
        village, _, weight = part.partition(":")
        shares.append({"village": village.strip(), "weight": weight.strip()})
    return shares


def _load_csv(
    path: Path,
    problems: list[str],
    into: dict[str, list[Any]],
    inverters: list[tuple[str, str, InverterRecord]],
    max_bytes: int,
) -> None:
    kind, rows = _csv_rows(path, max_bytes)
    if kind == "places":
        into["counties"].extend(_places(rows, path, problems))
        return
    convert: dict[str, tuple[type[BaseModel], str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
        "households": (HouseholdRecord, "file_no", _household_row),
        "stations": (StationRecord, "code", _station_row),
        "inverters": (InverterRecord, "serial", _inverter_row),
    }
    model, label, shape = convert[kind]
    for number, row in rows:
        where = f"{path}: row {number}{_label(row, label)}"
        record = _validate(model, shape(row), where, problems)
        if record is None:
            continue
        if kind == "inverters":
            assert isinstance(record, InverterRecord)
            inverters.append((where, row["station"], record))
        else:
            into[kind].append(record)


def _household_row(row: dict[str, Any]) -> dict[str, Any]:
    data = {
        k: v
        for k, v in row.items()
        if k not in ("entered_poverty_on", "left_poverty_on", "poverty_status")
    }
    if row.get("entered_poverty_on"):
        period = {"entered_on": row["entered_poverty_on"], "left_on": row.get("left_poverty_on")}
        if row.get("poverty_status"):
            period["status"] = row["poverty_status"]
        data["poverty"] = [period]
    return {k: v for k, v in data.items() if v is not None}


def _station_row(row: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in row.items() if v is not None and k != "shares"}
    data["shares"] = _split_shares(row.get("shares"))
    return data


def _inverter_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None and k != "station"}


def load_fleet_files(paths: Iterable[Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> FleetFile:
    """Read and validate fleet files of at most ``max_bytes`` [bytes] each into one
    :class:`FleetFile` (YAML without anchors, aliases or duplicate keys).

    Raises :class:`ValidationError` listing every problem found in every file.
    """
    problems: list[str] = []
    parts: dict[str, list[Any]] = {"counties": [], "households": [], "stations": []}
    loose_inverters: list[tuple[str, str, InverterRecord]] = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            loaded = _load_yaml(path, problems, max_bytes)
            parts["counties"].extend(loaded.counties)
            parts["households"].extend(loaded.households)
            parts["stations"].extend(loaded.stations)
        elif suffix == ".csv":
            _load_csv(path, problems, parts, loose_inverters, max_bytes)
        else:
            problems.append(f"{path}: unknown file type (use .yaml, .yml or .csv)")
    if problems:
        raise ValidationError(
            f"{len(problems)} problem(s) in fleet files:\n" + "\n".join(problems), problems
        )
    fleet = FleetFile.model_construct(
        counties=parts["counties"],
        households=parts["households"],
        stations=parts["stations"],
        loose_inverters=[
            LooseInverter(where=where, station=station, inverter=inverter)
            for where, station, inverter in loose_inverters
        ],
    )
    twice = [f"the files together: {problem}" for problem in duplicate_codes(fleet)]
    if twice:
        raise ValidationError(
            f"{len(twice)} problem(s) in fleet files:\n" + "\n".join(twice), twice
        )
    return fleet
