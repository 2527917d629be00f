"""A simulated village's alarms reach county staff: one grouped message per alarm per
channel on a local robot webhook and a local SMTP server, quiet hours, escalation
(acknowledged alarms excepted), resolve messages, and a receiver that hangs delays
nothing but its own message. Time is the test's clock; the notifier is the one
``pvmon notify`` builds (:func:`pvmon.alarms_cli.notifier_for`)."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from rich.console import Console
from typer.testing import CliRunner

from collectors.notify.service import Notifier
from collectors.runner import collect_once
from collectors.service import parse_shard
from pvmon.alarms_cli import load_notify_routes, notifier_for
from pvmon.api.auth import create_key
from pvmon.cli import app
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from pvmon.settings import load_settings
from simulators.clock import SimClock
from simulators.fleet import build_endpoints, device_specs
from simulators.server import FleetServer
from tests.collectors.notify.conftest import Mailbox, Receiver
from tests.ports import fleet_base_port

CST = ZoneInfo("Asia/Shanghai")
DAY = datetime(2025, 6, 2, tzinfo=CST)


def at(hh: int, mm: int, ss: int = 0, *, days: int = 0) -> datetime:
    return (DAY + timedelta(days=days, hours=hh, minutes=mm, seconds=ss)).astimezone(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = at(8, 0)

    def __call__(self) -> datetime:
        return self.now


ROUTES = """
channels:
  robot: {robot}/robot/${{TEST_ROBOT_TOKEN}}
  office-mail: {mail}
rules:
  - name: village-stations
    match: {{county: [LY], station_kind: [village], alarm_kind: [offline, fault_code]}}
    channels: [robot, office-mail]
    quiet_hours: "22:00-07:00"
    group_window: 2m
    escalate_after: 2h
    escalate_to: [office-mail]
"""


def _village(db_url: str) -> tuple[FleetFile, int, list[int], str]:
    fleet = FleetFile.model_validate(
        generate_fleet(households=1, village_stations=1, base_port=fleet_base_port())
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        store_fleet(conn, fleet)
        row = conn.execute(
            "SELECT s.id, v.name FROM stations s JOIN villages v ON v.id = s.village_id"
            " WHERE s.kind = 'village' ORDER BY s.id LIMIT 1"
        ).fetchone()
        assert row is not None
        inverters = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM inverters WHERE station_id = %s ORDER BY id", (row[0],)
            )
        ]
    return fleet, row[0], inverters, row[1]


def _open(db_url: str, *, station: int, inverter: int, kind: str, when: datetime) -> int:
    """An alarm stored as ``collectors.service`` stores it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason, details)"
            " VALUES (%s, %s, %s, %s, %s, '{}') RETURNING id",
            (inverter, station, kind, when, f"{kind}: simulated"),
        ).fetchone()
        assert row is not None
        return int(row[0])


def _close(db_url: str, alarm_id: int, when: datetime) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alarms SET closed_at = %s, close_reason = 'answers again' WHERE id = %s",
            (when, alarm_id),
        )


def _notifier(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, routes: str, clock: Clock
) -> Notifier:
    monkeypatch.setenv("TEST_ROBOT_TOKEN", "s3cret-robot-token")
    path = tmp_path / "routes.yaml"
    path.write_text(routes, encoding="utf-8")
    settings = load_settings(
        notify_routes=path, notify_send_timeout_s=1.0, notify_retry_base_s=60.0
    )
    notifier = notifier_for(settings, url=db_url, routes=load_notify_routes(settings))
    notifier.clock = clock
    return notifier


def _alarm_ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"alarm (\d+)\)", text)]


