"""A busy API is not a down database: with every connection (or every heavy slot) in use,
a request waits briefly and answers 503 with Retry-After, the circuit stays closed, and
the next request once a connection is free answers at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pvmon.api import create_app
from tests.pvmon.api.conftest import ApiWorld


@pytest.fixture
def busy_app(world: ApiWorld) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    app = create_app(database_url=world.url, pool_size=2, heavy_requests=1, db_wait_s=0.2)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, {"X-API-Key": world.keys["operator"]}


def test_every_connection_busy_answers_503_with_retry_after_and_recovers(
    busy_app: tuple[FastAPI, TestClient, dict[str, str]],
) -> None:
    app, client, key = busy_app
    assert client.get("/v1/alarms", headers=key).status_code == 200
    pool = app.state.pool
    held = [pool.getconn(timeout=5) for _ in range(pool.max_size)]  # other requests' share
    try:
        busy = client.get("/v1/alarms", headers=key)
        health = client.get("/health")
    finally:
        for conn in held:
            pool.putconn(conn)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "every database connection is busy" in busy.json()["detail"]
    assert health.status_code == 503 and health.json() == {"status": "busy"}
    assert health.headers["retry-after"] == "1"
    assert not app.state.gate.down  # busy is not down: no circuit, no probe
    assert client.get("/v1/alarms", headers=key).status_code == 200  # at once again


def test_heavy_requests_cannot_take_the_connections_light_ones_need(
    busy_app: tuple[FastAPI, TestClient, dict[str, str]],
) -> None:
    app, client, key = busy_app
    with app.state.heavy.take():  # another heavy request is running
        summary = client.get("/v1/fleet/summary", headers=key)
        light = client.get("/v1/stations", headers=key)
    assert summary.status_code == 503 and summary.headers["retry-after"] == "1"
    assert "heavy requests are running" in summary.json()["detail"]
    assert light.status_code == 200  # a light request still finds a connection
    assert client.get("/v1/fleet/summary", headers=key).status_code == 200


@pytest.mark.parametrize(("pool_size", "heavy", "slots"), [(10, 4, 4), (2, 4, 2), (1, 1, 1)])
def test_heavy_slots_never_exceed_the_pool(
    world: ApiWorld, pool_size: int, heavy: int, slots: int
) -> None:
    app = create_app(database_url=world.url, pool_size=pool_size, heavy_requests=heavy)
    assert app.state.heavy.size == slots
