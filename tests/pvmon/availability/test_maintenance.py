"""Maintenance windows through their doors: the API (operator role) and the CLI (acting
with an operator's key); a loss inside a window is attributed to maintenance."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.cli import app
from pvmon.registry import store_fleet
from tests.pvmon.availability.test_village import _fleet


def test_windows_by_api_and_cli_and_the_loss_inside_one(
    db_url: str, flavour: str, tmp_path: Path
) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage does not matter here")
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, _fleet())
        keys = {r: create_key(conn, name=r, role=r)[1] for r in ("viewer", "operator")}
        ids = [r[0] for r in conn.execute("SELECT id FROM inverters ORDER BY id")]
        sid = conn.execute("SELECT id FROM stations").fetchone()[0]  # type: ignore[index]
        conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, closed_at, reason)"
            " VALUES (%s, %s, 'no_output', '2025-06-10T02:00Z', '2025-06-10T03:00Z', 'x')",
            (ids[0], sid),
        )
    body = {"station": "AV-S1", "from": "2025-06-10T09:00+08:00", "to": "2025-06-10T12:00+08:00",
            "reason": "inverter 1 fan replaced"}  # fmt: skip
    with TestClient(create_app(database_url=db_url), raise_server_exceptions=False) as client:
        refused = client.post("/v1/maintenance", json=body, headers={"X-API-Key": keys["viewer"]})
        assert refused.status_code == 403
        bad = client.post(
            "/v1/maintenance",
            json={**body, "to": "2025-06-10T08:00+08:00"},
            headers={"X-API-Key": keys["operator"]},
        )
        assert bad.status_code == 422
        made = client.post("/v1/maintenance", json=body, headers={"X-API-Key": keys["operator"]})
        assert made.status_code == 201, made.text
        assert made.json()["created_by"] == "operator"
        got = client.get(
            "/v1/stations/AV-S1/availability",
            params={"from": "2025-06-10", "to": "2025-06-10"},
            headers={"X-API-Key": keys["viewer"]},
        ).json()
    assert [x["cause"] for x in got["losses"]] == ["maintenance"]
    assert got["maintenance"][0]["reason"] == "inverter 1 fan replaced"
    key_file = tmp_path / "operator.key"
    key_file.write_text(keys["operator"])
    env = {"PVMON_DATABASE_URL": db_url, "COLUMNS": "200"}
    args = ["maintenance", "add", "--station", "AV-S1", "--from", "2025-06-11T09:00+08:00",
            "--to", "2025-06-11T10:00+08:00", "--reason", "cleaning"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--key-file", str(key_file)], env=env)
    assert result.exit_code == 0, result.output
    assert "maintenance window" in result.output
    viewer_file = tmp_path / "viewer.key"
    viewer_file.write_text(keys["viewer"])
    result = CliRunner().invoke(app, [*args, "--key-file", str(viewer_file)], env=env)
    assert result.exit_code == 1 and "operate" in result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM maintenance_windows").fetchone() == (2,)
