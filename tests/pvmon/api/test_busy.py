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


def test_overload_waits_in_line_without_a_thread_then_answers_503(world: ApiWorld) -> None:
    """More requests than connections: as many as the pool holds are served, the rest wait
    their turn in the event loop and then answer 503 with Retry-After (not the pool's
    timeout on a thread: requests holding threads and requests holding connections would
    wait on each other); the ones served finish once the database lets them."""
    import concurrent.futures

    import httpx
    import psycopg

    from tests.pvmon.api.conftest import served

    app = create_app(database_url=world.url, pool_size=2, db_wait_s=1.0)
    key = {"X-API-Key": world.keys["operator"]}
    with served(app) as base, psycopg.connect(world.url) as blocker:
        assert httpx.get(f"{base}/v1/alarms", headers=key, timeout=30).status_code == 200
        app.state.pool.resize(min_size=2)  # both connections open before the rush: a
        app.state.pool.wait(timeout=60)  # connection made during it is not what is tested
        blocker.execute("LOCK TABLE alarms IN ACCESS EXCLUSIVE MODE")  # alarms wait for it
        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            answers = [
                ex.submit(httpx.get, f"{base}/v1/alarms", headers=key, timeout=60)
                for _ in range(12)
            ]
            refused = []
            while len(refused) < 10:  # the ten beyond the pool are answered while two wait
                done, _pending = concurrent.futures.wait(
                    [a for a in answers if a not in refused],
                    return_when=concurrent.futures.FIRST_COMPLETED,
                    timeout=60,
                )
                refused.extend(done)
            blocker.rollback()  # the two being served go on
            results = [a.result() for a in answers]
        health = httpx.get(f"{base}/health", timeout=30)
    busy = [r for r in results if r.status_code == 503]
    assert sorted(r.status_code for r in results) == [200] * 2 + [503] * 10
    assert {r for r in busy} == {a.result() for a in refused}
    assert all(r.headers["retry-after"] == "1" for r in busy)
    assert all("2 requests are being served" in r.json()["detail"] for r in busy)
    assert not app.state.gate.down and health.status_code == 200
