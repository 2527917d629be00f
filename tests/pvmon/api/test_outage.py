"""The database stopped under a running API: every request answers 503 problem+json at
once (no request waits on the pool), ``/health`` says only "unavailable" to an anonymous
caller, and the API recovers by itself when the database returns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from tests.conftest import stoppable_postgres
from tests.pvmon.api.conftest import served

_PATHS = ("/v1/fleet/summary", "/v1/stations", "/v1/inverters", "/health")


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server of this module's own, since the test stops and starts it."""
    with stoppable_postgres(migrated=True) as server:
        yield server


@pytest.fixture
def api(own_server: EmbeddedPostgres) -> Iterator[tuple[str, str, FastAPI]]:
    url = own_server.url()
    with psycopg.connect(url, autocommit=True) as conn:
        store_fleet(
            conn, FleetFile.model_validate(generate_fleet(households=3, village_stations=1))
        )
        _, key = create_key(conn, name="operator", role="operator")
    app = create_app(database_url=url, db_wait_s=1.0)
    with served(app) as base:
        yield base, key, app


async def _burst(base: str, key: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as http:
        return await asyncio.gather(*(http.get(_PATHS[i % len(_PATHS)]) for i in range(count)))


async def test_requests_answer_503_at_once_while_the_database_is_down_and_recover(
    own_server: EmbeddedPostgres, api: tuple[str, str, FastAPI]
) -> None:
    base, key, app = api
    assert {r.status_code for r in await _burst(base, key, 8)} == {200}
    await asyncio.to_thread(own_server.stop)
    try:
        # the first request finds the pool's connection broken: it waits at most
        # PVMON_API_DB_WAIT_S for another, then the circuit is open
        first = await _burst(base, key, 1)
        assert first[0].status_code == 503
        assert app.state.gate.down
        asked = app.state.pool.get_stats().get("requests_num", 0)
        started = time.monotonic()
        answers = await _burst(base, key, 50)
        elapsed = time.monotonic() - started
        # answered at once: not one of them waited on (or even asked) the pool, whatever
        # the machine's speed; the time is printed, not asserted
        assert app.state.pool.get_stats().get("requests_num", 0) == asked
        print(f"50 requests answered 503 in {elapsed:.2f} s")
    finally:
        await asyncio.to_thread(own_server.start)
    assert [r.status_code for r in answers] == [503] * 50
    for answer in answers:
        text = answer.text
        assert str(own_server.port) not in text and "127.0.0.1" not in text, text
        assert "connection" not in text.lower() and "psycopg" not in text, text
        if answer.request.url.path == "/health":
            assert answer.json() == {"status": "unavailable"}
        else:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"] == "the database is unavailable"
    # back by itself: the probe reconnects, broken pooled connections are replaced
    deadline = time.monotonic() + 60
    while True:
        statuses = {r.status_code for r in await _burst(base, key, 8)}
        if statuses == {200}:
            break
        assert statuses <= {200, 503} and time.monotonic() < deadline, statuses
        await asyncio.sleep(0.2)
