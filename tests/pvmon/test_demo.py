"""The demo answers at once: the API serves /health while history is still being written,
and the history's progress is printed as a few lines, not one per inverter."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from rich.console import Console

import pvmon.demo
from pvmon.backfill import backfill_readings
from pvmon.db.embedded import free_port
from pvmon.demo import PROGRESS_STEP_PERCENT, HistoryProgress, run_demo
from pvmon.quality import Quality
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from pvmon.settings import Settings
from tests.collectors.notify.conftest import Receiver, serving_receiver
from tests.ports import fleet_base_port

_GIVE_UP_S = 120.0  # a bound on waiting for a condition, never a timing assertion [s]


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + _GIVE_UP_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def _console(buffer: io.StringIO) -> Console:
    return Console(file=buffer, width=200, color_system=None)


def test_health_answers_while_history_is_still_being_written(
    conn: psycopg.Connection, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = FleetFile.model_validate(
        generate_fleet(
            households=3,
            village_stations=1,
            joint_villages=2,
            base_port=fleet_base_port(),
        )
    )
    store_fleet(conn, fleet)
    # the backfill is held at its start until the test has had its answer from /health
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def held_backfill(*args: Any, **kwargs: Any) -> int:
        entered.set()
        assert release.wait(_GIVE_UP_S), "never released"
        try:
            return backfill_readings(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(pvmon.demo, "backfill_readings", held_backfill)
    settings = Settings(data_dir=tmp_path, api_host="127.0.0.1", api_port=free_port())
    out, progress = io.StringIO(), io.StringIO()
    health_url = f"http://127.0.0.1:{settings.api_port}/health"

    async def scenario() -> dict[str, Any]:
        demo = asyncio.create_task(
            run_demo(
                settings=settings,
                url=db_url,
                owner_url=db_url,
                fleet=fleet,
                history_days=1,
                seed=5,
                console=_console(out),
                metrics_port=0,
                progress_console=_console(progress),
            )
        )
        try:
            await _until(lambda: entered.is_set() or demo.done(), "the backfill to start")
            assert not demo.done(), out.getvalue()
            async with httpx.AsyncClient() as client:
                answer = await client.get(health_url, timeout=30.0)
            assert not finished.is_set()  # /health answered while history was being written
            release.set()
            await _until(finished.is_set, "the backfill to finish")
            await _until(lambda: "simulated readings of history" in progress.getvalue(), "done")
            return {"status_code": answer.status_code, **answer.json()}
        finally:
            release.set()
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo

    health = asyncio.run(scenario())
    assert health["status_code"] == 200
    assert health["status"] == "ok"
    assert health["inverters"] == sum(len(s.inverters) for s in fleet.stations)
    lines = progress.getvalue().splitlines()
    assert lines[0].startswith("history: writing 1 days")
    assert any(line.startswith("history: 100 %") for line in lines)
    assert lines[-1].startswith("wrote ")
    simulated = conn.execute(
        "SELECT count(*) FROM readings WHERE quality & %s <> 0", (int(Quality.SIMULATED),)
    ).fetchone()
    assert simulated is not None and simulated[0] > 0
    assert "API: http://127.0.0.1" in out.getvalue()


def test_history_progress_prints_a_line_per_step_not_per_inverter() -> None:
    buffer = io.StringIO()
    ticks = iter(range(1000))
    progress = HistoryProgress(_console(buffer), days=30, clock=lambda: float(next(ticks)))
    for done in range(1, 222):
        progress(done, 221)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 100 // PROGRESS_STEP_PERCENT
    assert lines[0].startswith("history:  10 % (23/221 inverters, 30 days)")
    assert lines[-1].startswith("history: 100 % (221/221 inverters, 30 days)")
    percents = [int(line.split()[1]) for line in lines]
    assert percents == sorted(percents)


def test_history_progress_reports_the_end_even_off_a_step() -> None:
    buffer = io.StringIO()
    progress = HistoryProgress(_console(buffer), days=2, clock=lambda: 0.0)
    progress(3, 7)
    progress(7, 7)
    assert [line.split("(")[0].strip() for line in buffer.getvalue().splitlines()] == [
        "history:  42 %",
        "history: 100 %",
    ]


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    with serving_receiver() as got:
        yield got


def test_the_demo_tells_of_alarms_when_a_routing_file_is_set(
    conn: psycopg.Connection, db_url: str, tmp_path: Path, webhook: Receiver
) -> None:
    """With ``PVMON_NOTIFY_ROUTES`` set, ``pvmon demo`` runs the notifier beside the
    collector: an open alarm reaches the channel (a local webhook) while the demo runs."""
    fleet = FleetFile.model_validate(
        generate_fleet(households=2, village_stations=1, base_port=fleet_base_port())
    )
    store_fleet(conn, fleet)
    conn.execute(
        "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason)"
        " SELECT i.id, i.station_id, 'fault_code', now(), 'event 0x0040: ground fault'"
        "   FROM inverters i ORDER BY i.id LIMIT 1"
    )
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        f"channels:\n  robot: {webhook.url('/robot')}\n"
        "rules:\n  - name: every-alarm\n    match: {}\n    channels: [robot]\n"
        "    urgent: true\n    group_window: 0s\n",
        encoding="utf-8",
    )
    settings = Settings(
        data_dir=tmp_path, api_host="127.0.0.1", api_port=free_port(), notify_routes=routes,
        notify_interval_s=0.2,
    )  # fmt: skip
    out = io.StringIO()
    metrics_port = free_port()

    async def scenario() -> str:
        demo = asyncio.create_task(
            run_demo(
                settings=settings,
                url=db_url,
                owner_url=db_url,
                fleet=fleet,
                history_days=0,
                seed=5,
                console=_console(out),
                metrics_port=metrics_port,
            )
        )
        try:
            await _until(lambda: bool(webhook.posts) or demo.done(), "the alarm to be told")
            assert not demo.done(), out.getvalue()
            async with httpx.AsyncClient() as client:
                for _ in range(600):  # the counter follows the post by a moment
                    metrics = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                    if 'outcome="sent"' in metrics:
                        break
                    await asyncio.sleep(0.1)
            return metrics
        finally:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo

    metrics = asyncio.run(scenario())
    assert "notifier: 1 channels, 1 rules" in out.getvalue()
    assert 'pvmon_notifications_total{channel="robot",outcome="sent"} 1.0' in metrics
    (post,) = webhook.posts
    assert post["path"] == "/robot" and "fault" in (post["title"] + post["message"]).lower()