async def test_a_village_morning_reaches_robot_and_mail_once_per_alarm(
    db_url: str,
    flavour: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    mailbox: Mailbox,
) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage does not matter to notifications")
    _, station, inverters, village = _village(db_url)
    assert len(inverters) >= 3
    clock = Clock()
    notifier = _notifier(
        db_url,
        tmp_path,
        monkeypatch,
        ROUTES.format(robot=receiver.url(""), mail=mailbox.url()),
        clock,
    )

    async def tick(when: datetime) -> None:
        clock.now = when
        result = await notifier.tick()
        assert result.retrying == result.failed == 0

    # 09:00 one inverter faults; the message waits out the grouping window
    fault = _open(db_url, station=station, inverter=inverters[0], kind="fault_code", when=at(9, 0))
    await tick(at(9, 1))
    assert receiver.posts == [] and mailbox.mails == []
    await tick(at(9, 2))
    assert [p["title"] for p in receiver.posts] == [f"village {village}: 1 inverter in fault"]
    assert [m["subject"] for m in mailbox.mails] == [f"village {village}: 1 inverter in fault"]
    assert receiver.posts[0]["path"] == "/robot/s3cret-robot-token"

    # 10:00 the logger loses its communication: its inverters go offline within a minute
    offline = [
        _open(db_url, station=station, inverter=inv, kind="offline", when=at(10, 0, 20 * i))
        for i, inv in enumerate(inverters)
    ]
    n = len(inverters)
    for minute in (1, 2, 3, 4):  # the notifier looks often; each alarm is told once
        await tick(at(10, minute))
    assert [p["title"] for p in receiver.posts][1:] == [f"village {village}: {n} inverters offline"]
    assert [m["subject"] for m in mailbox.mails][1:] == [
        f"village {village}: {n} inverters offline"
    ]
    assert sorted(_alarm_ids(receiver.posts[1]["message"])) == sorted(offline)

    # an operator acknowledges one offline alarm from the command line
    with psycopg.connect(db_url, autocommit=True) as conn:
        key = create_key(conn, name="duty-operator", role="operator")[1]
    monkeypatch.setenv("PVMON_DATABASE_URL", db_url)
    monkeypatch.setenv("PVMON_API_KEY", key)
    done = CliRunner().invoke(app, ["alarms", "ack", str(offline[1]), "--comment", "crew sent"])
    assert done.exit_code == 0, done.output
    assert "acknowledged by duty-operator" in done.output

    # 11:00 the fault is two hours old and unacknowledged: escalated to the office, once
    await tick(at(11, 0))
    await tick(at(11, 30))
    escalated = [m for m in mailbox.mails if m["subject"].startswith("ESCALATED")]
    assert [_alarm_ids(m["body"]) for m in escalated] == [[fault]]
    # 12:01 the offline alarms escalate, all but the acknowledged one
    await tick(at(12, 1))
    escalated = [m for m in mailbox.mails if m["subject"].startswith("ESCALATED")]
    assert len(escalated) == 2
    assert sorted(_alarm_ids(escalated[1]["body"])) == sorted(set(offline) - {offline[1]})
    assert not any(p["title"].startswith("ESCALATED") for p in receiver.posts)

    # 12:30 the logger answers again: one resolve message per channel follows
    for alarm in offline:
        _close(db_url, alarm, at(12, 30))
    await tick(at(12, 31))
    await tick(at(12, 32))
    await tick(at(12, 40))
    resolved = f"resolved: village {village}: {n} inverters offline"
    assert [p["title"] for p in receiver.posts if p["title"].startswith("resolved")] == [resolved]
    assert [m["subject"] for m in mailbox.mails if m["subject"].startswith("resolved")] == [
        resolved
    ]

    # 23:00 an inverter goes offline in quiet hours: queued, delivered at 07:00
    night = _open(db_url, station=station, inverter=inverters[1], kind="offline", when=at(23, 0))
    before = (len(receiver.posts), len(mailbox.mails))
    await tick(at(23, 5))
    await tick(at(6, 59, days=1))
    assert (len(receiver.posts), len(mailbox.mails)) == before
    await tick(at(7, 0, days=1))
    assert receiver.posts[-1]["title"] == f"village {village}: 1 inverter offline"
    assert _alarm_ids(receiver.posts[-1]["message"]) == [night]

    # exactly one message per alarm, channel and event
    told: Counter[tuple[str, str, int]] = Counter()
    for p in receiver.posts:
        event = p["title"].split(":")[0] if ":" in p["title"] else "opened"
        for alarm in _alarm_ids(p["message"]):
            told[("robot", event, alarm)] += 1
    for m in mailbox.mails:
        for alarm in _alarm_ids(m["body"]):
            told[("mail", m["subject"].split(":")[0], alarm)] += 1
    assert set(told.values()) == {1}
    # the log says the same, and no secret is in it
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(sent_at), max(attempts), bool_or(body LIKE '%s3cret%')"
            " FROM notifications"
        ).fetchone()
    assert rows == (len(receiver.posts) + len(mailbox.mails),) * 2 + (1, False)
    notifier.close()


