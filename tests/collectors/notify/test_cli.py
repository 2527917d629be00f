"""``pvmon notify`` and ``pvmon alarms`` through the command line."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from pvmon.api.auth import create_key
from pvmon.cli import app
from tests.collectors.notify.conftest import Receiver
from tests.collectors.notify.test_end_to_end import ROUTES, _open, _village, at


def test_notify_checks_sends_once_and_alarms_are_listed_and_acked(
    db_url: str,
    flavour: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage does not matter to notifications")
    _, station, inverters, village = _village(db_url)
    alarm = _open(db_url, station=station, inverter=inverters[0], kind="offline", when=at(9, 0))
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        ROUTES.format(robot=receiver.url(""), mail=receiver.url("/office")), encoding="utf-8"
    )
    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    missing = runner.invoke(app, ["notify", "--routes", str(routes), "--check"])
    assert missing.exit_code == 1 and "TEST_ROBOT_TOKEN is not set" in missing.output
    monkeypatch.setenv("TEST_ROBOT_TOKEN", "s3cret-robot-token")
    checked = runner.invoke(app, ["notify", "--routes", str(routes), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "channel robot:" in checked.output and "s3cret" not in checked.output

    monkeypatch.setenv("PVMON_NOTIFY_ROUTES", str(routes))
    once = ["notify", "--once", "--at", "2025-06-02T09:05:00+08:00"]
    first = runner.invoke(app, once)
    assert first.exit_code == 0, first.output
    assert "made 2, sent 2" in first.output
    again = runner.invoke(app, once)
    assert again.exit_code == 0 and "made 0, sent 0" in again.output
    assert sorted((p["path"], p["title"]) for p in receiver.posts) == [
        ("/office", f"village {village}: 1 inverter offline"),
        ("/robot/s3cret-robot-token", f"village {village}: 1 inverter offline"),
    ]
    naive = runner.invoke(app, ["notify", "--once", "--at", "2025-06-02T09:05:00"])
    assert naive.exit_code == 1 and "offset" in naive.output

    with psycopg.connect(db_url, autocommit=True) as conn:
        viewer = create_key(conn, name="viewer", role="viewer")[1]
        operator = create_key(conn, name="night-shift", role="operator")[1]
    monkeypatch.setenv("PVMON_API_KEY", viewer)
    listed = runner.invoke(app, ["alarms", "list", "--status", "open"])
    assert listed.exit_code == 0, listed.output
    assert "offline" in listed.output
    refused = runner.invoke(app, ["alarms", "ack", str(alarm), "--comment", "x"])
    assert refused.exit_code == 1
    monkeypatch.setenv("PVMON_API_KEY", operator)
    acked = runner.invoke(app, ["alarms", "ack", str(alarm), "--comment", "on our way"])
    assert acked.exit_code == 0, acked.output
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT acknowledged_by, ack_comment, acknowledged_at IS NOT NULL FROM alarms"
            " WHERE id = %s",
            (alarm,),
        ).fetchone()
    assert row == ("night-shift", "on our way", True)
    nothing = runner.invoke(app, ["alarms", "ack", "999999", "--comment", "x"])
    assert nothing.exit_code == 1 and "not found" in nothing.output