async def test_a_hanging_receiver_delays_nothing_but_its_own_message(
    db_url: str,
    flavour: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
    mailbox: Mailbox,
) -> None:
    if flavour == "timescaledb":
        pytest.skip("storage does not matter to notifications")
    fleet, station, inverters, village = _village(db_url)
    clock = Clock()
    notifier = _notifier(
        db_url,
        tmp_path,
        monkeypatch,
        ROUTES.format(robot=receiver.url("/hang"), mail=mailbox.url()),
        clock,
    )
    noon = datetime(2025, 6, 1, 12, tzinfo=CST)
    simulator = FleetServer(
        build_endpoints(device_specs(fleet), seed=4, start=noon), clock=SimClock(start=noon)
    )
    await simulator.start()
    order: list[str] = []
    try:
        _open(db_url, station=station, inverter=inverters[0], kind="fault_code", when=at(9, 0))
        clock.now = at(9, 2)
        looking = asyncio.create_task(notifier.tick())
        assert await asyncio.to_thread(receiver.hung.wait, 60), "the robot never got the post"
        # the robot hangs: a collector cycle in the same event loop polls every inverter
        silent = await collect_once(
            url=db_url,
            spool_dir=tmp_path / "spool",
            spool_max_bytes=10_000_000,
            shard=parse_shard(None),
            timeout_s=5.0,
            console=Console(file=io.StringIO()),
        )
        order.append("collector cycle done")
        assert silent == 0
        assert not looking.done()
        result = await asyncio.wait_for(looking, timeout=60)
        order.append("notifier look done")
    finally:
        await simulator.stop()
    assert order == ["collector cycle done", "notifier look done"]
    assert (result.sent, result.retrying, result.failed) == (1, 1, 0)  # the mail went
    assert [m["subject"] for m in mailbox.mails] == [f"village {village}: 1 inverter in fault"]
    with psycopg.connect(db_url) as conn:
        readings = conn.execute(
            "SELECT (SELECT count(*) FROM readings) = (SELECT count(*) FROM inverters)"
        ).fetchone()
        row = conn.execute(
            "SELECT attempts, last_error, next_attempt_at, sent_at FROM notifications"
            " WHERE channel = 'robot'"
        ).fetchone()
    assert readings == (True,)  # every inverter answered and was stored
    assert row is not None
    assert row[0] == 1 and row[3] is None
    # apprise's own read timeout (set to the per-send timeout) ends the attempt
    assert "connection error" in row[1].lower() and "s3cret" not in row[1]
    assert row[2] == at(9, 2) + timedelta(seconds=60)
    # the robot answers again: tried once more after the backoff, delivered, not doubled
    receiver.release.set()
    clock.now = at(9, 2, 59)
    assert (await notifier.tick()).sent == 0
    clock.now = at(9, 3)
    again: Any = await notifier.tick()
    assert (again.sent, again.retrying) == (1, 0)
    assert [p["title"] for p in receiver.posts] == [f"village {village}: 1 inverter in fault"]
    assert len(mailbox.mails) == 1
    notifier.close()
